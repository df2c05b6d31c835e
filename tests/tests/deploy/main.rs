//! `cargo xtask deploy`, `promote`, `rollback` and `deployments`, run for real: the xtask
//! binary runs the real wrangler from node_modules, which talks to a fake of the Cloudflare
//! API on loopback (`fake.rs`) through `CLOUDFLARE_API_BASE_URL`. Each test has its own
//! fake and its own scratch worker (a tiny prebuilt `build/`, deployed with `--no-build`).
//!
//! `#[ignore]`d in a plain `cargo test` (they need node_modules); `cargo xtask test` runs
//! them, or alone: `cargo test -p duro-tests --test deploy -- --ignored`.

mod fake;
#[path = "../support/run.rs"]
mod run;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use fake::{Event, FakeApi, Step};
use run::run;

/// How long one xtask command may take (it runs wrangler a few times).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long building the xtask binary may take, once.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

const V1_MIGRATIONS: &str = "[[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"Thing\"]\n";

fn root() -> PathBuf {
    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_dir.parent().unwrap_or(tests_dir).to_path_buf()
}

/// The version id the fake gives its `n`th version.
fn v(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A scratch worker folder: a Cargo.toml with a size budget, a wrangler.toml with one
/// SQLite class, its KV index binding and `[[migrations]]`, and a tiny prebuilt `build/`.
struct ScratchApp {
    dir: tempfile::TempDir,
}

impl ScratchApp {
    fn new() -> ScratchApp {
        let dir = tempfile::Builder::new()
            .prefix("duro-deploy-")
            .tempdir()
            .expect("create a scratch app");
        let app = ScratchApp { dir };
        app.write(
            "Cargo.toml",
            "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\n\n\
             [package.metadata.duro]\nsize-budget-gzip = \"1 KiB\"\n",
        );
        app.set_migrations(V1_MIGRATIONS);
        app.write(
            "build/index.js",
            "export class Thing { async fetch() { return new Response('thing'); } }\n\
             export default { async fetch() { return new Response('ok'); } };\n",
        );
        app.write("build/index_bg.wasm", "\0asm\x01\0\0\0");
        app
    }

    fn write(&self, file: &str, text: &str) {
        let path = self.dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }

    /// Rewrites wrangler.toml with these `[[migrations]]`.
    fn set_migrations(&self, migrations: &str) {
        self.write(
            "wrangler.toml",
            &format!(
                "name = \"scratch\"\nmain = \"build/index.js\"\ncompatibility_date = \"2025-09-01\"\n\n\
                 [build]\ncommand = \"false\"\n\n\
                 [[durable_objects.bindings]]\nname = \"THING\"\nclass_name = \"Thing\"\n\n\
                 [[kv_namespaces]]\nbinding = \"INDEX\"\nid = \"00000000000000000000000000000000\"\n\n\
                 {migrations}"
            ),
        );
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

/// The xtask binary, built once.
fn xtask_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.current_dir(root()).args([
            "build",
            "--quiet",
            "-p",
            "xtask",
            "--message-format=json",
        ]);
        let (ok, output) = run(command, BUILD_TIMEOUT);
        assert!(ok, "cargo build -p xtask failed:\n{output}");
        output
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["target"]["name"] == "xtask")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo build printed the xtask executable")
    })
}

/// Runs `cargo xtask <args>` against `api`; returns success and its whole output.
fn xtask(api: &FakeApi, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(xtask_binary());
    command
        .args(args)
        .current_dir(root())
        .env("CLOUDFLARE_API_BASE_URL", api.base_url())
        .env("CLOUDFLARE_API_TOKEN", "fake-token")
        .env("CLOUDFLARE_ACCOUNT_ID", fake::ACCOUNT)
        .env("WRANGLER_SEND_METRICS", "false");
    let (ok, output) = run(command, COMMAND_TIMEOUT);
    eprintln!("$ cargo xtask {}\n{output}", args.join(" "));
    (ok, output)
}

/// `xtask` that must succeed.
fn ok(api: &FakeApi, args: &[&str]) -> String {
    let (ok, output) = xtask(api, args);
    assert!(ok, "`cargo xtask {}` failed:\n{output}", args.join(" "));
    output
}

/// `xtask` that must fail; returns its output.
fn refused(api: &FakeApi, args: &[&str]) -> String {
    let (ok, output) = xtask(api, args);
    assert!(
        !ok,
        "`cargo xtask {}` should have failed:\n{output}",
        args.join(" ")
    );
    output
}

fn upload(n: u64, migrations: &str) -> Event {
    Event::Upload {
        id: v(n),
        tag: Some(format!("migrations={migrations}")),
        migrations: false,
    }
}

fn split(versions: &[(u64, u32)]) -> Event {
    Event::Deployment(versions.iter().map(|(n, p)| (v(*n), *p)).collect())
}

/// The first deploy, in full: version 1 at 100 %, migrations at `v1`.
fn first_deploy(api: &FakeApi, app: &ScratchApp) {
    ok(
        api,
        &[
            "deploy",
            app.path(),
            "--full",
            "--no-build",
            "--message",
            "first",
        ],
    );
    assert_eq!(
        api.take_events(),
        [Event::FullDeploy {
            id: v(1),
            migration_tag: Some("v1".to_owned())
        }]
    );
}

#[test]
#[ignore = "runs wrangler from node_modules; `cargo xtask test` runs it"]
fn deploy_canary_promote_rollback() {
    let api = FakeApi::start();
    let app = ScratchApp::new();
    let path = app.path();

    // No worker yet: a canary has nothing to split with.
    let out = refused(&api, &["deploy", path, "--canary", "10", "--no-build"]);
    assert!(
        out.contains("has no deployment yet") && out.contains("--full"),
        "{out}"
    );
    assert_eq!(api.take_events(), []);
    first_deploy(&api, &app);

    // Without --canary: a new version at 100 %.
    let out = ok(&api, &["deploy", path, "--no-build"]);
    assert!(out.contains(&format!("{} at 100 %", v(2))), "{out}");
    assert_eq!(api.take_events(), [upload(2, "v1"), split(&[(2, 100)])]);

    // A canary: the new version at 10 %, the current one at 90 %.
    api.take_writes();
    let out = ok(&api, &["deploy", path, "--canary", "10", "--no-build"]);
    assert!(
        out.contains(&format!("{} at 10 %, {} at 90 %", v(3), v(2))),
        "{out}"
    );
    assert!(out.contains("cargo xtask promote"), "{out}");
    assert_eq!(
        api.take_events(),
        [upload(3, "v1"), split(&[(3, 10), (2, 90)])]
    );
    // What wrangler sent, besides reads: one upload, one deployment.
    assert_eq!(
        api.take_writes(),
        [
            "POST scratch/versions?bindings_inherit=strict",
            "POST scratch/deployments?"
        ]
    );

    // Not another canary on top of a split.
    let out = refused(&api, &["deploy", path, "--canary", "10", "--no-build"]);
    assert!(out.contains("a split is in progress"), "{out}");
    assert_eq!(api.take_events(), []);

    let out = ok(&api, &["deployments", path]);
    assert!(out.contains(&format!(" 10 %  {}", v(3))), "{out}");
    assert!(out.contains(&format!(" 90 %  {}", v(2))), "{out}");
    assert!(out.contains(&v(1)), "{out}");

    // Promote: the newest version to 100 %; again: nothing to do.
    ok(&api, &["promote", path]);
    assert_eq!(api.take_events(), [split(&[(3, 100)])]);
    let out = ok(&api, &["promote", path]);
    assert!(out.contains("nothing to promote"), "{out}");
    assert_eq!(api.take_events(), []);

    // Rollback from a full deployment: the version that served before.
    ok(&api, &["rollback", path]);
    assert_eq!(api.take_events(), [split(&[(2, 100)])]);

    // Rollback during a canary: the version the canary split with.
    ok(&api, &["deploy", path, "--canary", "25", "--no-build"]);
    assert_eq!(
        api.take_events(),
        [upload(4, "v1"), split(&[(4, 25), (2, 75)])]
    );
    api.take_writes();
    ok(&api, &["rollback", path]);
    assert_eq!(api.take_events(), [split(&[(2, 100)])]);
    assert_eq!(api.take_writes(), ["POST scratch/deployments?"]);

    // Rollback to a named version.
    ok(&api, &["rollback", path, &v(3)]);
    assert_eq!(api.take_events(), [split(&[(3, 100)])]);
    assert_eq!(api.current(), [(v(3), 100)]);
}

#[test]
#[ignore = "runs wrangler from node_modules; `cargo xtask test` runs it"]
fn a_migrations_change_refuses_a_canary_and_goes_out_in_full() {
    let api = FakeApi::start();
    let app = ScratchApp::new();
    let path = app.path();
    first_deploy(&api, &app);

    app.set_migrations(&format!(
        "{V1_MIGRATIONS}\n[[migrations]]\ntag = \"v2\"\nnew_sqlite_classes = [\"Other\"]\n"
    ));
    for args in [
        &["deploy", path, "--canary", "10", "--no-build"][..],
        &["deploy", path, "--no-build"][..],
    ] {
        let out = refused(&api, args);
        assert!(out.contains("[[migrations]]"), "{out}");
        assert!(
            out.contains("end at `v2`") && out.contains("is at `v1`"),
            "{out}"
        );
        assert!(out.contains("new_sqlite_classes [\"Other\"]"), "{out}");
        assert!(out.contains("--full"), "{out}");
        assert_eq!(api.take_events(), [], "{out}");
    }
    assert_eq!(api.current(), [(v(1), 100)]);

    ok(&api, &["deploy", path, "--full", "--no-build"]);
    assert_eq!(
        api.take_events(),
        [Event::FullDeploy {
            id: v(2),
            migration_tag: Some("v2".to_owned())
        }]
    );
    assert_eq!(api.migration_tag().as_deref(), Some("v2"));

    // Now the migrations match again: canaries are allowed.
    ok(&api, &["deploy", path, "--canary", "10", "--no-build"]);
    assert_eq!(
        api.take_events(),
        [upload(3, "v2"), split(&[(3, 10), (2, 90)])]
    );

    // A rollback across the migration is refused (objects stay migrated).
    let out = refused(&api, &["rollback", path, &v(1)]);
    assert!(out.contains("migrations do not roll back"), "{out}");
    assert_eq!(api.take_events(), []);
}

#[test]
#[ignore = "runs wrangler from node_modules; `cargo xtask test` runs it"]
fn failed_steps_leave_the_deployment_as_it_was() {
    let api = FakeApi::start();
    let app = ScratchApp::new();
    let path = app.path();
    first_deploy(&api, &app);

    // The upload succeeds, the split fails: reported with the version id, nothing moved.
    api.fail(Step::Split);
    let out = refused(&api, &["deploy", path, "--canary", "10", "--no-build"]);
    assert!(
        out.contains(&format!(
            "version {} was uploaded but the split failed",
            v(2)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("no traffic moved (now: {} at 100 %)", v(1))),
        "{out}"
    );
    assert_eq!(
        api.take_events(),
        [upload(2, "v1"), Event::Failed(Step::Split)]
    );
    assert_eq!(api.current(), [(v(1), 100)]);

    // The upload fails: nothing uploaded, nothing deployed.
    api.fail(Step::Upload);
    let out = refused(&api, &["deploy", path, "--canary", "10", "--no-build"]);
    assert!(
        out.contains("the upload failed: nothing was deployed"),
        "{out}"
    );
    assert_eq!(api.take_events(), [Event::Failed(Step::Upload)]);

    // A full deploy fails: as it was.
    api.fail(Step::FullDeploy);
    app.set_migrations(&format!(
        "{V1_MIGRATIONS}\n[[migrations]]\ntag = \"v2\"\ndeleted_classes = [\"Gone\"]\n"
    ));
    let out = refused(&api, &["deploy", path, "--full", "--no-build"]);
    assert!(
        out.contains(&format!("as it was (now: {} at 100 %)", v(1))),
        "{out}"
    );
    assert_eq!(api.take_events(), [Event::Failed(Step::FullDeploy)]);
    assert_eq!(api.current(), [(v(1), 100)]);
    assert_eq!(api.migration_tag().as_deref(), Some("v1"));
}

#[test]
#[ignore = "runs wrangler from node_modules; `cargo xtask test` runs it"]
fn over_budget_and_dry_runs_change_nothing() {
    let api = FakeApi::start();
    let app = ScratchApp::new();
    let path = app.path();

    let out = ok(&api, &["deploy", path, "--full", "--no-build", "--dry-run"]);
    assert!(
        out.contains("dry run") && out.contains("wrangler deploy"),
        "{out}"
    );
    first_deploy(&api, &app);
    let out = ok(
        &api,
        &["deploy", path, "--canary", "5", "--no-build", "--dry-run"],
    );
    assert!(out.contains("versions upload"), "{out}");
    assert!(
        out.contains(&format!("versions deploy <new>@5 {}@95", v(1))),
        "{out}"
    );
    assert_eq!(api.take_events(), []);

    // Over the 1 KiB budget: refused before wrangler runs.
    let noise: String = (0..4096u32)
        .map(|i| char::from(b'!' + (i.wrapping_mul(2_654_435_761) >> 24) as u8 % 90))
        .collect();
    app.write("build/index_bg.wasm", &noise);
    let requests = api.requests().len();
    let out = refused(&api, &["deploy", path, "--canary", "5", "--no-build"]);
    assert!(
        out.contains("not deploying") && out.contains("over"),
        "{out}"
    );
    assert_eq!(
        api.requests().len(),
        requests,
        "no request after the budget check"
    );
    assert_eq!(api.take_events(), []);
}

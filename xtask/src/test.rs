//! `cargo xtask test`: every check and test, in order, stopping at the first failure.
//! This is what CI runs (`.ci/run`).

use std::time::{Duration, Instant};

use crate::build::{self, Profile};
use crate::setup::{self, Tools};
use crate::workspace::{self, format_duration, step};

/// One stage of the run.
struct Stage {
    name: &'static str,
    run: fn(&Tools) -> Result<(), String>,
}

const STAGES: &[Stage] = &[
    Stage {
        name: "cargo fmt --check",
        run: |_| workspace::run(workspace::cargo().args(["fmt", "--all", "--", "--check"])),
    },
    Stage {
        name: "cargo clippy -D warnings",
        run: |_| {
            workspace::run(workspace::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        },
    },
    Stage {
        name: "cargo doc -D warnings",
        run: |_| {
            workspace::run(workspace::cargo().env("RUSTDOCFLAGS", "-Dwarnings").args([
                "doc",
                "--workspace",
                "--no-deps",
            ]))
        },
    },
    Stage {
        name: "cargo test (native unit, doc and UI tests)",
        run: |_| workspace::run(workspace::cargo().args(["test", "--workspace"])),
    },
    Stage {
        name: "build every worker (release)",
        run: |tools| build::build_all(tools, Profile::Release),
    },
    Stage {
        name: "end-to-end tests in workerd",
        run: |_| {
            workspace::run(
                workspace::cargo()
                    .env("WRANGLER_SEND_METRICS", "false")
                    .args(["test", "-p", "duro-tests", "--test", "e2e", "--"])
                    .args(["--ignored", "--test-threads=1"]),
            )
        },
    },
    Stage {
        name: "the chat API's contract tests against apps/chat in workerd",
        run: |_| {
            workspace::run(
                workspace::cargo()
                    .env("WRANGLER_SEND_METRICS", "false")
                    .env("DURO_CHAT_APP", "apps/chat")
                    .args(["test", "-p", "duro-tests", "--test", "chat", "--"])
                    .args(["--ignored", "--test-threads=1"]),
            )
        },
    },
    Stage {
        name: "the chat page in headless Chromium",
        run: |_| {
            crate::page::build(&workspace::root().join("apps").join("chat"))?;
            workspace::run(
                workspace::cargo()
                    .env("WRANGLER_SEND_METRICS", "false")
                    .args(["test", "-p", "duro-tests", "--test", "browser", "--"])
                    .args(["--ignored", "--test-threads=1", "--nocapture"]),
            )
        },
    },
    Stage {
        name: "a new app: cargo xtask new, its tests, build and dev",
        run: |_| {
            workspace::run(
                workspace::cargo()
                    .env("WRANGLER_SEND_METRICS", "false")
                    .args(["test", "-p", "duro-tests", "--test", "new_app", "--"])
                    .arg("--ignored"),
            )
        },
    },
    Stage {
        name: "deploy, canary, promote, rollback: wrangler against a fake Cloudflare API",
        run: |_| {
            workspace::run(
                workspace::cargo()
                    .env("WRANGLER_SEND_METRICS", "false")
                    .args(["test", "-p", "duro-tests", "--test", "deploy", "--"])
                    .arg("--ignored"),
            )
        },
    },
    // Proves the benchmark command works; timings are reported, never asserted.
    Stage {
        name: "benchmarks (quick, no timing assertions)",
        run: |_| {
            crate::bench::run(&[
                "--quick".to_owned(),
                "--no-build".to_owned(),
                "--profile".to_owned(),
            ])
        },
    },
];

/// `cargo xtask test`.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`test` takes no arguments (got `{extra}`)"));
    }
    let start = Instant::now();
    let setup_start = Instant::now();
    let tools = setup::ensure()?;
    let mut done: Vec<(&str, Duration)> = vec![("setup", setup_start.elapsed())];

    let total = STAGES.len() + 1;
    for (i, stage) in STAGES.iter().enumerate() {
        step(format!("[{}/{total}] {}", i + 2, stage.name));
        let stage_start = Instant::now();
        if let Err(error) = (stage.run)(&tools) {
            summary(&done);
            step(format!(
                "FAILED at [{}/{total}] {} after {}",
                i + 2,
                stage.name,
                format_duration(start.elapsed())
            ));
            return Err(error);
        }
        done.push((stage.name, stage_start.elapsed()));
    }
    summary(&done);
    step(format!(
        "all {total} stages passed in {}",
        format_duration(start.elapsed())
    ));
    Ok(())
}

fn summary(done: &[(&str, Duration)]) {
    step("summary");
    for (name, duration) in done {
        workspace::note(format!("ok  {:>8}  {name}", format_duration(*duration)));
    }
}

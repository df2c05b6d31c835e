//! `cargo xtask <command>`: the project's tooling, in Rust so that it runs wherever cargo
//! does. Every command prints `==>` lines for its steps and fails with a message that says
//! what to do next.

mod bench;
mod build;
mod deploy;
mod dev;
mod entry;
mod metadata;
mod new;
mod page;
mod setup;
mod test;
mod workspace;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [arguments]

commands:
  new <name>                write a new app in apps/<name>/ and add it to the workspace
  setup                     install what is missing: the wasm32 target, worker-build,
                            wasm-bindgen-cli (the Cargo.lock version), the npm packages,
                            and chromium and chromedriver (apt) for the browser test
  build [app] [--dev]       set up, then build every worker (or one app) into <app>/build/
                            and check each app's wasm against its size budget
  dev [app] [--port N]      set up, build and run the showcase (or an app) in wrangler dev
  page <app>                build apps/<app>/page/ (HTML, CSS, TypeScript) into
                            apps/<app>/public/ with esbuild; `build` does it too
  chat-types                write apps/chat/page/src/protocol.ts from the Rust types
                            in apps/chat/protocol, then build the chat page
  test                      set up, then run every check and test, as CI does
  bench [arguments]         run the benchmarks
  deploy <app> [--canary P] [--full] [--message TEXT] [--dry-run] [--no-build]
                            build, check the size budget, upload a new version and
                            deploy it at P % next to the current one (default 100 %);
                            --full: `wrangler deploy` (first deploy, [[migrations]] changes)
  promote <app>             move the newest version to 100 %
  rollback <app> [version]  go back to the version that served before (or the given one)
  deployments <app>         list the versions and the current split
  help                      show this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "new" => new::run(rest),
        "setup" => setup::run(rest),
        "build" => build::run(rest),
        "dev" => dev::run(rest),
        "test" => test::run(rest),
        "page" => page::run(rest),
        "chat-types" => page::chat_types(rest),
        "bench" => bench::run(rest),
        "deploy" => deploy::deploy(rest),
        "promote" => deploy::promote(rest),
        "rollback" => deploy::rollback(rest),
        "deployments" => deploy::deployments(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

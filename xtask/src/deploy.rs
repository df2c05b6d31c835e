//! `cargo xtask deploy`, `promote`, `rollback` and `deployments`: gradual deployments of an
//! app through wrangler's versions API.
//!
//! - `deploy <app> [--canary P]`: `wrangler versions upload`, then
//!   `wrangler versions deploy <new>@P <current>@<100-P> --yes` (without `--canary`:
//!   `<new>@100`). `--full`: `wrangler deploy` (needed for the first deploy and for a change
//!   to `[[migrations]]`, which Cloudflare cannot roll out gradually).
//! - `promote <app>`: `wrangler versions deploy <newest>@100 --yes`.
//! - `rollback <app> [<version>]`: `wrangler versions deploy <previous>@100 --yes`.
//! - `deployments <app>`: `wrangler deployments status --json` and
//!   `wrangler versions list --json`, summarised.
//!
//! Every version this uploads carries the tag `migrations=<tag>` (the last
//! `[[migrations]]` tag of its wrangler.toml): that is how `deploy` tells whether the
//! migrations changed since the version that serves now, and refuses a gradual rollout when
//! they did.
//!
//! wrangler runs with a config derived from the app's `wrangler.toml` and written next to
//! the build (`build/wrangler.deploy.toml`: `main` is `entry.js`, no `[build]` command,
//! since the build is done here first). The account and token come from the environment,
//! as for wrangler: `CLOUDFLARE_API_TOKEN` and `CLOUDFLARE_ACCOUNT_ID`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::build::{self, Built, Profile};
use crate::setup;
use crate::workspace::{self, display, note, step};

/// The prefix of the version tag that records a version's migrations.
const MIGRATIONS_TAG: &str = "migrations=";
/// The name of the derived config, in the app's `build/`.
const DERIVED_CONFIG: &str = "wrangler.deploy.toml";

const DEPLOY_USAGE: &str = "usage: cargo xtask deploy <app> [--canary <percent>] [--full] \
                            [--message <text>] [--dry-run] [--no-build]";

/// `cargo xtask deploy`.
pub fn deploy(args: &[String]) -> Result<(), String> {
    let options = DeployOptions::parse(args)?;
    let tools = setup::ensure()?;
    let dir = build::resolve(&options.app)?;
    let built = if options.no_build {
        step(format!("measuring the existing build of {}", display(&dir)));
        Built::measure(&dir)?
    } else {
        build::build(&tools, &dir, Profile::Release)?
    };
    if let Some(over) = built.over_budget() {
        return Err(format!("not deploying: {over}"));
    }
    let app = App::read(&dir, tools.wrangler.clone())?;
    let message = options.message.clone().unwrap_or_default();
    let tag = app.migrations_tag();

    step(format!("reading the deployment of `{}`", app.name));
    let current = app.current()?;
    match &current {
        Some(split) => note(format!("now: {}", split.describe())),
        None => note("no deployment yet"),
    }

    if options.full {
        let mut args = vec!["deploy".to_owned()];
        push_annotations(&mut args, &message, &tag);
        if options.dry_run {
            return dry_run(&app, &[args]);
        }
        step(format!(
            "deploying `{}` in full (wrangler deploy: 100 %, migrations applied)",
            app.name
        ));
        return match app.wrangler_run(&args) {
            Ok(()) => {
                step(format!("deployed `{}` in full at 100 %", app.name));
                note(format!(
                    "see it with `cargo xtask deployments {}`",
                    options.app
                ));
                Ok(())
            }
            Err(e) => Err(format!(
                "{e}\nwrangler deploy failed; a deploy applies whole or not at all, so the \
                 deployment is as it was ({})",
                app.describe_now()
            )),
        };
    }

    let Some(current) = current else {
        return Err(format!(
            "`{}` has no deployment yet: the first deploy creates the worker and its Durable \
             Object classes, which cannot be done gradually; run `cargo xtask deploy {} --full`",
            app.name, options.app
        ));
    };
    let [(current_id, 100)] = current.0.as_slice() else {
        return Err(format!(
            "a split is in progress ({}): finish it first with `cargo xtask promote {app}` or \
             `cargo xtask rollback {app}`",
            current.describe(),
            app = options.app
        ));
    };
    let current_version = app.version(current_id)?;
    if let Some(reason) = app.migrations_change(&current_version) {
        let how = match options.canary {
            Some(percent) => format!("cannot deploy at {percent} %"),
            None => "cannot deploy as a new version".to_owned(),
        };
        return Err(format!(
            "{how}: {reason}.\nA change to [[migrations]] (new, renamed or deleted classes) \
             cannot go out gradually: Cloudflare applies migrations to the whole worker at \
             once. Deploy it in full with `cargo xtask deploy {} --full` (wrangler deploy), \
             after checking that the current version's objects can live with it.",
            options.app
        ));
    }

    let percent = options.canary.unwrap_or(100);
    let mut upload = vec!["versions".to_owned(), "upload".to_owned()];
    push_annotations(&mut upload, &message, &tag);
    let split = |new: &str| {
        let mut args = vec!["versions".to_owned(), "deploy".to_owned()];
        args.push(format!("{new}@{percent}"));
        if percent < 100 {
            args.push(format!("{current_id}@{}", 100 - percent));
        }
        if !message.is_empty() {
            args.extend(["--message".to_owned(), message.clone()]);
        }
        args.push("--yes".to_owned());
        args
    };
    if options.dry_run {
        return dry_run(&app, &[upload, split("<new>")]);
    }

    step(format!("uploading a new version of `{}`", app.name));
    let new = app.upload(&upload).map_err(|e| {
        format!("{e}\nthe upload failed: nothing was deployed, {current_id} still serves 100 %")
    })?;
    note(format!("uploaded version {new}"));

    step(format!(
        "splitting traffic: {new} at {percent} %{}",
        if percent < 100 {
            format!(", {current_id} at {} %", 100 - percent)
        } else {
            String::new()
        }
    ));
    if let Err(e) = app.wrangler_run(&split(&new)) {
        return Err(format!(
            "{e}\nversion {new} was uploaded but the split failed: no traffic moved ({}). \
             Deploy it with `cargo xtask promote {}` (100 %) or run `cargo xtask deploy` again.",
            app.describe_now(),
            options.app
        ));
    }
    let now = Split(if percent < 100 {
        vec![(new.clone(), percent), (current_id.clone(), 100 - percent)]
    } else {
        vec![(new.clone(), 100)]
    });
    step(format!("deployed `{}`: {}", app.name, now.describe()));
    if percent < 100 {
        note(format!(
            "next: check the canary, then `cargo xtask promote {app}` (100 %) or \
             `cargo xtask rollback {app}` (back to {current_id})",
            app = options.app
        ));
    } else {
        note(format!(
            "to go back: `cargo xtask rollback {}` (to {current_id})",
            options.app
        ));
    }
    Ok(())
}

/// `cargo xtask promote`.
pub fn promote(args: &[String]) -> Result<(), String> {
    let [name] = args else {
        return Err("usage: cargo xtask promote <app>".to_owned());
    };
    let app = App::from_name(name)?;
    let current = app.current()?.ok_or_else(|| {
        format!(
            "`{}` has no deployment: run `cargo xtask deploy {name} --full`",
            app.name
        )
    })?;
    let versions = app.versions()?;
    let newest = versions
        .last()
        .ok_or_else(|| format!("`{}` has no versions", app.name))?;
    if current.0.as_slice() == [(newest.id.clone(), 100)] {
        step(format!(
            "nothing to promote: the newest version {} already serves 100 %",
            newest.id
        ));
        return Ok(());
    }
    // The version serving the most traffic now is the one the newest replaces.
    if let Some(serving) = current.0.iter().max_by_key(|(_, p)| *p) {
        let serving = app.find(&versions, &serving.0)?;
        if newest.migrations() != serving.migrations() {
            return Err(format!(
                "cannot promote {}: its migrations ({}) differ from those of {} ({}); deploy \
                 it with `cargo xtask deploy {name} --full`",
                newest.id,
                newest.migrations().unwrap_or("unknown"),
                serving.id,
                serving.migrations().unwrap_or("unknown")
            ));
        }
    }
    step(format!(
        "promoting {} to 100 % (now: {})",
        newest.id,
        current.describe()
    ));
    app.wrangler_run(&to_all(&newest.id, &format!("promote {}", newest.id)))
        .map_err(|e| format!("{e}\nthe promotion failed: {}", app.describe_now()))?;
    step(format!("promoted: {} at 100 %", newest.id));
    Ok(())
}

/// `cargo xtask rollback`.
pub fn rollback(args: &[String]) -> Result<(), String> {
    let (name, wanted) = match args {
        [name] => (name, None),
        [name, version] => (name, Some(version.clone())),
        _ => return Err("usage: cargo xtask rollback <app> [<version id>]".to_owned()),
    };
    let app = App::from_name(name)?;
    let current = app
        .current()?
        .ok_or_else(|| format!("`{}` has no deployment to roll back", app.name))?;
    let versions = app.versions()?;
    let target = match wanted {
        Some(version) => version,
        None => app.previous(&current, &versions)?,
    };
    if current.0.as_slice() == [(target.clone(), 100)] {
        step(format!(
            "nothing to roll back: {target} already serves 100 %"
        ));
        return Ok(());
    }
    let target_version = app.find(&versions, &target)?;
    if let Some(serving) = current.0.iter().max_by_key(|(_, p)| *p) {
        let serving = app.find(&versions, &serving.0)?;
        if target_version.migrations() != serving.migrations() {
            return Err(format!(
                "cannot roll back to {target}: its migrations ({}) differ from those of {} \
                 ({}), and migrations do not roll back (objects stay migrated)",
                target_version.migrations().unwrap_or("unknown"),
                serving.id,
                serving.migrations().unwrap_or("unknown")
            ));
        }
    }
    step(format!(
        "rolling back to {target} at 100 % (now: {})",
        current.describe()
    ));
    app.wrangler_run(&to_all(&target, &format!("rollback to {target}")))
        .map_err(|e| format!("{e}\nthe rollback failed: {}", app.describe_now()))?;
    step(format!("rolled back: {target} at 100 %"));
    Ok(())
}

/// `cargo xtask deployments`.
pub fn deployments(args: &[String]) -> Result<(), String> {
    let [name] = args else {
        return Err("usage: cargo xtask deployments <app>".to_owned());
    };
    let app = App::from_name(name)?;
    let current = app.current()?;
    step(format!(
        "`{}`: {}",
        app.name,
        current
            .as_ref()
            .map(Split::describe)
            .unwrap_or_else(|| "no deployment".to_owned())
    ));
    let versions = app.versions()?;
    step(format!("versions, newest first ({})", versions.len()));
    for version in versions.iter().rev() {
        let serving = current
            .as_ref()
            .and_then(|s| s.0.iter().find(|(id, _)| *id == version.id))
            .map(|(_, p)| format!("{p:>3} %"))
            .unwrap_or_else(|| "  -  ".to_owned());
        note(format!(
            "{serving}  {}  #{}  {}  migrations {}  {}",
            version.id,
            version.number,
            version.created,
            version.migrations().unwrap_or("?"),
            version.message.as_deref().unwrap_or("")
        ));
    }
    match current.as_ref().map(|s| s.0.len()) {
        Some(2) => note(format!(
            "a split is in progress: `cargo xtask promote {name}` or `cargo xtask rollback {name}`"
        )),
        Some(_) => note(format!(
            "next: `cargo xtask deploy {name} --canary 10` for a new version"
        )),
        None => note(format!("next: `cargo xtask deploy {name} --full`")),
    }
    Ok(())
}

/// `versions deploy <id>@100`.
fn to_all(id: &str, message: &str) -> Vec<String> {
    [
        "versions",
        "deploy",
        &format!("{id}@100"),
        "--message",
        message,
        "--yes",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn push_annotations(args: &mut Vec<String>, message: &str, tag: &Option<String>) {
    if !message.is_empty() {
        args.extend(["--message".to_owned(), message.to_owned()]);
    }
    if let Some(tag) = tag {
        args.extend(["--tag".to_owned(), tag.clone()]);
    }
}

fn dry_run(app: &App, commands: &[Vec<String>]) -> Result<(), String> {
    step("dry run: built and checked; would run, in the app's build/:");
    for args in commands {
        note(format!(
            "$ {}",
            workspace::command_line(&app.wrangler(args))
        ));
    }
    Ok(())
}

/// The options of `deploy`.
#[derive(Debug, Default, PartialEq, Eq)]
struct DeployOptions {
    app: String,
    canary: Option<u32>,
    full: bool,
    message: Option<String>,
    dry_run: bool,
    no_build: bool,
}

impl DeployOptions {
    fn parse(args: &[String]) -> Result<DeployOptions, String> {
        let mut options = DeployOptions::default();
        let mut app = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--canary" => {
                    let value = args.next().ok_or("--canary needs a percentage")?;
                    let percent = value
                        .trim_end_matches('%')
                        .parse::<u32>()
                        .ok()
                        .filter(|p| (1..=99).contains(p))
                        .ok_or_else(|| {
                            format!("--canary takes a percentage from 1 to 99, got `{value}`")
                        })?;
                    options.canary = Some(percent);
                }
                "--message" => {
                    options.message = Some(args.next().ok_or("--message needs a text")?.clone())
                }
                "--full" => options.full = true,
                "--dry-run" => options.dry_run = true,
                "--no-build" => options.no_build = true,
                flag if flag.starts_with('-') => {
                    return Err(format!("unknown option `{flag}`; {DEPLOY_USAGE}"))
                }
                name if app.is_none() => app = Some(name.to_owned()),
                extra => return Err(format!("`deploy` takes one app, got also `{extra}`")),
            }
        }
        options.app = app.ok_or(DEPLOY_USAGE)?;
        if options.full && options.canary.is_some() {
            return Err(
                "--full deploys at 100 % with wrangler deploy; it does not go with --canary"
                    .to_owned(),
            );
        }
        Ok(options)
    }
}

/// A traffic split: version ids with their percentages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Split(Vec<(String, u32)>);

impl Split {
    fn from_json(deployment: &Value) -> Split {
        Split(
            deployment["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    (
                        v["version_id"].as_str().unwrap_or_default().to_owned(),
                        v["percentage"].as_f64().unwrap_or_default().round() as u32,
                    )
                })
                .collect(),
        )
    }

    fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(id, p)| format!("{id} at {p} %"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A version, as `wrangler versions list --json` and `versions view --json` show it.
#[derive(Debug, Clone)]
struct Version {
    id: String,
    number: u64,
    created: String,
    tag: Option<String>,
    message: Option<String>,
}

impl Version {
    fn from_json(version: &Value) -> Version {
        let annotation = |key: &str| {
            version["annotations"][key]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Version {
            id: version["id"].as_str().unwrap_or_default().to_owned(),
            number: version["number"].as_u64().unwrap_or_default(),
            created: version["metadata"]["created_on"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            tag: annotation("workers/tag"),
            message: annotation("workers/message"),
        }
    }

    /// The last migration tag the version was uploaded with, when it says.
    fn migrations(&self) -> Option<&str> {
        self.tag.as_deref()?.strip_prefix(MIGRATIONS_TAG)
    }
}

/// An app to deploy, and wrangler to do it.
struct App {
    /// The app's folder.
    dir: PathBuf,
    /// The worker's name (`name` in its wrangler.toml).
    name: String,
    /// Its `[[migrations]]`.
    migrations: Vec<toml::Value>,
    wrangler: PathBuf,
}

impl App {
    fn from_name(name: &str) -> Result<App, String> {
        let tools = setup::ensure()?;
        App::read(&build::resolve(name)?, tools.wrangler)
    }

    /// Reads the app's wrangler.toml and writes the derived config wrangler runs with.
    fn read(dir: &Path, wrangler: PathBuf) -> Result<App, String> {
        let path = dir.join("wrangler.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", display(&path)))?;
        let mut config: toml::Table =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", display(&path)))?;
        let name = config
            .get("name")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| format!("{} has no `name`", display(&path)))?
            .to_owned();
        let migrations = config
            .get("migrations")
            .and_then(toml::Value::as_array)
            .cloned()
            .unwrap_or_default();
        let main = config
            .get("main")
            .and_then(toml::Value::as_str)
            .unwrap_or("build/entry.js");
        let main = Path::new(main)
            .strip_prefix("build")
            .map_err(|_| {
                format!(
                    "{}: `main` must be in build/ (it is `{main}`)",
                    display(&path)
                )
            })?
            .to_string_lossy()
            .into_owned();
        config.insert("main".to_owned(), toml::Value::String(main));
        config.remove("build");
        let derived = dir.join("build").join(DERIVED_CONFIG);
        std::fs::create_dir_all(dir.join("build"))
            .and_then(|()| {
                std::fs::write(
                    &derived,
                    format!(
                        "# Written by `cargo xtask deploy` from ../wrangler.toml; edit that one.\n{}",
                        toml::to_string(&config).unwrap_or_default()
                    ),
                )
            })
            .map_err(|e| format!("cannot write {}: {e}", display(&derived)))?;
        Ok(App {
            dir: dir.to_path_buf(),
            name,
            migrations,
            wrangler,
        })
    }

    /// The version tag recording this build's migrations.
    fn migrations_tag(&self) -> Option<String> {
        self.last_migration()
            .map(|tag| format!("{MIGRATIONS_TAG}{tag}"))
    }

    fn last_migration(&self) -> Option<&str> {
        self.migrations.last()?.get("tag")?.as_str()
    }

    /// Why this build's migrations cannot go out next to `deployed`, or `None` when they
    /// are the same.
    fn migrations_change(&self, deployed: &Version) -> Option<String> {
        let ours = self.last_migration();
        let theirs = deployed.migrations();
        if ours == theirs {
            return None;
        }
        let Some(theirs) = theirs else {
            return Some(format!(
                "the deployed version {} does not record its migrations (it was not deployed \
                 by `cargo xtask deploy`), so a change to [[migrations]] cannot be ruled out",
                deployed.id
            ));
        };
        let new_steps: Vec<String> = self
            .migrations
            .iter()
            .skip_while(|m| m.get("tag").and_then(toml::Value::as_str) != Some(theirs))
            .skip(1)
            .map(describe_migration)
            .collect();
        Some(format!(
            "wrangler.toml's [[migrations]] end at `{}` but the deployed version {} is at \
             `{theirs}`{}",
            ours.unwrap_or("(none)"),
            deployed.id,
            if new_steps.is_empty() {
                String::new()
            } else {
                format!(" (new: {})", new_steps.join("; "))
            }
        ))
    }

    fn wrangler(&self, args: &[String]) -> Command {
        let mut command = Command::new(&self.wrangler);
        command
            .current_dir(self.dir.join("build"))
            .env("WRANGLER_SEND_METRICS", "false")
            .args(args)
            .args(["--config", DERIVED_CONFIG]);
        command
    }

    /// Runs wrangler with its output shown.
    fn wrangler_run(&self, args: &[String]) -> Result<(), String> {
        workspace::run(self.wrangler(args).stdin(Stdio::null()))
    }

    /// Runs wrangler for JSON; `Ok(None)` when the worker does not exist or has no
    /// deployment.
    fn wrangler_json(&self, args: &[&str]) -> Result<Option<Value>, String> {
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push("--json".to_owned());
        let mut command = self.wrangler(&args);
        let line = workspace::command_line(&command);
        let out = command
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("could not start `{line}`: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let all = format!("{stdout}{stderr}");
            if all.contains("10007") || all.contains("has no deployments") {
                return Ok(None);
            }
            return Err(format!("`{line}` failed ({}):\n{all}", out.status));
        }
        let start = stdout
            .find(['{', '['])
            .ok_or_else(|| format!("`{line}` printed no JSON:\n{stdout}{stderr}"))?;
        serde_json::from_str(&stdout[start..])
            .map(Some)
            .map_err(|e| format!("`{line}` printed JSON that does not parse ({e}):\n{stdout}"))
    }

    /// `wrangler versions upload`, returning the new version's id.
    fn upload(&self, args: &[String]) -> Result<String, String> {
        let output = tempfile_path("wrangler-output");
        let _ = std::fs::remove_file(&output);
        let mut command = self.wrangler(args);
        command.env("WRANGLER_OUTPUT_FILE_PATH", &output);
        let result = workspace::run(command.stdin(Stdio::null()));
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        let _ = std::fs::remove_file(&output);
        result?;
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|entry| entry["type"] == "version-upload")
            .and_then(|entry| entry["version_id"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                "wrangler versions upload did not say which version it uploaded".to_owned()
            })
    }

    /// The current deployment's split, or `None` when there is none.
    fn current(&self) -> Result<Option<Split>, String> {
        Ok(self
            .wrangler_json(&["deployments", "status"])?
            .map(|d| Split::from_json(&d)))
    }

    /// The current deployment, described, for failure messages (never fails).
    fn describe_now(&self) -> String {
        match self.current() {
            Ok(Some(split)) => format!("now: {}", split.describe()),
            Ok(None) => "now: no deployment".to_owned(),
            Err(e) => format!("the current deployment could not be read: {e}"),
        }
    }

    /// The deployable versions, oldest first.
    fn versions(&self) -> Result<Vec<Version>, String> {
        let list = self.wrangler_json(&["versions", "list"])?;
        let mut versions: Vec<Version> = list
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(Version::from_json)
            .collect();
        versions.sort_by_key(|v| v.number);
        Ok(versions)
    }

    /// The version `id`, from `versions` when it is there, else from wrangler.
    fn find(&self, versions: &[Version], id: &str) -> Result<Version, String> {
        match versions.iter().find(|v| v.id == id) {
            Some(version) => Ok(version.clone()),
            None => self.version(id),
        }
    }

    fn version(&self, id: &str) -> Result<Version, String> {
        self.wrangler_json(&["versions", "view", id])?
            .map(|v| Version::from_json(&v))
            .ok_or_else(|| format!("`{}` has no version {id}", self.name))
    }

    /// The version to roll back to from `current`: during a split, the older version of
    /// it; otherwise the version that served the most before the current deployment.
    fn previous(&self, current: &Split, versions: &[Version]) -> Result<String, String> {
        if current.0.len() > 1 {
            let mut split: Vec<Version> = current
                .0
                .iter()
                .map(|(id, _)| self.find(versions, id))
                .collect::<Result<_, _>>()?;
            split.sort_by_key(|v| v.number);
            return Ok(split[0].id.clone());
        }
        let serving = current.0.first().map(|(id, _)| id.clone());
        let history = self
            .wrangler_json(&["deployments", "list"])?
            .unwrap_or(Value::Null);
        // Oldest first: walk back from the newest.
        history
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .filter_map(|d| {
                Split::from_json(d)
                    .0
                    .into_iter()
                    .max_by_key(|(_, p)| *p)
                    .map(|(id, _)| id)
            })
            .find(|id| Some(id) != serving.as_ref())
            .ok_or_else(|| {
                format!(
                    "`{}` has no earlier deployment to roll back to; name a version: \
                     `cargo xtask rollback <app> <version id>` (see `cargo xtask deployments`)",
                    self.name
                )
            })
    }
}

/// One `[[migrations]]` entry, as `v2: new_sqlite_classes [Foo]`.
fn describe_migration(migration: &toml::Value) -> String {
    let Some(table) = migration.as_table() else {
        return migration.to_string();
    };
    let tag = table
        .get("tag")
        .and_then(toml::Value::as_str)
        .unwrap_or("?");
    let steps: Vec<String> = table
        .iter()
        .filter(|(key, _)| *key != "tag")
        .map(|(key, value)| format!("{key} {value}"))
        .collect();
    format!("`{tag}`: {}", steps.join(", "))
}

/// A path for a scratch file, unique to this process.
fn tempfile_path(stem: &str) -> PathBuf {
    std::env::temp_dir().join(format!("duro-{stem}-{}.ndjson", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_deploy_options() {
        let options = DeployOptions::parse(&args("counter --canary 10% --dry-run")).unwrap();
        assert_eq!(options.app, "counter");
        assert_eq!(options.canary, Some(10));
        assert!(options.dry_run && !options.full);
        for bad in [
            "",
            "counter --canary 0",
            "counter --canary 100",
            "counter --canary x",
        ] {
            assert!(DeployOptions::parse(&args(bad)).is_err(), "{bad}");
        }
        let err = DeployOptions::parse(&args("counter --full --canary 5")).unwrap_err();
        assert!(err.contains("--full"), "{err}");
    }

    #[test]
    fn reads_versions_and_their_migrations() {
        let version = Version::from_json(&serde_json::json!({
            "id": "a", "number": 3,
            "annotations": {"workers/tag": "migrations=v2", "workers/message": ""},
            "metadata": {"created_on": "2026-01-01"}
        }));
        assert_eq!(version.migrations(), Some("v2"));
        assert_eq!(version.message, None);
        let split = Split::from_json(&serde_json::json!({
            "versions": [{"version_id": "a", "percentage": 10.0}, {"version_id": "b", "percentage": 90}]
        }));
        assert_eq!(split.describe(), "a at 10 %, b at 90 %");
    }

    #[test]
    fn describes_migrations() {
        let migration: toml::Value =
            toml::from_str("tag = \"v2\"\nnew_sqlite_classes = [\"Foo\"]").unwrap();
        assert_eq!(
            describe_migration(&migration),
            "`v2`: new_sqlite_classes [\"Foo\"]"
        );
    }
}

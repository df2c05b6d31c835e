//! What an app declares for these commands in its Cargo.toml, under
//! `[package.metadata.duro]`:
//!
//! ```toml
//! [package.metadata.duro]
//! # `cargo xtask build` fails when the wasm, gzipped, is larger: "256 KiB", "1 MiB",
//! # "900 B" or a number of bytes.
//! size-budget-gzip = "256 KiB"
//! # What `cargo xtask dev <app>` prints to try the app; `{url}` is where it runs.
//! try = ["curl {url}/counters/demo"]
//! ```
//!
//! Both are optional: an app without a budget has its sizes printed and not checked.

use std::path::Path;

use serde::Deserialize;

use crate::workspace::{display, format_bytes};

/// The table's name, for messages.
pub const TABLE: &str = "[package.metadata.duro]";

/// An app's `[package.metadata.duro]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppMetadata {
    /// `package.name`.
    pub name: String,
    /// The size budget of the gzipped wasm, in bytes.
    pub size_budget_gzip: Option<u64>,
    /// Command lines to try the running app, with `{url}` for its address.
    pub try_lines: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    package: Package,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    metadata: PackageMetadata,
}

#[derive(Debug, Default, Deserialize)]
struct PackageMetadata {
    #[serde(default)]
    duro: Duro,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Duro {
    size_budget_gzip: Option<toml::Value>,
    #[serde(default)]
    r#try: Vec<String>,
}

impl AppMetadata {
    /// Reads `dir/Cargo.toml`.
    pub fn read(dir: &Path) -> Result<AppMetadata, String> {
        let path = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", display(&path)))?;
        AppMetadata::parse(&text).map_err(|e| format!("{}: {e}", display(&path)))
    }

    /// Reads a Cargo.toml text.
    pub fn parse(text: &str) -> Result<AppMetadata, String> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| e.to_string())?;
        let package = manifest.package;
        let duro = package.metadata.duro;
        let size_budget_gzip = duro
            .size_budget_gzip
            .as_ref()
            .map(parse_size)
            .transpose()
            .map_err(|e| format!("{TABLE} size-budget-gzip: {e}"))?;
        Ok(AppMetadata {
            name: package.name,
            size_budget_gzip,
            try_lines: duro.r#try,
        })
    }
}

/// A size: a number of bytes, or a string `"<number> <unit>"` with the unit `B`, `KiB`
/// or `MiB` (the number may have a fraction: `"1.5 MiB"`).
pub fn parse_size(value: &toml::Value) -> Result<u64, String> {
    let expected =
        || format!("expected a number of bytes or a string like \"256 KiB\", got {value}");
    match value {
        toml::Value::Integer(bytes) => u64::try_from(*bytes).map_err(|_| expected()),
        toml::Value::String(text) => {
            let (number, unit) = text
                .trim()
                .split_once(' ')
                .map(|(n, u)| (n.trim(), u.trim()))
                .ok_or_else(expected)?;
            let scale = match unit {
                "B" => 1.0,
                "KiB" => 1024.0,
                "MiB" => 1024.0 * 1024.0,
                _ => return Err(format!("unknown unit `{unit}` (use B, KiB or MiB)")),
            };
            let number: f64 = number.parse().map_err(|_| expected())?;
            if !number.is_finite() || number < 0.0 {
                return Err(expected());
            }
            Ok((number * scale).round() as u64)
        }
        _ => Err(expected()),
    }
}

/// How a wasm's gzipped size compares with its app's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No budget declared.
    Unchecked,
    /// At most the budget; the bytes left.
    Within(u64),
    /// Over the budget, by this many bytes.
    Over(u64),
}

/// Compares `gzip` bytes with `budget`.
pub fn verdict(gzip: u64, budget: Option<u64>) -> Verdict {
    match budget {
        None => Verdict::Unchecked,
        Some(budget) if gzip <= budget => Verdict::Within(budget - gzip),
        Some(budget) => Verdict::Over(gzip - budget),
    }
}

/// The note `build` prints beside the sizes.
pub fn budget_note(gzip: u64, budget: Option<u64>) -> String {
    match (verdict(gzip, budget), budget) {
        (Verdict::Within(left), Some(budget)) => format!(
            "within its budget of {} gzip ({} left)",
            format_bytes(budget),
            format_bytes(left)
        ),
        (Verdict::Over(by), Some(budget)) => format!(
            "OVER its budget of {} gzip (by {})",
            format_bytes(budget),
            format_bytes(by)
        ),
        _ => format!("no size budget (size-budget-gzip in {TABLE})"),
    }
}

/// The error for an app `dir` whose wasm is over its budget, or `None`.
pub fn over_budget(dir: &Path, gzip: u64, budget: Option<u64>) -> Option<String> {
    let Verdict::Over(by) = verdict(gzip, budget) else {
        return None;
    };
    let budget = budget.unwrap_or_default();
    Some(format!(
        "{app}: the wasm is {gzip} gzip, over its size budget of {budget} by {by}; make it \
         smaller, or change `size-budget-gzip` under {TABLE} in {manifest}",
        app = display(dir),
        gzip = format_bytes(gzip),
        budget = format_bytes(budget),
        by = format_bytes(by),
        manifest = display(&dir.join("Cargo.toml")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(text: &str) -> Result<u64, String> {
        let value: toml::Table = toml::from_str(&format!("v = {text}")).unwrap();
        parse_size(&value["v"])
    }

    #[test]
    fn reads_sizes_with_units_or_in_bytes() {
        assert_eq!(size("\"256 KiB\""), Ok(262_144));
        assert_eq!(size("\"1.5 MiB\""), Ok(1_572_864));
        assert_eq!(size("\"900 B\""), Ok(900));
        assert_eq!(size("262144"), Ok(262_144));
        assert!(size("\"256 kb\"")
            .unwrap_err()
            .contains("unknown unit `kb`"));
        assert!(size("\"256KiB\"").is_err());
        assert!(size("-1").is_err());
        assert!(size("\"-1 KiB\"").is_err());
        assert!(size("true").is_err());
    }

    #[test]
    fn reads_the_package_metadata() {
        let manifest = r#"
[package]
name = "counter"
description = "A counter."

[package.metadata.duro]
size-budget-gzip = "256 KiB"
try = ["curl {url}/counters/demo"]

[package.metadata.wasm-pack.profile.release]
wasm-opt = ["-Oz"]
"#;
        assert_eq!(
            AppMetadata::parse(manifest),
            Ok(AppMetadata {
                name: "counter".into(),
                size_budget_gzip: Some(262_144),
                try_lines: vec!["curl {url}/counters/demo".into()],
            })
        );
        let bare = AppMetadata::parse("[package]\nname = \"baseline\"\n").unwrap();
        assert_eq!(bare.size_budget_gzip, None);
        assert!(bare.try_lines.is_empty());
        let typo = "[package]\nname = \"x\"\n[package.metadata.duro]\nsize-budget = 1\n";
        assert!(AppMetadata::parse(typo)
            .unwrap_err()
            .contains("unknown field `size-budget`"));
        let bad = "[package]\nname = \"x\"\n[package.metadata.duro]\nsize-budget-gzip = \"x\"\n";
        assert!(AppMetadata::parse(bad)
            .unwrap_err()
            .contains("size-budget-gzip"));
    }

    #[test]
    fn an_app_over_its_budget_fails_and_says_how_to_change_it() {
        assert_eq!(verdict(100, None), Verdict::Unchecked);
        assert_eq!(verdict(100, Some(100)), Verdict::Within(0));
        assert_eq!(verdict(99, Some(100)), Verdict::Within(1));
        assert_eq!(verdict(101, Some(100)), Verdict::Over(1));

        let dir = Path::new("/w/apps/counter");
        assert_eq!(over_budget(dir, 262_144, Some(262_144)), None);
        assert_eq!(over_budget(dir, 300_000, None), None);
        let message = over_budget(dir, 270_000, Some(262_144)).unwrap();
        for expected in [
            "/w/apps/counter: ",
            "270 000 B (263.7 KiB) gzip",
            "size budget of 262 144 B (256.0 KiB)",
            "by 7 856 B (7.7 KiB)",
            "`size-budget-gzip` under [package.metadata.duro] in /w/apps/counter/Cargo.toml",
        ] {
            assert!(message.contains(expected), "{expected:?} in {message}");
        }
        assert!(budget_note(100, Some(262_144)).starts_with("within its budget"));
        assert!(budget_note(300_000, Some(262_144)).starts_with("OVER"));
        assert!(budget_note(100, None).starts_with("no size budget"));
    }
}

//! `cargo xtask new <name>`: writes a new app under `apps/<name>/` from the templates in
//! `xtask/templates/app/` and adds it to the workspace members.
//!
//! The app is `apps/counter` made smaller: one object (`<Name>`, binding `<NAME>`, a SQLite
//! class with its `[[migrations]]`), an index in the KV binding `INDEX`, the worker's
//! routes, a native test and a README. It builds, passes its tests and runs with
//! `cargo xtask dev <name>` as written.

use std::path::Path;

use crate::workspace::{self, display, note, root, step};

/// The templates, by the path they are written to inside the app.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/app/Cargo.toml.tmpl"),
    ),
    (
        "wrangler.toml",
        include_str!("../templates/app/wrangler.toml.tmpl"),
    ),
    ("README.md", include_str!("../templates/app/README.md.tmpl")),
    (
        "src/lib.rs",
        include_str!("../templates/app/src/lib.rs.tmpl"),
    ),
    (
        "src/routes.rs",
        include_str!("../templates/app/src/routes.rs.tmpl"),
    ),
    (
        "src/worker.rs",
        include_str!("../templates/app/src/worker.rs.tmpl"),
    ),
    (
        "tests/app.rs",
        include_str!("../templates/app/tests/app.rs.tmpl"),
    ),
];

/// Rust's keywords (strict and reserved): a crate or type named after one does not
/// compile.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names taken by the workspace's own crates, the standard library, or what the object's
/// type would clash with.
const TAKEN: &[&str] = &[
    "duro",
    "duro-macros",
    "duro-index",
    "duro-tests",
    "xtask",
    "std",
    "core",
    "alloc",
    "proc-macro",
    "test",
    "worker",
    "serde",
    "object",
    "stub",
    "ctx",
    "call-error",
];

/// `cargo xtask new`.
pub fn run(args: &[String]) -> Result<(), String> {
    let [name] = args else {
        return Err("usage: cargo xtask new <name> (lowercase letters, digits and `-`)".to_owned());
    };
    let root = root();
    create(&root, name)?;
    format(&root, name)?;
    step(format!("created apps/{name}; next:"));
    note(format!("cargo test -p {name}        # its native tests"));
    note(format!(
        "cargo xtask dev {name}      # build it and run it locally"
    ));
    note(format!(
        "cargo xtask deploy {name} --full   # the first deploy (put the KV namespace id in \
         its wrangler.toml first)"
    ));
    Ok(())
}

/// Writes `apps/<name>/` under `root` and adds it to `root`'s workspace members.
fn create(root: &Path, name: &str) -> Result<(), String> {
    check_name(name)?;
    let dir = root.join("apps").join(name);
    if dir.exists() {
        return Err(format!(
            "{} already exists; choose another name or remove it first",
            display(&dir)
        ));
    }
    let manifest = root.join("Cargo.toml");
    let workspace_text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let member = format!("apps/{name}");
    let updated = add_member(&workspace_text, &member)?;

    step(format!("writing {}", display(&dir)));
    for (path, template) in TEMPLATES {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&file, render(template, name))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        note(format!("{member}/{path}"));
    }
    std::fs::write(&manifest, updated)
        .map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    note(format!("added \"{member}\" to the workspace members"));
    Ok(())
}

/// Refuses names that are not a plain crate and worker name, or are taken.
fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !valid {
        return Err(format!(
            "`{name}` is not a valid app name: use 1 to 40 lowercase letters, digits and \
             single `-`, starting with a letter and not ending with `-` (it is the crate's \
             and the worker's name), e.g. `my-app`"
        ));
    }
    if KEYWORDS.contains(&crate_name(name).as_str()) || TAKEN.contains(&name) {
        return Err(format!(
            "`{name}` is a Rust keyword or a name the workspace already uses; choose another"
        ));
    }
    Ok(())
}

/// `my-app` → `my_app` (the crate's name in Rust paths).
fn crate_name(name: &str) -> String {
    name.replace('-', "_")
}

/// `my-app` → `MyApp` (the object's type and class).
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A template with the app's names filled in.
fn render(template: &str, name: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{crate}}", &crate_name(name))
        .replace("{{Struct}}", &type_name(name))
        .replace("{{BINDING}}", &crate_name(name).to_ascii_uppercase())
}

/// The root Cargo.toml's text with `member` added to `[workspace] members`, after the last
/// `apps/` member (or first), keeping the rest of the file as it is.
fn add_member(manifest: &str, member: &str) -> Result<String, String> {
    let parsed: toml::Table =
        toml::from_str(manifest).map_err(|e| format!("the root Cargo.toml: {e}"))?;
    let members = parsed
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .ok_or("the root Cargo.toml has no [workspace] members")?;
    if members.iter().any(|m| m.as_str() == Some(member)) {
        return Err(format!("{member} is already a workspace member"));
    }
    let start = manifest
        .find("members = [")
        .ok_or("the root Cargo.toml's members are not written as `members = [...]`")?
        + "members = [".len();
    let end = start
        + manifest[start..]
            .find(']')
            .ok_or("the root Cargo.toml's members list is not closed")?;
    let list = &manifest[start..end];
    let insert_at = match list.rfind("\"apps/") {
        Some(last) => {
            let close = list[last + 1..]
                .find('"')
                .map(|i| last + 1 + i + 1)
                .unwrap_or(list.len());
            start + close
        }
        None => start,
    };
    let entry = if list.trim().is_empty() {
        format!("\"{member}\"")
    } else if insert_at == start {
        format!("\"{member}\", ")
    } else {
        format!(", \"{member}\"")
    };
    Ok(format!(
        "{}{entry}{}",
        &manifest[..insert_at],
        &manifest[insert_at..]
    ))
}

/// Formats the generated sources with the workspace's rustfmt, so that `cargo fmt --check`
/// passes on a new app.
fn format(root: &Path, name: &str) -> Result<(), String> {
    workspace::run(
        workspace::cargo()
            .current_dir(root)
            .args(["fmt", "-p", name]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["notes", "my-app", "a1", "chat-room-2"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "", "My-App", "1app", "app-", "my--app", "my_app", "a/b", "../x", "fn", "self",
            "xtask", "duro", "object",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(41)).is_err());
    }

    #[test]
    fn renders_names() {
        assert_eq!(type_name("chat-room-2"), "ChatRoom2");
        let text = render(
            "{{name}} {{crate}} {{Struct}} {{BINDING}} {url}",
            "chat-room",
        );
        assert_eq!(text, "chat-room chat_room ChatRoom CHAT_ROOM {url}");
    }

    #[test]
    fn adds_members_after_the_last_app() {
        let manifest = "[workspace]\n# apps\nmembers = [\"framework\", \"apps/counter\", \"xtask\"]\n\n[x]\ny = [1]\n";
        let updated = add_member(manifest, "apps/notes").unwrap();
        assert_eq!(
            updated,
            "[workspace]\n# apps\nmembers = [\"framework\", \"apps/counter\", \"apps/notes\", \"xtask\"]\n\n[x]\ny = [1]\n"
        );
        let none = add_member("[workspace]\nmembers = [\"xtask\"]\n", "apps/a").unwrap();
        assert_eq!(none, "[workspace]\nmembers = [\"apps/a\", \"xtask\"]\n");
        assert!(add_member(&updated, "apps/notes").is_err());
    }

    #[test]
    fn refuses_an_existing_folder() {
        let root = std::env::temp_dir().join(format!("duro-new-test-{}", std::process::id()));
        std::fs::create_dir_all(root.join("apps").join("taken")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        let err = create(&root, "taken").unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! An app's browser page: `<app>/page/` (index.html, style.css and src/app.ts) built into
//! `<app>/public/`, the folder wrangler serves as static assets (`[assets]`). The
//! TypeScript is type-checked with tsc (npm `typescript`, `page/tsconfig.json`), so a page
//! that no longer fits its generated protocol types does not build, then bundled with
//! esbuild, which wrangler brings into node_modules.
//!
//! `cargo xtask page <app>` builds one page; `cargo xtask build` builds the page of every
//! worker that has one; `cargo xtask chat-types` rewrites the chat page's generated types
//! and then builds it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::workspace::{self, display, note, root, since, step};

/// Files copied as they are from `page/` into `public/`.
const COPIED: &[&str] = &["index.html", "style.css"];
/// The page's script, relative to `page/`; bundled into `public/app.js`.
const ENTRY: &str = "src/app.ts";

/// Whether the app in `app_dir` has a page to build.
pub fn present(app_dir: &Path) -> bool {
    app_dir.join("page").join(ENTRY).is_file()
}

/// The folder a page is built into.
pub fn public_dir(app_dir: &Path) -> PathBuf {
    app_dir.join("public")
}

/// `cargo xtask page <app>`.
pub fn run(args: &[String]) -> Result<(), String> {
    let [app] = args else {
        return Err("usage: cargo xtask page <app> (a folder under apps/ with a page/)".to_owned());
    };
    let dir = [root().join("apps").join(app), root().join(app)]
        .into_iter()
        .find(|d| present(d))
        .ok_or_else(|| format!("no page in apps/{app}/page/ (looked for {ENTRY})"))?;
    build(&dir)
}

/// `cargo xtask chat-types`: writes apps/chat/page/src/protocol.ts from the Rust types in
/// apps/chat/protocol (the test that checks it, in bless mode), then builds the page.
pub fn chat_types(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`chat-types` takes no arguments (got `{extra}`)"));
    }
    step("writing apps/chat/page/src/protocol.ts from the chat-protocol types");
    workspace::run(workspace::cargo().env("CHAT_TYPES_BLESS", "1").args([
        "test",
        "-q",
        "-p",
        "chat-protocol",
        "--features",
        "ts",
        "--test",
        "typescript",
    ]))?;
    build(&root().join("apps").join("chat"))
}

/// Builds `app_dir/page/` into `app_dir/public/`.
pub fn build(app_dir: &Path) -> Result<(), String> {
    let start = Instant::now();
    let page = app_dir.join("page");
    let public = public_dir(app_dir);
    step(format!("building the page {}", display(&page)));
    std::fs::create_dir_all(&public)
        .map_err(|e| format!("cannot create {}: {e}", display(&public)))?;
    for file in COPIED {
        let from = page.join(file);
        std::fs::copy(&from, public.join(file))
            .map_err(|e| format!("cannot copy {}: {e}", display(&from)))?;
    }
    let tsc = workspace::npm_tool("tsc");
    let esbuild = workspace::npm_tool("esbuild");
    for tool in [&tsc, &esbuild] {
        if !tool.is_file() {
            return Err(format!(
                "{} is missing: run `cargo xtask setup`",
                display(tool)
            ));
        }
    }
    workspace::run(Command::new(&tsc).current_dir(&page).args([
        "--project",
        "tsconfig.json",
        "--pretty",
        "false",
    ]))
    .map_err(|e| format!("{e}: the page does not type-check (see tsc's errors above)"))?;
    let mut command = Command::new(&esbuild);
    command
        .current_dir(&page)
        .arg(ENTRY)
        .args([
            "--bundle",
            "--format=esm",
            "--target=es2022",
            "--charset=utf8",
            "--legal-comments=none",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", public.join("app.js").display()));
    workspace::run(&mut command)?;
    for file in ["index.html", "style.css", "app.js"] {
        let path = public.join(file);
        let size = path.metadata().map(|m| m.len()).unwrap_or(0);
        note(format!(
            "{}: {}",
            display(&path),
            workspace::format_bytes(size)
        ));
    }
    note(format!("built in {}", since(start)));
    Ok(())
}

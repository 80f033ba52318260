//! Embeds the Control UI in the binary: every file of `<repo>/ui/dist` (the Vite build), listed
//! in a generated table `$OUT_DIR/control_ui.rs` with its URL path, content type, bytes (through
//! `include_bytes!`) and ETag; `gateway::ui` serves it. The files are copied into `$OUT_DIR`
//! first, so the crate always compiles the snapshot the table describes, even while a new UI
//! build replaces `ui/dist`. Without a build (`ui/dist/index.html`
//! missing) the single-file page `assets/control-ui.html` stands in as `index.html`, and cargo
//! says how to build the real one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let ui = manifest.join("../../ui");
    let dist = ui.join("dist");
    let fallback = manifest.join("assets/control-ui.html");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", fallback.display());

    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let real = dist.join("index.html").is_file();
    if real {
        println!("cargo:rerun-if-changed={}", dist.display());
        collect(&dist, &dist, &mut files);
        files.sort();
    } else {
        // Watching `ui/` notices the first `npm run build`; cargo scans it recursively.
        if ui.is_dir() {
            println!("cargo:rerun-if-changed={}", ui.display());
        }
        println!(
            "cargo:warning=the Control UI is not built (ui/dist/index.html is missing); \
             embedding the minimal page instead. Build it with: \
             npm --prefix ui ci && npm --prefix ui run build"
        );
        files.push(("/index.html".to_owned(), fallback));
    }

    let snapshot = out_dir.join("control-ui");
    let mut table = String::new();
    let _ = writeln!(
        table,
        "/// `true` when `ui/dist` was not built and the minimal page stands in."
    );
    let _ = writeln!(table, "pub(super) const UI_IS_FALLBACK: bool = {};", !real);
    let _ = writeln!(table, "/// Every embedded file, by URL path.");
    let _ = writeln!(table, "pub(super) static UI_FILES: &[Asset] = &[");
    for (url, path) in &files {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        };
        let digest = Sha256::digest(&bytes);
        let etag: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        let copy = snapshot.join(url.trim_start_matches('/'));
        write_if_changed(&copy, &bytes);
        let _ = writeln!(
            table,
            "    Asset {{ path: {url:?}, content_type: {ct:?}, bytes: include_bytes!({file:?}), etag: {etag:?} }},",
            ct = content_type(url),
            file = copy.display().to_string(),
            etag = format!("\"{etag}\""),
        );
    }
    let _ = writeln!(table, "];");
    write_if_changed(&out_dir.join("control_ui.rs"), table.as_bytes());
    // Copies of earlier builds' files (hashed names) are dropped.
    let mut copies = Vec::new();
    if snapshot.is_dir() {
        collect(&snapshot, &snapshot, &mut copies);
    }
    for (url, copy) in copies {
        if !files.iter().any(|(kept, _)| *kept == url) {
            let _ = std::fs::remove_file(copy);
        }
    }
}

/// Rewrites a file only when its content changes, so an unchanged UI does not rebuild the crate.
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return;
    }
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        panic!("cannot create {}: {e}", dir.display());
    }
    if let Err(e) = std::fs::write(path, bytes) {
        panic!("cannot write {}: {e}", path.display());
    }
}

/// Every file under `dir`, as (`/relative/url/path`, file path).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let url: String = relative
                .components()
                .map(|c| format!("/{}", c.as_os_str().to_string_lossy()))
                .collect();
            out.push((url, path));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("txt") => "text/plain; charset=utf-8",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

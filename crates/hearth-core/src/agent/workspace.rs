//! An agent's workspace: the Markdown files that hold its standing instructions (`AGENTS.md`),
//! personality (`SOUL.md`), identity, notes about its user and tools, and its memory
//! (`MEMORY.md`, `memory/<date>.md`). [`seed`] writes starter templates into a workspace that
//! has none of them; [`WorkspaceFiles`] reads them for the system prompt and [`render`] lays
//! them out under their names.
//!
//! Every byte put into the prompt here is paid on every message. So files that are empty or
//! hold only template comments (`<!-- ... -->`) are left out, comments are dropped from the
//! others, each file is capped (`agents.defaults.bootstrapMaxChars`) and all of them together
//! too (`bootstrapTotalMaxChars`). An untouched workspace adds only `AGENTS.md` and `SOUL.md`,
//! about 1.3 KB.
//!
//! This runs on every turn, so [`WorkspaceFiles`] keeps each file's text keyed by its path,
//! modification time and length: a turn costs one `stat` per file, and only a changed file is
//! read again.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use jiff::civil::Date;

/// The starter files written into an empty workspace, with their templates.
pub const TEMPLATES: [(&str, &str); 7] = [
    (
        "AGENTS.md",
        include_str!("../../assets/workspace/AGENTS.md"),
    ),
    ("SOUL.md", include_str!("../../assets/workspace/SOUL.md")),
    ("USER.md", include_str!("../../assets/workspace/USER.md")),
    (
        "IDENTITY.md",
        include_str!("../../assets/workspace/IDENTITY.md"),
    ),
    ("TOOLS.md", include_str!("../../assets/workspace/TOOLS.md")),
    (
        "HEARTBEAT.md",
        include_str!("../../assets/workspace/HEARTBEAT.md"),
    ),
    (
        "MEMORY.md",
        include_str!("../../assets/workspace/MEMORY.md"),
    ),
];

/// The files put into the system prompt, in this order, before the daily notes.
/// (`HEARTBEAT.md` is for heartbeat runs only.)
pub const PROMPT_FILES: [&str; 6] = [
    "AGENTS.md",
    "SOUL.md",
    "IDENTITY.md",
    "USER.md",
    "TOOLS.md",
    "MEMORY.md",
];

/// The folder of daily notes, `memory/YYYY-MM-DD.md`.
pub const MEMORY_DIR: &str = "memory";

/// Whether a workspace file is about one person or conversation (notes about the user, memory,
/// daily notes): those come from the conversation's memory directory when it has one.
pub fn is_personal(name: &str) -> bool {
    name == "USER.md" || name == "MEMORY.md" || name.starts_with("memory/")
}

/// A file longer than this is read only this far; the rest counts as cut.
const MAX_READ_BYTES: u64 = 1024 * 1024;

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub modified: Option<SystemTime>,
    pub len: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
        }
    }
}

/// Writes the starter files into `workspace` (created 0700 if missing) when it has none of
/// them, and a `memory/` folder. Files are created 0600 and never overwritten. Answers the
/// names written (empty when the workspace already had a file).
pub fn seed(workspace: &Path) -> io::Result<Vec<&'static str>> {
    if TEMPLATES
        .iter()
        .any(|(name, _)| workspace.join(name).symlink_metadata().is_ok())
    {
        return Ok(Vec::new());
    }
    create_private_dir(workspace)?;
    let mut written = Vec::new();
    for (name, template) in TEMPLATES {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(workspace.join(name)) {
            Ok(mut file) => {
                file.write_all(template.as_bytes())?;
                written.push(name);
            }
            // Someone wrote it meanwhile: theirs stays.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    create_private_dir(&workspace.join(MEMORY_DIR))?;
    Ok(written)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// `text` without its HTML comments (an unclosed one runs to the end), trimmed.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = match rest[start + 4..].find("-->") {
            Some(end) => &rest[start + 4 + end + 3..],
            None => "",
        };
    }
    out.push_str(rest);
    // Blank lines left where comments were removed.
    let mut collapsed = String::with_capacity(out.len());
    let mut blank_run = 0;
    for line in out.trim().lines() {
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        collapsed.push_str(line.trim_end());
        collapsed.push('\n');
    }
    collapsed.truncate(collapsed.trim_end().len());
    collapsed
}

/// The prompt files of a workspace for `today` (local date): the fixed ones, then
/// yesterday's and today's notes. Names are relative to the workspace.
pub fn prompt_file_names(today: Date) -> Vec<String> {
    let mut names: Vec<String> = PROMPT_FILES.iter().map(|n| (*n).to_owned()).collect();
    if let Ok(yesterday) = today.yesterday() {
        names.push(format!("{MEMORY_DIR}/{yesterday}.md"));
    }
    names.push(format!("{MEMORY_DIR}/{today}.md"));
    names
}

/// One workspace file as the prompt uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptFile {
    /// Relative to the workspace, e.g. `memory/2026-05-17.md`.
    pub name: String,
    /// `None` when the file does not exist.
    pub stamp: Option<Stamp>,
    /// The text without comments; `None` when nothing is left (or no file).
    pub text: Option<Arc<str>>,
    /// Bytes past what was read (for files over 1 MiB).
    pub unread: u64,
}

#[derive(Debug)]
struct Cached {
    stamp: Stamp,
    text: Option<Arc<str>>,
    unread: u64,
}

/// The prompt files of one workspace, kept between turns.
#[derive(Debug, Default)]
pub struct WorkspaceFiles {
    cache: HashMap<PathBuf, Cached>,
}

impl WorkspaceFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// `names` under `workspace`, each `stat`ed and read only if it changed since the last
    /// call. Files not asked for any more (yesterday's notes, after midnight) are forgotten.
    /// Each read adds one to `reads`.
    pub fn load(
        &mut self,
        workspace: &Path,
        names: &[String],
        reads: &AtomicU64,
    ) -> Vec<PromptFile> {
        let mut out = Vec::with_capacity(names.len());
        let mut wanted = Vec::with_capacity(names.len());
        for name in names {
            let path = workspace.join(name);
            let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file());
            let Some(meta) = meta else {
                out.push(PromptFile {
                    name: name.clone(),
                    stamp: None,
                    text: None,
                    unread: 0,
                });
                continue;
            };
            let stamp = Stamp::of(&meta);
            let fresh = self.cache.get(&path).is_some_and(|c| c.stamp == stamp);
            if !fresh {
                reads.fetch_add(1, Ordering::Relaxed);
                let cached = match read_prefix(&path, MAX_READ_BYTES) {
                    Ok(bytes) => {
                        let text = strip_comments(&String::from_utf8_lossy(&bytes));
                        Cached {
                            stamp,
                            text: (!text.is_empty()).then(|| Arc::from(text)),
                            unread: stamp.len.saturating_sub(bytes.len() as u64),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot read a workspace file; leaving it out of the prompt");
                        Cached {
                            stamp,
                            text: None,
                            unread: 0,
                        }
                    }
                };
                self.cache.insert(path.clone(), cached);
            }
            if let Some(c) = self.cache.get(&path) {
                out.push(PromptFile {
                    name: name.clone(),
                    stamp: Some(stamp),
                    text: c.text.clone(),
                    unread: c.unread,
                });
            }
            wanted.push(path);
        }
        self.cache.retain(|p, _| wanted.contains(p));
        out
    }
}

fn read_prefix(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Limits on what the workspace adds to the prompt, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Per file (`bootstrapMaxChars`).
    pub per_file: usize,
    /// All files together (`bootstrapTotalMaxChars`).
    pub total: usize,
}

/// The prompt's workspace section: each file with text under a heading with its name, cut to
/// the caps with a note saying how much was left out. `None` when no file has text.
pub fn render(workspace: &Path, files: &[PromptFile], caps: Caps) -> Option<String> {
    if files.iter().all(|f| f.text.is_none()) {
        return None;
    }
    let mut out = format!(
        "# Workspace\nYour workspace is {}. These files from it are loaded at the start of every \
         conversation; keep them current and short.\n",
        workspace.display()
    );
    let mut budget = caps.total;
    for file in files {
        let Some(text) = &file.text else { continue };
        let allowed = caps.per_file.min(budget);
        let kept = crate::util::truncate_chars(text, allowed);
        budget -= kept.len();
        let _ = write!(out, "\n## {}\n", file.name);
        if !kept.trim_end().is_empty() {
            let _ = writeln!(out, "{}", kept.trim_end());
        }
        let cut = (text.len() - kept.len()) as u64 + file.unread;
        if cut > 0 {
            let _ = writeln!(out, "[truncated: {cut} more bytes in {}]", file.name);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PromptFile {
        PromptFile {
            name: name.to_owned(),
            stamp: None,
            text: Some(Arc::from(text)),
            unread: 0,
        }
    }

    #[test]
    fn seeding_writes_private_templates_once_and_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let written = seed(&ws).unwrap();
        assert_eq!(written.len(), TEMPLATES.len());
        assert!(ws.join(MEMORY_DIR).is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&ws), 0o700);
            assert_eq!(mode(&ws.join(MEMORY_DIR)), 0o700);
            for (name, _) in TEMPLATES {
                assert_eq!(mode(&ws.join(name)), 0o600, "{name}");
            }
        }
        std::fs::write(ws.join("SOUL.md"), "mine").unwrap();
        std::fs::remove_file(ws.join("USER.md")).unwrap();
        assert!(seed(&ws).unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(ws.join("SOUL.md")).unwrap(), "mine");
        assert!(!ws.join("USER.md").exists());
    }

    #[test]
    fn a_workspace_with_any_file_is_not_seeded() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("MEMORY.md"), "facts").unwrap();
        assert!(seed(tmp.path()).unwrap().is_empty());
        assert!(!tmp.path().join("AGENTS.md").exists());
    }

    #[test]
    fn comment_only_templates_cost_nothing() {
        for (name, template) in TEMPLATES {
            let kept = strip_comments(template);
            match name {
                "AGENTS.md" | "SOUL.md" => assert!(!kept.is_empty(), "{name}"),
                _ => assert!(kept.is_empty(), "{name} would be in the prompt: {kept}"),
            }
        }
        assert_eq!(
            strip_comments("a<!-- x -->b\n\n<!--\ny\n-->\n\n\nc"),
            "ab\n\nc"
        );
        assert_eq!(strip_comments("keep <!-- unclosed"), "keep");
    }

    #[test]
    fn daily_notes_follow_the_fixed_files() {
        let names = prompt_file_names(jiff::civil::date(2026, 3, 1));
        assert_eq!(
            names,
            [
                "AGENTS.md",
                "SOUL.md",
                "IDENTITY.md",
                "USER.md",
                "TOOLS.md",
                "MEMORY.md",
                "memory/2026-02-28.md",
                "memory/2026-03-01.md"
            ]
        );
    }

    #[test]
    fn files_are_cut_per_file_and_in_total_on_char_boundaries() {
        let files = [
            file("AGENTS.md", "ééééé"),
            file("SOUL.md", "abcdef"),
            file("MEMORY.md", "xyz"),
        ];
        let out = render(
            Path::new("/w"),
            &files,
            Caps {
                per_file: 5,
                total: 9,
            },
        )
        .unwrap();
        assert!(
            out.contains("## AGENTS.md\néé\n[truncated: 6 more bytes in AGENTS.md]"),
            "{out}"
        );
        assert!(
            out.contains("## SOUL.md\nabcde\n[truncated: 1 more bytes in SOUL.md]"),
            "{out}"
        );
        assert!(
            out.contains("## MEMORY.md\n[truncated: 3 more bytes in MEMORY.md]"),
            "{out}"
        );
        assert!(
            render(
                Path::new("/w"),
                &[],
                Caps {
                    per_file: 1,
                    total: 1
                }
            )
            .is_none()
        );
    }

    #[test]
    fn unchanged_files_are_not_read_again() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("SOUL.md"), "calm").unwrap();
        std::fs::write(tmp.path().join("USER.md"), "<!-- nothing -->").unwrap();
        let names = prompt_file_names(jiff::civil::date(2026, 5, 17));
        let reads = AtomicU64::new(0);
        let mut files = WorkspaceFiles::new();
        let first = files.load(tmp.path(), &names, &reads);
        assert_eq!(reads.load(Ordering::Relaxed), 2);
        let soul = first.iter().find(|f| f.name == "SOUL.md").unwrap();
        assert_eq!(soul.text.as_deref(), Some("calm"));
        assert!(
            first
                .iter()
                .find(|f| f.name == "USER.md")
                .unwrap()
                .text
                .is_none()
        );
        for _ in 0..10 {
            assert_eq!(files.load(tmp.path(), &names, &reads), first);
        }
        assert_eq!(reads.load(Ordering::Relaxed), 2);
        std::fs::write(tmp.path().join("SOUL.md"), "lively").unwrap();
        let next = files.load(tmp.path(), &names, &reads);
        assert_eq!(reads.load(Ordering::Relaxed), 3);
        let soul = next.iter().find(|f| f.name == "SOUL.md").unwrap();
        assert_eq!(soul.text.as_deref(), Some("lively"));
    }
}

//! File tools confined to the agent's workspace: `read`, `write`, `edit`, `ls`, `glob`, `grep`.
//!
//! Every path goes through [`resolve`]: relative paths are taken from the workspace, absolute
//! ones must lie inside it, `..` may not climb out of it, and the deepest part of the path that
//! exists is canonicalised so a symlink pointing outside is refused too. Reads and writes are
//! capped; files are written owner-only (0600) and atomically. The blocking file work runs on
//! tokio's blocking threads.

use std::io::{BufRead, Read};
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use hearth_providers::ToolSpec;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};

/// Largest text `read` returns in one call.
pub const MAX_READ_BYTES: usize = 256 * 1024;
/// Largest file `write`, `edit` and `apply_patch` produce.
pub const MAX_WRITE_BYTES: usize = 1024 * 1024;
/// Entries listed by `ls` and paths answered by `glob`.
const MAX_LISTED: usize = 500;
/// Directory entries `glob` and `grep` look at before they stop.
const MAX_SCANNED: usize = 20_000;
/// Files larger than this are skipped by `grep`.
const MAX_GREP_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// Characters of one matching line shown by `grep`.
const GREP_LINE_CHARS: usize = 240;
/// Bytes looked at to decide that a file is binary.
const SNIFF_BYTES: usize = 8 * 1024;

/// A path inside the workspace, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePath {
    /// The real path, symlinks resolved as far as the path exists.
    pub abs: PathBuf,
    /// The path relative to the workspace, with `/`, for messages (`.` for the root).
    pub rel: String,
}

/// The canonical workspace directory, created (0700) when missing.
pub fn workspace_root(workspace: &Path) -> Result<PathBuf, ToolError> {
    if !workspace.exists() {
        create_private_dirs(workspace)?;
    }
    workspace
        .canonicalize()
        .map_err(|e| ToolError::io("the workspace is not usable", e))
}

/// Resolves `given` inside the workspace, refusing anything that would leave it.
pub fn resolve(workspace: &Path, given: &str) -> Result<WorkspacePath, ToolError> {
    let root = workspace_root(workspace)?;
    let given = given.trim();
    let given = if given.is_empty() { "." } else { given };
    let path = Path::new(given);
    let relative: PathBuf = if path.is_absolute() {
        let inside = path
            .strip_prefix(&root)
            .or_else(|_| path.strip_prefix(workspace));
        match inside {
            Ok(rest) => rest.to_path_buf(),
            Err(_) => {
                return Err(ToolError::Refused(format!(
                    "`{given}` is outside the workspace; use a path relative to the workspace"
                )));
            }
        }
    } else {
        path.to_path_buf()
    };
    let mut normal = PathBuf::new();
    for part in relative.components() {
        match part {
            Component::Normal(p) => normal.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    return Err(ToolError::Refused(format!(
                        "`{given}` leaves the workspace through `..`; paths must stay inside it"
                    )));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(ToolError::Refused(format!(
                    "`{given}` is not a path inside the workspace"
                )));
            }
        }
    }
    let joined = root.join(&normal);
    // The deepest existing ancestor decides where the path really goes; what follows it does
    // not exist yet, so it cannot be a symlink.
    let mut existing = joined.as_path();
    let mut tail: Vec<&std::ffi::OsStr> = Vec::new();
    let real_base = loop {
        match existing.canonicalize() {
            Ok(real) => break real,
            Err(_) => {
                if existing.symlink_metadata().is_ok() {
                    return Err(ToolError::Refused(format!(
                        "`{given}` is a symlink whose target does not exist (or cannot be read); it is not followed"
                    )));
                }
                match (existing.parent(), existing.file_name()) {
                    (Some(parent), Some(name)) => {
                        tail.push(name);
                        existing = parent;
                    }
                    _ => {
                        return Err(ToolError::Refused(format!("`{given}` cannot be resolved")));
                    }
                }
            }
        }
    };
    let mut abs = real_base;
    abs.extend(tail.iter().rev());
    let Ok(rel) = abs.strip_prefix(&root) else {
        return Err(ToolError::Refused(format!(
            "`{given}` resolves outside the workspace (through a symlink); it is not followed"
        )));
    };
    let rel = rel_string(rel);
    Ok(WorkspacePath { abs, rel })
}

fn rel_string(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// Creates directories owner-only.
pub fn create_private_dirs(dir: &Path) -> Result<(), ToolError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| ToolError::io(format!("cannot create {}", dir.display()), e))
}

/// Writes a file owner-only (0600), creating its directories; refuses more than
/// [`MAX_WRITE_BYTES`].
pub fn write_file(path: &WorkspacePath, contents: &[u8]) -> Result<(), ToolError> {
    if contents.len() > MAX_WRITE_BYTES {
        return Err(ToolError::Refused(format!(
            "{} bytes is more than the {MAX_WRITE_BYTES} bytes a file may have here",
            contents.len()
        )));
    }
    if path.abs.is_dir() {
        return Err(ToolError::Refused(format!("`{}` is a directory", path.rel)));
    }
    if let Some(parent) = path.abs.parent() {
        create_private_dirs(parent)?;
    }
    crate::home::write_private(&path.abs, contents)
        .map_err(|e| ToolError::io(format!("cannot write {}", path.rel), e))
}

/// Reads a whole text file for editing; refuses files larger than [`MAX_WRITE_BYTES`] and
/// binary files.
pub fn read_text_for_edit(path: &WorkspacePath) -> Result<String, ToolError> {
    let meta = std::fs::metadata(&path.abs)
        .map_err(|e| ToolError::io(format!("cannot read {}", path.rel), e))?;
    if !meta.is_file() {
        return Err(ToolError::Refused(format!("`{}` is not a file", path.rel)));
    }
    if meta.len() > MAX_WRITE_BYTES as u64 {
        return Err(ToolError::Refused(format!(
            "`{}` has {} bytes; files over {MAX_WRITE_BYTES} bytes cannot be edited here",
            path.rel,
            meta.len()
        )));
    }
    let bytes = std::fs::read(&path.abs)
        .map_err(|e| ToolError::io(format!("cannot read {}", path.rel), e))?;
    String::from_utf8(bytes).map_err(|_| {
        ToolError::Refused(format!(
            "`{}` is not UTF-8 text; it cannot be edited here",
            path.rel
        ))
    })
}

/// Runs blocking file work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ToolError::Failed(format!("the tool's task failed: {e}")))?
}

fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters,
    }
}

fn finish(result: Result<String, ToolError>) -> ToolOutput {
    match result {
        Ok(text) => ToolOutput::ok(text),
        Err(e) => e.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// read

/// `read`: a text file, or a window of its lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadArgs {
    path: String,
    offset: Option<u64>,
    limit: Option<u64>,
}

#[async_trait]
impl Tool for ReadTool {
    fn spec(&self) -> ToolSpec {
        spec(
            "read",
            "Read a text file in the workspace. Answers at most 256 KiB; for longer files read a window with offset (first line, from 1) and limit (number of lines).",
            json!({
                "type": "object",
                "properties": {
                    "path": { "type": "string", "description": "Path relative to the workspace." },
                    "offset": { "type": "integer", "minimum": 1, "description": "First line to read, from 1." },
                    "limit": { "type": "integer", "minimum": 1, "description": "Most lines to read." }
                },
                "required": ["path"]
            }),
        )
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let mut args: ReadArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match ctx.scoped_path(&args.path) {
            Ok(p) => args.path = p,
            Err(e) => return e.into(),
        }
        let workspace = ctx.workspace.clone();
        finish(blocking(move || read_lines(&workspace, &args)).await)
    }
}

fn read_lines(workspace: &Path, args: &ReadArgs) -> Result<String, ToolError> {
    let path = resolve(workspace, &args.path)?;
    let file = std::fs::File::open(&path.abs)
        .map_err(|e| ToolError::io(format!("cannot read {}", path.rel), e))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(ToolError::Refused(format!(
            "`{}` is a directory; use ls",
            path.rel
        )));
    }
    let mut reader = std::io::BufReader::new(file);
    if reader
        .fill_buf()
        .map_err(|e| ToolError::io(format!("cannot read {}", path.rel), e))?
        .iter()
        .take(SNIFF_BYTES)
        .any(|b| *b == 0)
    {
        return Err(ToolError::Refused(format!(
            "`{}` is a binary file; read shows text only",
            path.rel
        )));
    }
    let first = args.offset.unwrap_or(1).max(1);
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut out = String::new();
    let mut line_no = 0u64;
    let mut shown = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| ToolError::io(format!("cannot read {}", path.rel), e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if line_no < first {
            continue;
        }
        if shown >= limit {
            out.push_str(&format!(
                "\n[more lines follow; continue with offset={line_no}]"
            ));
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        if out.len() + line.len() > MAX_READ_BYTES {
            if shown == 0 {
                // One line longer than the cap: show its start rather than nothing.
                out.push_str(crate::util::truncate_chars(&line, MAX_READ_BYTES));
                out.push_str(&format!(
                    "\n[line {line_no} is cut at {MAX_READ_BYTES} bytes]"
                ));
            } else {
                out.push_str(&format!(
                    "\n[cut at {MAX_READ_BYTES} bytes; continue with offset={line_no}]"
                ));
            }
            break;
        }
        out.push_str(&line);
        shown += 1;
    }
    if line_no < first && first > 1 {
        return Err(ToolError::Refused(format!(
            "`{}` has {line_no} lines; offset {first} is past its end",
            path.rel
        )));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// write

/// `write`: creates or replaces a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WriteArgs {
    path: String,
    content: String,
}

#[async_trait]
impl Tool for WriteTool {
    fn spec(&self) -> ToolSpec {
        spec(
            "write",
            "Create or replace a file in the workspace with the given content (at most 1 MiB). Missing directories are created.",
            json!({
                "type": "object",
                "properties": {
                    "path": { "type": "string", "description": "Path relative to the workspace." },
                    "content": { "type": "string", "description": "The whole new content of the file." }
                },
                "required": ["path", "content"]
            }),
        )
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let mut args: WriteArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match ctx.scoped_path(&args.path) {
            Ok(p) => args.path = p,
            Err(e) => return e.into(),
        }
        let workspace = ctx.workspace.clone();
        finish(
            blocking(move || {
                let path = resolve(&workspace, &args.path)?;
                write_file(&path, args.content.as_bytes())?;
                Ok(format!(
                    "wrote {} bytes to {}",
                    args.content.len(),
                    path.rel
                ))
            })
            .await,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// edit

/// `edit`: replaces one exact occurrence of a string.
#[derive(Debug, Clone, Copy, Default)]
pub struct EditTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditArgs {
    path: String,
    old_text: String,
    new_text: String,
}

#[async_trait]
impl Tool for EditTool {
    fn spec(&self) -> ToolSpec {
        spec(
            "edit",
            "Replace exactly one occurrence of oldText with newText in a workspace file. oldText must match the file exactly (whitespace included) and occur once; include surrounding lines to make it unique.",
            json!({
                "type": "object",
                "properties": {
                    "path": { "type": "string", "description": "Path relative to the workspace." },
                    "oldText": { "type": "string", "description": "The exact text to replace." },
                    "newText": { "type": "string", "description": "The text to put in its place." }
                },
                "required": ["path", "oldText", "newText"]
            }),
        )
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let mut args: EditArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match ctx.scoped_path(&args.path) {
            Ok(p) => args.path = p,
            Err(e) => return e.into(),
        }
        let workspace = ctx.workspace.clone();
        finish(blocking(move || edit_file(&workspace, &args)).await)
    }
}

fn edit_file(workspace: &Path, args: &EditArgs) -> Result<String, ToolError> {
    if args.old_text.is_empty() {
        return Err(ToolError::Arguments(
            "`oldText` is empty; to create a file use write".to_owned(),
        ));
    }
    let path = resolve(workspace, &args.path)?;
    let text = read_text_for_edit(&path)?;
    let count = text.matches(&args.old_text).count();
    match count {
        0 => Err(ToolError::Refused(format!(
            "oldText was not found in {}; read the file and copy the text exactly, whitespace included",
            path.rel
        ))),
        1 => {
            let updated = text.replacen(&args.old_text, &args.new_text, 1);
            write_file(&path, updated.as_bytes())?;
            Ok(format!("edited {}", path.rel))
        }
        n => Err(ToolError::Refused(format!(
            "oldText occurs {n} times in {}; include more of the surrounding text so it occurs once",
            path.rel
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// ls

/// `ls`: a directory's entries.
#[derive(Debug, Clone, Copy, Default)]
pub struct LsTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LsArgs {
    path: Option<String>,
}

#[async_trait]
impl Tool for LsTool {
    fn spec(&self) -> ToolSpec {
        spec(
            "ls",
            "List a directory of the workspace (default: its root). Directories end with `/`; files show their size.",
            json!({
                "type": "object",
                "properties": {
                    "path": { "type": "string", "description": "Directory relative to the workspace." }
                }
            }),
        )
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let mut args: LsArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match ctx.scoped_path(args.path.as_deref().unwrap_or(".")) {
            Ok(p) => args.path = Some(p),
            Err(e) => return e.into(),
        }
        let workspace = ctx.workspace.clone();
        finish(blocking(move || list_dir(&workspace, args.path.as_deref().unwrap_or("."))).await)
    }
}

fn list_dir(workspace: &Path, given: &str) -> Result<String, ToolError> {
    let dir = resolve(workspace, given)?;
    let entries = std::fs::read_dir(&dir.abs)
        .map_err(|e| ToolError::io(format!("cannot list {}", dir.rel), e))?;
    let mut lines: Vec<String> = Vec::new();
    let mut total = 0usize;
    for entry in entries.flatten() {
        total += 1;
        if lines.len() >= MAX_LISTED {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let line = match entry.file_type() {
            Ok(t) if t.is_dir() => format!("{name}/"),
            Ok(t) if t.is_symlink() => format!("{name}@"),
            _ => {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                format!("{name}  ({size} bytes)")
            }
        };
        lines.push(line);
    }
    lines.sort();
    if lines.is_empty() {
        return Ok(format!("{} is empty", dir.rel));
    }
    let mut out = lines.join("\n");
    if total > lines.len() {
        out.push_str(&format!(
            "\n[{} more entries not shown]",
            total - lines.len()
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// glob

/// `glob`: files whose path matches a pattern.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlobArgs {
    pattern: String,
    path: Option<String>,
}

#[async_trait]
impl Tool for GlobTool {
    fn spec(&self) -> ToolSpec {
        spec(
            "glob",
            "Find workspace files whose path (relative to `path`, default the workspace root) matches a glob: `*` and `?` within one path segment, `**/` for any depth, `{a,b}` alternatives, `[abc]` classes. Example: `**/*.md`.",
            json!({
                "type": "object",
                "properties": {
                    "pattern": { "type": "string", "description": "The glob, e.g. `src/**/*.rs`." },
                    "path": { "type": "string", "description": "Directory to search from." }
                },
                "required": ["pattern"]
            }),
        )
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let mut args: GlobArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match ctx.scoped_path(args.path.as_deref().unwrap_or(".")) {
            Ok(p) => args.path = Some(p),
            Err(e) => return e.into(),
        }
        let workspace = ctx.workspace.clone();
        finish(blocking(move || glob_files(&workspace, &args)).await)
    }
}

fn glob_files(workspace: &Path, args: &GlobArgs) -> Result<String, ToolError> {
    let base = resolve(workspace, args.path.as_deref().unwrap_or("."))?;
    let matcher = glob_regex(&args.pattern)?;
    let root = workspace_root(workspace)?;
    let mut found = Vec::new();
    let walk = walk_files(&base.abs, &mut |file, rel_to_base| {
        if matcher.is_match(rel_to_base) {
            found.push(rel_string(file.strip_prefix(&root).unwrap_or(file)));
        }
        found.len() < MAX_LISTED
    });
    found.sort();
    if found.is_empty() {
        return Ok(format!("no files match `{}`", args.pattern));
    }
    let mut out = found.join("\n");
    if found.len() >= MAX_LISTED {
        out.push_str(&format!(
            "\n[stopped at {MAX_LISTED} files; narrow the pattern]"
        ));
    } else if walk.truncated {
        out.push_str(&format!(
            "\n[stopped after looking at {MAX_SCANNED} entries; search a subdirectory]"
        ));
    }
    Ok(out)
}

/// A glob as an anchored regex over `/`-separated relative paths.
pub fn glob_regex(glob: &str) -> Result<Regex, ToolError> {
    let mut re = String::from("^");
    let chars: Vec<char> = glob.trim().trim_start_matches("./").chars().collect();
    let mut i = 0;
    let mut braces = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    i += 1;
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '{' => {
                braces += 1;
                re.push_str("(?:");
            }
            '}' if braces > 0 => {
                braces -= 1;
                re.push(')');
            }
            ',' if braces > 0 => re.push('|'),
            '[' => {
                let close = chars[i + 1..].iter().position(|c| *c == ']');
                match close {
                    Some(len) if len > 0 => {
                        let class: String = chars[i + 1..i + 1 + len].iter().collect();
                        let class = class
                            .strip_prefix('!')
                            .map_or(class.clone(), |rest| format!("^{rest}"));
                        re.push('[');
                        re.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                        re.push(']');
                        i += len + 1;
                    }
                    _ => re.push_str("\\["),
                }
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    if braces > 0 {
        return Err(ToolError::Arguments(format!(
            "the glob `{glob}` has an unclosed `{{`"
        )));
    }
    re.push('$');
    Regex::new(&re).map_err(|e| ToolError::Arguments(format!("the glob `{glob}` is invalid: {e}")))
}

struct Walk {
    truncated: bool,
}

/// Visits the regular files under `base` (not following symlinks, skipping `.git`), in sorted
/// order; `visit` gets the path and its `/`-separated path relative to `base`, and answers
/// whether to go on.
fn walk_files(base: &Path, visit: &mut dyn FnMut(&Path, &str) -> bool) -> Walk {
    let mut scanned = 0usize;
    let mut stack = vec![base.to_path_buf()];
    if base.is_file() {
        let name = base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        visit(base, &name);
        return Walk { truncated: false };
    }
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            scanned += 1;
            if scanned > MAX_SCANNED {
                return Walk { truncated: true };
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                // Conversations' memories are only reached by naming them (see `scope`).
                let memories = dir == base
                    && super::scope::SCOPE_ROOTS
                        .iter()
                        .any(|r| entry.file_name() == *r);
                if entry.file_name() != ".git" && !memories {
                    subdirs.push(path);
                }
            } else if kind.is_file() {
                let rel = rel_string(path.strip_prefix(base).unwrap_or(&path));
                if !visit(&path, &rel) {
                    return Walk { truncated: false };
                }
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Walk { truncated: false }
}

// ---------------------------------------------------------------------------------------------
// grep

/// `grep`: lines matching a regex.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrepTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrepArgs {
    pattern: String,
    path: Option<String>,
    glob: Option<String>,
    ignore_case: Option<bool>,
    max_results: Option<u64>,
}

const GREP_DEFAULT_RESULTS: usize = 100;
const GREP_MAX_RESULTS: u64 = 500;

#[async_trait]
impl Tool for GrepTool {
    fn spec(&self) -> ToolSpec {
        spec(
            "grep",
            "Search workspace files for lines matching a regular expression (Rust regex syntax). Answers `path:line: text`, at most maxResults lines (default 100). Binary files and files over 2 MiB are skipped.",
            json!({
                "type": "object",
                "properties": {
                    "pattern": { "type": "string", "description": "Regular expression." },
                    "path": { "type": "string", "description": "File or directory to search (default: the workspace)." },
                    "glob": { "type": "string", "description": "Only files whose path matches this glob, e.g. `**/*.md`." },
                    "ignoreCase": { "type": "boolean" },
                    "maxResults": { "type": "integer", "minimum": 1, "maximum": GREP_MAX_RESULTS }
                },
                "required": ["pattern"]
            }),
        )
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let mut args: GrepArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match ctx.scoped_path(args.path.as_deref().unwrap_or(".")) {
            Ok(p) => args.path = Some(p),
            Err(e) => return e.into(),
        }
        let workspace = ctx.workspace.clone();
        finish(blocking(move || grep_files(&workspace, &args)).await)
    }
}

fn grep_files(workspace: &Path, args: &GrepArgs) -> Result<String, ToolError> {
    let base = resolve(workspace, args.path.as_deref().unwrap_or("."))?;
    let regex = regex::RegexBuilder::new(&args.pattern)
        .case_insensitive(args.ignore_case.unwrap_or(false))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ToolError::Arguments(format!("`pattern` is not a valid regex: {e}")))?;
    let filter = args.glob.as_deref().map(glob_regex).transpose()?;
    let max = args
        .max_results
        .map_or(GREP_DEFAULT_RESULTS, |m| m.min(GREP_MAX_RESULTS) as usize);
    let root = workspace_root(workspace)?;
    let mut hits = Vec::new();
    let mut capped = false;
    let walk = walk_files(&base.abs, &mut |file, rel_to_base| {
        if filter.as_ref().is_some_and(|f| !f.is_match(rel_to_base)) {
            return true;
        }
        let rel = rel_string(file.strip_prefix(&root).unwrap_or(file));
        grep_file(file, &rel, &regex, &mut hits, max);
        if hits.len() >= max {
            capped = true;
            return false;
        }
        true
    });
    if hits.is_empty() {
        return Ok(format!("no lines match `{}`", args.pattern));
    }
    let mut out = hits.join("\n");
    if capped {
        out.push_str(&format!("\n[stopped at {max} matches; narrow the search]"));
    } else if walk.truncated {
        out.push_str(&format!(
            "\n[stopped after looking at {MAX_SCANNED} entries; search a subdirectory]"
        ));
    }
    Ok(out)
}

fn grep_file(file: &Path, rel: &str, regex: &Regex, hits: &mut Vec<String>, max: usize) {
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    if meta.len() > MAX_GREP_FILE_BYTES {
        return;
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes));
    if read.is_err() || bytes.iter().take(SNIFF_BYTES).any(|b| *b == 0) {
        return;
    }
    let text = String::from_utf8_lossy(&bytes);
    for (i, line) in text.lines().enumerate() {
        if regex.is_match(line) {
            let shown = line.trim_end();
            let cut = crate::util::truncate_chars(shown, GREP_LINE_CHARS);
            let ellipsis = if cut.len() < shown.len() { "…" } else { "" };
            hits.push(format!("{rel}:{}: {cut}{ellipsis}", i + 1));
            if hits.len() >= max {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    async fn call(tool: &dyn Tool, ctx: &ToolContext, args: Value) -> ToolOutput {
        tool.call(ctx, args).await
    }

    #[test]
    fn paths_inside_resolve_and_escapes_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        std::fs::write(tmp.path().join("secret.txt"), "s").unwrap();
        let root = ws.canonicalize().unwrap();

        assert_eq!(resolve(&ws, "a.txt").unwrap().abs, root.join("a.txt"));
        assert_eq!(resolve(&ws, "sub/../b/c.txt").unwrap().rel, "b/c.txt");
        assert_eq!(resolve(&ws, "").unwrap().rel, ".");
        assert_eq!(
            resolve(&ws, &root.join("sub/x").display().to_string())
                .unwrap()
                .rel,
            "sub/x"
        );
        for bad in [
            "../secret.txt",
            "sub/../../secret.txt",
            "/etc/passwd",
            &tmp.path().join("secret.txt").display().to_string(),
        ] {
            let err = resolve(&ws, bad).unwrap_err();
            assert!(matches!(err, ToolError::Refused(_)), "{bad}: {err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_workspace_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink(&outside, ws.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret.txt"), ws.join("file-link")).unwrap();
        std::os::unix::fs::symlink(outside.join("missing"), ws.join("dangling")).unwrap();
        std::fs::write(ws.join("inside.txt"), "i").unwrap();
        std::os::unix::fs::symlink(ws.join("inside.txt"), ws.join("ok-link")).unwrap();

        for bad in ["link/secret.txt", "link/new.txt", "file-link", "dangling"] {
            let err = resolve(&ws, bad).unwrap_err();
            assert!(err.to_string().contains("symlink"), "{bad}: {err}");
        }
        assert_eq!(resolve(&ws, "ok-link").unwrap().rel, "inside.txt");
    }

    #[tokio::test]
    async fn write_then_read_with_offset_limit_and_caps() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let content: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        let out = call(
            &WriteTool,
            &ctx,
            json!({"path": "notes/a.txt", "content": content}),
        )
        .await;
        assert!(!out.is_error, "{out:?}");
        let file = ctx.workspace.join("notes/a.txt");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let out = call(&ReadTool, &ctx, json!({"path": "notes/a.txt"})).await;
        assert_eq!(out.text, content);
        let out = call(
            &ReadTool,
            &ctx,
            json!({"path": "notes/a.txt", "offset": 3, "limit": 2}),
        )
        .await;
        assert_eq!(
            out.text,
            "line 3\nline 4\n\n[more lines follow; continue with offset=5]"
        );
        let out = call(
            &ReadTool,
            &ctx,
            json!({"path": "notes/a.txt", "offset": 50}),
        )
        .await;
        assert!(out.is_error && out.text.contains("past its end"), "{out:?}");

        let big = "x".repeat(MAX_WRITE_BYTES + 1);
        let out = call(&WriteTool, &ctx, json!({"path": "big.txt", "content": big})).await;
        assert!(out.is_error && out.text.contains("bytes"), "{out:?}");
        assert!(!ctx.workspace.join("big.txt").exists());

        let long: String = (0..40_000).map(|i| format!("{i:07}\n")).collect();
        std::fs::write(ctx.workspace.join("long.txt"), &long).unwrap();
        let out = call(&ReadTool, &ctx, json!({"path": "long.txt"})).await;
        assert!(out.text.len() <= MAX_READ_BYTES + 100, "{}", out.text.len());
        assert!(out.text.contains("continue with offset="), "cut note");

        std::fs::write(ctx.workspace.join("bin"), b"\x00\x01\x02").unwrap();
        let out = call(&ReadTool, &ctx, json!({"path": "bin"})).await;
        assert!(out.is_error && out.text.contains("binary"));
        let out = call(&ReadTool, &ctx, json!({"path": "../outside"})).await;
        assert!(out.is_error && out.text.contains(".."), "{out:?}");
        let out = call(&WriteTool, &ctx, json!({"path": "/tmp/x", "content": "x"})).await;
        assert!(out.is_error && out.text.contains("outside"), "{out:?}");
    }

    #[tokio::test]
    async fn edit_needs_exactly_one_occurrence() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        std::fs::create_dir_all(&ctx.workspace).unwrap();
        std::fs::write(ctx.workspace.join("f.txt"), "alpha beta\nbeta gamma\n").unwrap();
        let edit = |old: &str, new: &str| json!({"path": "f.txt", "oldText": old, "newText": new});

        let out = call(&EditTool, &ctx, edit("beta", "B")).await;
        assert!(
            out.is_error && out.text.contains("occurs 2 times"),
            "{out:?}"
        );
        let out = call(&EditTool, &ctx, edit("delta", "D")).await;
        assert!(out.is_error && out.text.contains("not found"), "{out:?}");
        let out = call(&EditTool, &ctx, edit("", "D")).await;
        assert!(out.is_error, "{out:?}");
        let out = call(&EditTool, &ctx, edit("beta gamma", "BETA")).await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(
            std::fs::read_to_string(ctx.workspace.join("f.txt")).unwrap(),
            "alpha beta\nBETA\n"
        );
    }

    #[tokio::test]
    async fn ls_glob_and_grep_find_files() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let ws = &ctx.workspace;
        std::fs::create_dir_all(ws.join("docs/deep")).unwrap();
        std::fs::create_dir_all(ws.join(".git")).unwrap();
        std::fs::write(ws.join("README.md"), "Hello\nTODO: one\n").unwrap();
        std::fs::write(ws.join("docs/a.md"), "nothing\n").unwrap();
        std::fs::write(ws.join("docs/deep/b.md"), "todo: two\n").unwrap();
        std::fs::write(ws.join("docs/deep/c.txt"), "TODO: three\n").unwrap();
        std::fs::write(ws.join(".git/config"), "TODO: hidden\n").unwrap();

        let out = call(&LsTool, &ctx, json!({})).await;
        assert_eq!(out.text, ".git/\nREADME.md  (16 bytes)\ndocs/");

        let out = call(&GlobTool, &ctx, json!({"pattern": "**/*.md"})).await;
        assert_eq!(out.text, "README.md\ndocs/a.md\ndocs/deep/b.md");
        let out = call(&GlobTool, &ctx, json!({"pattern": "*.md"})).await;
        assert_eq!(out.text, "README.md");
        let out = call(
            &GlobTool,
            &ctx,
            json!({"pattern": "deep/*.{md,txt}", "path": "docs"}),
        )
        .await;
        assert_eq!(out.text, "docs/deep/b.md\ndocs/deep/c.txt");

        let out = call(&GrepTool, &ctx, json!({"pattern": "TODO"})).await;
        assert_eq!(
            out.text,
            "README.md:2: TODO: one\ndocs/deep/c.txt:1: TODO: three"
        );
        let out = call(
            &GrepTool,
            &ctx,
            json!({"pattern": "todo", "ignoreCase": true, "glob": "**/*.md"}),
        )
        .await;
        assert_eq!(
            out.text,
            "README.md:2: TODO: one\ndocs/deep/b.md:1: todo: two"
        );
        let out = call(
            &GrepTool,
            &ctx,
            json!({"pattern": "todo", "ignoreCase": true, "maxResults": 1}),
        )
        .await;
        assert!(
            out.text
                .starts_with("README.md:2: TODO: one\n[stopped at 1"),
            "{}",
            out.text
        );
        let out = call(&GrepTool, &ctx, json!({"pattern": "("})).await;
        assert!(out.is_error && out.text.contains("regex"));
    }

    #[test]
    fn globs_translate() {
        let m = |g: &str, p: &str| glob_regex(g).unwrap().is_match(p);
        assert!(m("*.rs", "main.rs") && !m("*.rs", "src/main.rs"));
        assert!(m("**/*.rs", "main.rs") && m("**/*.rs", "a/b/main.rs"));
        assert!(m("src/**", "src/a/b"));
        assert!(m("file?.[ch]", "file1.c") && !m("file?.[ch]", "file1.o"));
        assert!(m("[!a]*", "b.txt") && !m("[!a]*", "a.txt"));
        assert!(m("a.{md,txt}", "a.txt") && !m("a.{md,txt}", "a.rs"));
        assert!(!m("a+b", "aab") && m("a+b", "a+b"));
        assert!(glob_regex("{a,b").is_err());
    }
}

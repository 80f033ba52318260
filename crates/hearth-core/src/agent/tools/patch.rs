//! `apply_patch`: several file changes in one call, in the "*** Begin Patch" format.
//!
//! The format (the one OpenAI's models are trained to write):
//!
//! ```text
//! *** Begin Patch
//! *** Add File: notes/new.md
//! +first line
//! +second line
//! *** Update File: src/app.txt
//! *** Move to: src/renamed.txt        (optional)
//! @@ an anchor line near the change   (optional; `@@` alone separates hunks)
//!  context line
//! -removed line
//! +added line
//! *** End of File                     (optional: the hunk ends the file)
//! *** Delete File: old.txt
//! *** End Patch
//! ```
//!
//! Each hunk's context and removed lines must be found in the file, in order after the
//! previous hunk (exactly, else ignoring trailing and then surrounding whitespace). If any
//! hunk or file operation does not apply, nothing is written. Paths are confined to the
//! workspace like every file tool's.

use std::path::Path;

use async_trait::async_trait;
use hearth_providers::ToolSpec;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fs::{WorkspacePath, blocking, read_text_for_edit, resolve, write_file};
use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};

/// `apply_patch`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyPatchTool;

#[derive(Debug, Deserialize)]
struct PatchArgs {
    input: String,
}

#[async_trait]
impl Tool for ApplyPatchTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "apply_patch".to_owned(),
            description: "Apply a patch to workspace files. Format: `*** Begin Patch`, then per file `*** Add File: <path>` (every line prefixed `+`), `*** Delete File: <path>`, or `*** Update File: <path>` (optionally `*** Move to: <path>`) followed by hunks: an optional `@@ <anchor line>`, then lines prefixed ` ` (context), `-` (remove) or `+` (add); end with `*** End Patch`. If any part does not apply, nothing is changed.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "input": { "type": "string", "description": "The whole patch, from `*** Begin Patch` to `*** End Patch`." }
                },
                "required": ["input"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: PatchArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        let workspace = ctx.workspace.clone();
        let memory_dir = ctx.turn.memory_dir.clone();
        match blocking(move || apply_scoped(&workspace, memory_dir.as_deref(), &args.input)).await {
            Ok(summary) => ToolOutput::ok(summary),
            Err(e) => e.into(),
        }
    }
}

/// One file operation of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOp {
    Add {
        path: String,
        content: String,
    },
    Delete {
        path: String,
    },
    Update {
        path: String,
        move_to: Option<String>,
        hunks: Vec<Hunk>,
    },
}

/// One change inside a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hunk {
    pub anchor: Option<String>,
    pub lines: Vec<HunkLine>,
    /// The hunk must end at the end of the file.
    pub at_eof: bool,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    Context(String),
    Remove(String),
    Add(String),
}

impl Hunk {
    /// Context and removed lines, in order: what must be found.
    fn old(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(t) | HunkLine::Remove(t) => Some(t.clone()),
                HunkLine::Add(_) => None,
            })
            .collect()
    }

    /// What replaces the matched lines: the file's own context lines (which may differ in
    /// whitespace from the patch's) and the added ones.
    fn replacement(&self, matched: &[String]) -> Vec<String> {
        let mut file_lines = matched.iter();
        let mut out = Vec::new();
        for line in &self.lines {
            match line {
                HunkLine::Context(t) => out.push(file_lines.next().unwrap_or(t).clone()),
                HunkLine::Remove(_) => {
                    file_lines.next();
                }
                HunkLine::Add(t) => out.push(t.clone()),
            }
        }
        out
    }
}

fn bad(message: impl Into<String>) -> ToolError {
    ToolError::Arguments(message.into())
}

/// Parses a patch.
pub fn parse(input: &str) -> Result<Vec<FileOp>, ToolError> {
    let lines: Vec<&str> = input.trim().lines().collect();
    let mut i = 0;
    if lines.first().map(|l| l.trim()) != Some("*** Begin Patch") {
        return Err(bad("the patch must start with `*** Begin Patch`"));
    }
    i += 1;
    let mut ops = Vec::new();
    let mut ended = false;
    while i < lines.len() {
        let line = lines[i];
        if line.trim() == "*** End Patch" {
            ended = true;
            break;
        }
        if let Some(path) = line.strip_prefix("*** Add File: ") {
            i += 1;
            let mut content = String::new();
            while i < lines.len() && !lines[i].starts_with("*** ") {
                let Some(text) = lines[i].strip_prefix('+') else {
                    return Err(bad(format!(
                        "line {}: every line of an added file starts with `+`",
                        i + 1
                    )));
                };
                content.push_str(text);
                content.push('\n');
                i += 1;
            }
            ops.push(FileOp::Add {
                path: path.trim().to_owned(),
                content,
            });
        } else if let Some(path) = line.strip_prefix("*** Delete File: ") {
            ops.push(FileOp::Delete {
                path: path.trim().to_owned(),
            });
            i += 1;
        } else if let Some(path) = line.strip_prefix("*** Update File: ") {
            i += 1;
            let mut move_to = None;
            if let Some(to) = lines.get(i).and_then(|l| l.strip_prefix("*** Move to: ")) {
                move_to = Some(to.trim().to_owned());
                i += 1;
            }
            let mut hunks: Vec<Hunk> = Vec::new();
            let mut current: Option<Hunk> = None;
            while i < lines.len() {
                let l = lines[i];
                if l.trim() == "*** End of File" {
                    current.get_or_insert_with(Hunk::default).at_eof = true;
                    i += 1;
                    continue;
                }
                if l.starts_with("*** ") {
                    break;
                }
                if let Some(rest) = l.strip_prefix("@@") {
                    hunks.extend(current.take());
                    let anchor = rest.trim();
                    current = Some(Hunk {
                        anchor: (!anchor.is_empty()).then(|| anchor.to_owned()),
                        ..Hunk::default()
                    });
                    i += 1;
                    continue;
                }
                let hunk = current.get_or_insert_with(Hunk::default);
                match l.chars().next() {
                    Some('+') => hunk.lines.push(HunkLine::Add(l[1..].to_owned())),
                    Some('-') => hunk.lines.push(HunkLine::Remove(l[1..].to_owned())),
                    Some(' ') => hunk.lines.push(HunkLine::Context(l[1..].to_owned())),
                    // Models often drop the space of an empty context line.
                    None => hunk.lines.push(HunkLine::Context(String::new())),
                    Some(_) => {
                        return Err(bad(format!(
                            "line {}: a hunk line starts with ` `, `-` or `+`, found {l:?}",
                            i + 1
                        )));
                    }
                }
                i += 1;
            }
            hunks.extend(current.take());
            if hunks.is_empty() && move_to.is_none() {
                return Err(bad(format!(
                    "`*** Update File: {}` has no hunks",
                    path.trim()
                )));
            }
            ops.push(FileOp::Update {
                path: path.trim().to_owned(),
                move_to,
                hunks,
            });
        } else if line.trim().is_empty() {
            i += 1;
        } else {
            return Err(bad(format!(
                "line {}: expected `*** Add File:`, `*** Update File:`, `*** Delete File:` or `*** End Patch`, found {line:?}",
                i + 1
            )));
        }
    }
    if !ended {
        return Err(bad("the patch must end with `*** End Patch`"));
    }
    if ops.is_empty() {
        return Err(bad("the patch changes no file"));
    }
    Ok(ops)
}

/// Applies hunks to a file's text.
pub fn apply_hunks(text: &str, hunks: &[Hunk], rel: &str) -> Result<String, ToolError> {
    let had_newline = text.ends_with('\n');
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cursor = 0usize;
    for (n, hunk) in hunks.iter().enumerate() {
        let refuse = |what: String| {
            ToolError::Refused(format!(
                "hunk {} of {rel} does not apply: {what}; read the file and write the patch again (nothing was changed)",
                n + 1
            ))
        };
        if let Some(anchor) = &hunk.anchor {
            let found = (cursor..lines.len())
                .find(|&i| lines[i].trim() == anchor.trim())
                .or_else(|| (cursor..lines.len()).find(|&i| lines[i].contains(anchor.trim())));
            match found {
                Some(i) => cursor = i + 1,
                None => return Err(refuse(format!("the anchor line {anchor:?} was not found"))),
            }
        }
        let old = hunk.old();
        // Lines added without context go after their anchor, else at the end of the file.
        let at = if old.is_empty() {
            if hunk.anchor.is_some() && !hunk.at_eof {
                cursor
            } else {
                lines.len()
            }
        } else {
            match find_lines(&lines, &old, cursor, hunk.at_eof) {
                Some(i) => i,
                None => {
                    let preview: Vec<&str> = old.iter().take(3).map(String::as_str).collect();
                    return Err(refuse(format!(
                        "these lines were not found after line {cursor}: {preview:?}"
                    )));
                }
            }
        };
        let new = hunk.replacement(&lines[at..at + old.len()]);
        cursor = at + new.len();
        lines.splice(at..at + old.len(), new);
    }
    let mut out = lines.join("\n");
    if had_newline || text.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

/// The first index at or after `from` where `needle` matches `lines`: exactly, then ignoring
/// trailing whitespace, then ignoring surrounding whitespace.
fn find_lines(lines: &[String], needle: &[String], from: usize, at_eof: bool) -> Option<usize> {
    if needle.len() > lines.len() {
        return None;
    }
    let last = lines.len() - needle.len();
    let candidates: Vec<usize> = if at_eof {
        vec![last]
    } else {
        (from.min(last + 1)..=last).collect()
    };
    let passes: [fn(&str, &str) -> bool; 3] = [
        |a, b| a == b,
        |a, b| a.trim_end() == b.trim_end(),
        |a, b| a.trim() == b.trim(),
    ];
    passes.iter().find_map(|same| {
        candidates.iter().copied().find(|&i| {
            needle
                .iter()
                .enumerate()
                .all(|(k, n)| same(&lines[i + k], n))
        })
    })
}

enum Planned {
    Write(WorkspacePath, String),
    Remove(WorkspacePath),
}

/// Parses and applies a patch: every change is computed first, then written.
pub fn apply(workspace: &Path, input: &str) -> Result<String, ToolError> {
    apply_scoped(workspace, None, input)
}

/// [`apply`] in a memory scope: every path of the patch is mapped by [`super::scope`].
pub fn apply_scoped(
    workspace: &Path,
    memory_dir: Option<&Path>,
    input: &str,
) -> Result<String, ToolError> {
    let resolve =
        |ws: &Path, given: &str| resolve(ws, &super::scope::scoped_path(memory_dir, given)?);
    let ops = parse(input)?;
    let mut plan = Vec::new();
    let mut summary = Vec::new();
    for op in &ops {
        match op {
            FileOp::Add { path, content } => {
                let p = resolve(workspace, path)?;
                if p.abs.exists() {
                    return Err(ToolError::Refused(format!(
                        "`{}` already exists; use `*** Update File:` to change it (nothing was changed)",
                        p.rel
                    )));
                }
                summary.push(format!("A {}", p.rel));
                plan.push(Planned::Write(p, content.clone()));
            }
            FileOp::Delete { path } => {
                let p = resolve(workspace, path)?;
                if !p.abs.is_file() {
                    return Err(ToolError::Refused(format!(
                        "`{}` is not a file that can be deleted (nothing was changed)",
                        p.rel
                    )));
                }
                summary.push(format!("D {}", p.rel));
                plan.push(Planned::Remove(p));
            }
            FileOp::Update {
                path,
                move_to,
                hunks,
            } => {
                let p = resolve(workspace, path)?;
                let text = read_text_for_edit(&p)?;
                let updated = apply_hunks(&text, hunks, &p.rel)?;
                match move_to {
                    Some(to) => {
                        let target = resolve(workspace, to)?;
                        summary.push(format!("M {} -> {}", p.rel, target.rel));
                        plan.push(Planned::Write(target, updated));
                        plan.push(Planned::Remove(p));
                    }
                    None => {
                        summary.push(format!("M {}", p.rel));
                        plan.push(Planned::Write(p, updated));
                    }
                }
            }
        }
    }
    for step in &plan {
        if let Planned::Write(p, content) = step
            && content.len() > super::fs::MAX_WRITE_BYTES
        {
            return Err(ToolError::Refused(format!(
                "`{}` would have {} bytes, more than a file may have here (nothing was changed)",
                p.rel,
                content.len()
            )));
        }
    }
    for step in plan {
        match step {
            Planned::Write(p, content) => write_file(&p, content.as_bytes())?,
            Planned::Remove(p) => std::fs::remove_file(&p.abs)
                .map_err(|e| ToolError::io(format!("cannot delete {}", p.rel), e))?,
        }
    }
    Ok(format!("applied the patch:\n{}", summary.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunks(patch: &str) -> Vec<Hunk> {
        match parse(patch).unwrap().remove(0) {
            FileOp::Update { hunks, .. } => hunks,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hunks_apply_in_order_with_anchors() {
        let text = "fn a() {\n    1\n}\n\nfn b() {\n    1\n}\n";
        let patch =
            "*** Begin Patch\n*** Update File: x.rs\n@@ fn b() {\n-    1\n+    2\n*** End Patch";
        assert_eq!(
            apply_hunks(text, &hunks(patch), "x.rs").unwrap(),
            "fn a() {\n    1\n}\n\nfn b() {\n    2\n}\n"
        );
        let patch = "*** Begin Patch\n*** Update File: x.rs\n fn a() {\n-    1\n+    10\n }\n@@\n fn b() {\n-    1\n+    20\n*** End Patch";
        assert_eq!(
            apply_hunks(text, &hunks(patch), "x.rs").unwrap(),
            "fn a() {\n    10\n}\n\nfn b() {\n    20\n}\n"
        );
        let patch =
            "*** Begin Patch\n*** Update File: x.rs\n@@\n+// end\n*** End of File\n*** End Patch";
        assert!(
            apply_hunks(text, &hunks(patch), "x.rs")
                .unwrap()
                .ends_with("}\n// end\n")
        );
    }

    #[test]
    fn whitespace_differences_are_tolerated_but_missing_lines_are_not() {
        let text = "a  \nb\nc\n";
        let patch = "*** Begin Patch\n*** Update File: f\n a\n-b\n+B\n*** End Patch";
        assert_eq!(
            apply_hunks(text, &hunks(patch), "f").unwrap(),
            "a  \nB\nc\n"
        );
        let patch = "*** Begin Patch\n*** Update File: f\n a\n-x\n+X\n*** End Patch";
        let err = apply_hunks(text, &hunks(patch), "f").unwrap_err();
        assert!(
            err.to_string().contains("hunk 1 of f does not apply"),
            "{err}"
        );
    }

    #[test]
    fn malformed_patches_are_refused() {
        for bad in [
            "*** Update File: f\n-a\n*** End Patch",
            "*** Begin Patch\n*** Update File: f\n-a\n",
            "*** Begin Patch\n*** Add File: f\nno plus\n*** End Patch",
            "*** Begin Patch\n*** Frobnicate: f\n*** End Patch",
            "*** Begin Patch\n*** End Patch",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_patch_applies_whole_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path();
        std::fs::write(ws.join("keep.txt"), "one\ntwo\n").unwrap();
        std::fs::write(ws.join("gone.txt"), "bye\n").unwrap();
        std::fs::write(ws.join("old.txt"), "x\n").unwrap();
        let failing = "*** Begin Patch\n*** Add File: new.txt\n+hello\n*** Update File: keep.txt\n-three\n+3\n*** End Patch";
        let err = apply(ws, failing).unwrap_err();
        assert!(err.to_string().contains("nothing was changed"), "{err}");
        assert!(!ws.join("new.txt").exists());

        let good = "*** Begin Patch\n*** Add File: dir/new.txt\n+hello\n+world\n*** Update File: keep.txt\n one\n-two\n+2\n*** Delete File: gone.txt\n*** Update File: old.txt\n*** Move to: moved.txt\n-x\n+y\n*** End Patch";
        let summary = apply(ws, good).unwrap();
        assert_eq!(
            summary,
            "applied the patch:\nA dir/new.txt\nM keep.txt\nD gone.txt\nM old.txt -> moved.txt"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join("dir/new.txt")).unwrap(),
            "hello\nworld\n"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join("keep.txt")).unwrap(),
            "one\n2\n"
        );
        assert!(!ws.join("gone.txt").exists() && !ws.join("old.txt").exists());
        assert_eq!(
            std::fs::read_to_string(ws.join("moved.txt")).unwrap(),
            "y\n"
        );

        let escape = "*** Begin Patch\n*** Add File: ../evil.txt\n+x\n*** End Patch";
        assert!(apply(ws, escape).is_err());
        let exists = "*** Begin Patch\n*** Add File: keep.txt\n+x\n*** End Patch";
        assert!(
            apply(ws, exists)
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
    }
}

//! `memory_get` and `memory_search`: the agent reading its own notes.
//!
//! The agent's durable memory is `MEMORY.md` and the daily notes under `memory/` in its
//! workspace (OpenClaw's layout). These tools only read them; the agent writes them with the
//! file tools when its profile offers those. Search is plain, case-insensitive term matching
//! ranked by how many of the query's terms a line holds; embeddings come later.

use std::path::Path;

use async_trait::async_trait;
use hearth_providers::ToolSpec;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fs::{MAX_READ_BYTES, blocking, resolve, workspace_root};
use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};
use crate::util::truncate_chars;

const MEMORY_FILE: &str = "MEMORY.md";
const MEMORY_DIR: &str = "memory";
const DEFAULT_RESULTS: usize = 6;
const MAX_RESULTS: u64 = 50;
/// Characters of a matching line shown as its snippet.
const SNIPPET_CHARS: usize = 300;
/// Memory files larger than this are not searched.
const MAX_SEARCHED_FILE: u64 = 1024 * 1024;

/// `memory_get`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryGetTool;

#[derive(Debug, Deserialize)]
struct GetArgs {
    path: String,
}

#[async_trait]
impl Tool for MemoryGetTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "memory_get".to_owned(),
            description: "Read one of your memory files: `MEMORY.md` or a file under `memory/` (e.g. `memory/2026-01-31.md`).".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "path": { "type": "string", "description": "`MEMORY.md` or `memory/<file>`." }
                },
                "required": ["path"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: GetArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        let workspace = match &ctx.turn.memory_dir {
            Some(dir) => ctx.workspace.join(dir),
            None => ctx.workspace.clone(),
        };
        match blocking(move || get(&workspace, &args.path)).await {
            Ok(text) => ToolOutput::ok(text),
            Err(e) => e.into(),
        }
    }
}

fn get(workspace: &Path, given: &str) -> Result<String, ToolError> {
    let path = resolve(workspace, given)?;
    let is_memory = path.rel == MEMORY_FILE
        || path
            .rel
            .strip_prefix(MEMORY_DIR)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1);
    if !is_memory {
        return Err(ToolError::Refused(format!(
            "`{given}` is not a memory file; memory_get reads `{MEMORY_FILE}` and files under `{MEMORY_DIR}/`"
        )));
    }
    let bytes = match std::fs::read(&path.abs) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ToolError::Refused(format!(
                "`{}` does not exist yet",
                path.rel
            )));
        }
        Err(e) => return Err(ToolError::io(format!("cannot read {}", path.rel), e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.len() > MAX_READ_BYTES {
        let cut = truncate_chars(&text, MAX_READ_BYTES);
        return Ok(format!(
            "{cut}\n[cut at {MAX_READ_BYTES} of {} bytes; use memory_search for the rest]",
            text.len()
        ));
    }
    Ok(text.into_owned())
}

/// `memory_search`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemorySearchTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchArgs {
    query: String,
    max_results: Option<u64>,
}

#[async_trait]
impl Tool for MemorySearchTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "memory_search".to_owned(),
            description: "Search your memory (`MEMORY.md` and `memory/*.md`) for lines containing the query's words, case-insensitively; best matches first, each with file, line number and the line.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "query": { "type": "string", "description": "Words to look for." },
                    "maxResults": { "type": "integer", "minimum": 1, "maximum": MAX_RESULTS }
                },
                "required": ["query"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: SearchArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        let workspace = match &ctx.turn.memory_dir {
            Some(dir) => ctx.workspace.join(dir),
            None => ctx.workspace.clone(),
        };
        let max = args
            .max_results
            .map_or(DEFAULT_RESULTS, |m| m.min(MAX_RESULTS) as usize);
        match blocking(move || search(&workspace, &args.query, max)).await {
            Ok(hits) => ToolOutput::json(&json!({ "results": hits })),
            Err(e) => e.into(),
        }
    }
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    pub file: String,
    pub line: usize,
    /// Occurrences of the query's terms in the line.
    pub score: usize,
    pub snippet: String,
}

/// The memory files, `MEMORY.md` first, then `memory/*.md` by name.
fn memory_files(workspace: &Path) -> Result<Vec<(String, std::path::PathBuf)>, ToolError> {
    let root = workspace_root(workspace)?;
    let mut files = Vec::new();
    let main = resolve(workspace, MEMORY_FILE);
    if let Ok(p) = main
        && p.abs.is_file()
    {
        files.push((p.rel, p.abs));
    }
    if let Ok(dir) = resolve(workspace, MEMORY_DIR)
        && let Ok(entries) = std::fs::read_dir(&dir.abs)
    {
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".md"))
            .collect();
        names.sort();
        for name in names {
            // Through `resolve` again: a symlinked note must not lead out of the workspace.
            if let Ok(p) = resolve(&root, &format!("{MEMORY_DIR}/{name}"))
                && p.abs.is_file()
            {
                files.push((p.rel, p.abs));
            }
        }
    }
    Ok(files)
}

/// Lines of the memory files holding the query's terms, best first.
pub fn search(workspace: &Path, query: &str, max: usize) -> Result<Vec<Hit>, ToolError> {
    let terms: Vec<String> = query
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|t| !t.is_empty())
        .collect();
    if terms.is_empty() {
        return Err(ToolError::Arguments("`query` has no words".to_owned()));
    }
    let mut hits = Vec::new();
    for (rel, abs) in memory_files(workspace)? {
        if !std::fs::metadata(&abs).is_ok_and(|m| m.len() <= MAX_SEARCHED_FILE) {
            continue;
        }
        let Ok(bytes) = std::fs::read(&abs) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for (i, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let score: usize = terms
                .iter()
                .map(|t| lower.matches(t.as_str()).count())
                .sum();
            // Lines holding more of the distinct terms rank above lines repeating one.
            let distinct = terms.iter().filter(|t| lower.contains(t.as_str())).count();
            if score > 0 {
                hits.push((
                    distinct,
                    Hit {
                        file: rel.clone(),
                        line: i + 1,
                        score,
                        snippet: truncate_chars(line.trim(), SNIPPET_CHARS).to_owned(),
                    },
                ));
            }
        }
    }
    // Stable: equal scores keep file order (MEMORY.md, then notes by name) and line order.
    hits.sort_by_key(|(distinct, hit)| std::cmp::Reverse((*distinct, hit.score)));
    Ok(hits.into_iter().take(max).map(|(_, h)| h).collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[tokio::test]
    async fn get_reads_only_memory_files() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let ws = &ctx.workspace;
        std::fs::create_dir_all(ws.join("memory")).unwrap();
        std::fs::write(ws.join("MEMORY.md"), "likes tea\n").unwrap();
        std::fs::write(ws.join("memory/2026-01-01.md"), "new year\n").unwrap();
        std::fs::write(ws.join("SOUL.md"), "soul\n").unwrap();
        let get = |p: &str| json!({ "path": p });
        let out = MemoryGetTool.call(&ctx, get("MEMORY.md")).await;
        assert_eq!(out, ToolOutput::ok("likes tea\n"));
        let out = MemoryGetTool.call(&ctx, get("memory/2026-01-01.md")).await;
        assert_eq!(out, ToolOutput::ok("new year\n"));
        for bad in [
            "SOUL.md",
            "memory",
            "memory/../SOUL.md",
            "../MEMORY.md",
            "/etc/passwd",
        ] {
            let out = MemoryGetTool.call(&ctx, get(bad)).await;
            assert!(out.is_error, "{bad}: {out:?}");
        }
        let out = MemoryGetTool.call(&ctx, get("memory/missing.md")).await;
        assert!(out.is_error && out.text.contains("does not exist"));
    }

    #[test]
    fn search_ranks_lines_by_matching_terms() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path();
        std::fs::create_dir_all(ws.join("memory")).unwrap();
        std::fs::write(
            ws.join("MEMORY.md"),
            "# Facts\nThe user likes green tea.\nCoffee is fine too.\n",
        )
        .unwrap();
        std::fs::write(
            ws.join("memory/2026-01-02.md"),
            "Bought TEA and more tea and tea.\nGreen TEA from Kyoto, the user's favourite tea.\n",
        )
        .unwrap();
        std::fs::write(ws.join("memory/notes.txt"), "green tea everywhere\n").unwrap();
        std::fs::write(ws.join("other.md"), "green tea\n").unwrap();

        let hits = search(ws, "Green Tea", 10).unwrap();
        let shown: Vec<(String, usize, usize)> = hits
            .iter()
            .map(|h| (h.file.clone(), h.line, h.score))
            .collect();
        assert_eq!(
            shown,
            [
                ("memory/2026-01-02.md".to_owned(), 2, 3),
                ("MEMORY.md".to_owned(), 2, 2),
                ("memory/2026-01-02.md".to_owned(), 1, 3),
            ]
        );
        assert_eq!(hits[1].snippet, "The user likes green tea.");
        assert_eq!(search(ws, "tea", 1).unwrap().len(), 1);
        assert!(search(ws, "nothing-like-this", 5).unwrap().is_empty());
        assert!(search(ws, "   ", 5).is_err());
    }
}

//! The audit files: the writer task (append, rotate) and reading them back (`audit.tail`,
//! `audit.search`).
//!
//! A log is `<log>.jsonl`; rotation renames it to `<log>.1.jsonl` (the previous `.1` to `.2`,
//! and so on, the oldest beyond `audit.maxFiles` deleted). Log names never contain a dot
//! ([`super::log_name`]), so `<log>.<n>.jsonl` is always a rotated file of `<log>`. Lines are
//! in time order within a file, and a higher number is older, which lets readers stop early.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use hearth_config::AuditConfig;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::AuditEvent;

/// Records taken from the channel at once; written in one blocking task.
const BATCH: usize = 256;

/// Bytes read at a time from the end of a file for a tail.
const TAIL_BLOCK: u64 = 64 * 1024;

/// What the writer is asked to do.
pub(super) enum Job {
    Write {
        log: String,
        ts: i64,
        // Boxed: records are large next to the other jobs.
        event: Box<AuditEvent>,
    },
    /// Answer once everything before is written.
    Flush(oneshot::Sender<()>),
    /// Write everything before, answer, and stop.
    Close(oneshot::Sender<()>),
}

/// One line of a log.
#[derive(Serialize)]
struct Line<'a> {
    ts: i64,
    #[serde(flatten)]
    event: &'a AuditEvent,
}

/// The line for a record, as written.
pub(super) fn line(ts: i64, event: &AuditEvent) -> serde_json::Result<String> {
    serde_json::to_string(&Line { ts, event })
}

/// Size limits, read from the live `audit` section for each batch.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// 0: never rotate.
    max_file_bytes: u64,
    max_files: u32,
}

impl From<&AuditConfig> for Limits {
    fn from(c: &AuditConfig) -> Self {
        Limits {
            max_file_bytes: c.max_file_bytes,
            max_files: c.max_files,
        }
    }
}

/// The writer task: takes jobs in batches and writes each batch off the async threads.
pub(super) async fn run(
    mut rx: mpsc::Receiver<Job>,
    dir: PathBuf,
    settings: Arc<RwLock<AuditConfig>>,
) {
    let mut writer = Some(Writer::new(dir.clone()));
    let mut jobs = Vec::with_capacity(BATCH);
    loop {
        if rx.recv_many(&mut jobs, BATCH).await == 0 {
            return;
        }
        let mut lines = Vec::with_capacity(jobs.len());
        let mut waiting = Vec::new();
        let mut closing = false;
        for job in jobs.drain(..) {
            match job {
                Job::Write { log, ts, event } => match line(ts, &event) {
                    Ok(text) => lines.push((log, text)),
                    Err(e) => {
                        tracing::warn!(error = %e, kind = event.kind(), "an audit record could not be encoded")
                    }
                },
                Job::Flush(done) => waiting.push(done),
                Job::Close(done) => {
                    waiting.push(done);
                    closing = true;
                }
            }
        }
        if !lines.is_empty() {
            let limits = Limits::from(&*settings.read().unwrap_or_else(PoisonError::into_inner));
            let mut current = writer.take().unwrap_or_else(|| Writer::new(dir.clone()));
            writer = tokio::task::spawn_blocking(move || {
                current.write(&lines, limits);
                current
            })
            .await
            .ok();
        }
        for done in waiting {
            let _ = done.send(());
        }
        if closing {
            rx.close();
            return;
        }
    }
}

struct OpenLog {
    file: File,
    size: u64,
}

/// The open log files.
struct Writer {
    dir: PathBuf,
    open: HashMap<String, OpenLog>,
}

impl Writer {
    fn new(dir: PathBuf) -> Writer {
        Writer {
            dir,
            open: HashMap::new(),
        }
    }

    fn write(&mut self, lines: &[(String, String)], limits: Limits) {
        for (log, text) in lines {
            if let Err(e) = self.append(log, text, limits) {
                // The file is opened afresh for the next record.
                self.open.remove(log);
                tracing::warn!(log = %log, dir = %self.dir.display(), error = %e, "could not write an audit record");
            }
        }
    }

    fn append(&mut self, log: &str, text: &str, limits: Limits) -> std::io::Result<()> {
        let bytes = text.len() as u64 + 1;
        let mut open = match self.open.remove(log) {
            Some(open) => open,
            None => open_log(&self.dir, log)?,
        };
        if limits.max_file_bytes > 0 && open.size > 0 && open.size + bytes > limits.max_file_bytes {
            drop(open);
            rotate(&self.dir, log, limits.max_files)?;
            open = open_log(&self.dir, log)?;
        }
        let mut buf = Vec::with_capacity(text.len() + 1);
        buf.extend_from_slice(text.as_bytes());
        buf.push(b'\n');
        open.file.write_all(&buf)?;
        open.size += bytes;
        self.open.insert(log.to_owned(), open);
        Ok(())
    }
}

/// The current file of a log.
fn current_path(dir: &Path, log: &str) -> PathBuf {
    dir.join(format!("{log}.jsonl"))
}

fn rotated_path(dir: &Path, log: &str, n: u32) -> PathBuf {
    dir.join(format!("{log}.{n}.jsonl"))
}

/// Opens a log for appending, creating the directory (0700) and the file (0600).
fn open_log(dir: &Path, log: &str) -> std::io::Result<OpenLog> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(current_path(dir, log))?;
    let size = file.metadata()?.len();
    Ok(OpenLog { file, size })
}

fn ignore_missing(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// `<log>.jsonl` becomes `<log>.1.jsonl`, each older file moves one up, and the one past `keep`
/// is deleted; with `keep` 0 the full file is simply deleted.
fn rotate(dir: &Path, log: &str, keep: u32) -> std::io::Result<()> {
    if keep == 0 {
        return ignore_missing(std::fs::remove_file(current_path(dir, log)));
    }
    ignore_missing(std::fs::remove_file(rotated_path(dir, log, keep)))?;
    for n in (1..keep).rev() {
        ignore_missing(std::fs::rename(
            rotated_path(dir, log, n),
            rotated_path(dir, log, n + 1),
        ))?;
    }
    ignore_missing(std::fs::rename(
        current_path(dir, log),
        rotated_path(dir, log, 1),
    ))
}

// ---------------------------------------------------------------------------------------------
// reading

/// Every log in `dir` (by its current or rotated files), sorted.
pub fn list_logs(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut logs = BTreeSet::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")) else {
            continue;
        };
        let log = stem.split('.').next().unwrap_or(stem);
        if !log.is_empty() {
            logs.insert(log.to_owned());
        }
    }
    logs.into_iter().collect()
}

/// A log's files, newest first: the current one, then the rotated ones by number.
fn files_of(dir: &Path, log: &str) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        let prefix = format!("{log}.");
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|rest| rest.strip_suffix(".jsonl"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            rotated.push((n, entry.path()));
        }
    }
    rotated.sort_by_key(|(n, _)| *n);
    let mut files = vec![current_path(dir, log)];
    files.extend(rotated.into_iter().map(|(_, p)| p));
    files
}

/// An audit line as a JSON object; anything else (a torn last line) is skipped.
fn parse(line: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(line).ok()?;
    value.is_object().then_some(value)
}

/// Up to `want` last lines of a file, oldest first, read backwards from its end.
fn last_lines(path: &Path, want: usize) -> std::io::Result<Vec<String>> {
    let mut file = File::open(path)?;
    let mut pos = file.metadata()?.len();
    let mut buf: Vec<u8> = Vec::new();
    while pos > 0 {
        let start = pos.saturating_sub(TAIL_BLOCK);
        let mut block = vec![0u8; usize::try_from(pos - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&buf);
        buf = block;
        pos = start;
        if buf.iter().filter(|b| **b == b'\n').count() > want {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if pos > 0 && !lines.is_empty() {
        // Started mid-line.
        lines.remove(0);
    }
    let lines: Vec<String> = lines
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let skip = lines.len().saturating_sub(want);
    Ok(lines.into_iter().skip(skip).collect())
}

/// The last `limit` entries of a log, oldest first, reaching into rotated files when the
/// current one holds fewer.
pub fn tail(dir: &Path, log: &str, limit: usize) -> Vec<Value> {
    let mut newest_first: Vec<Value> = Vec::new();
    for path in files_of(dir, log) {
        let want = limit - newest_first.len();
        if want == 0 {
            break;
        }
        let lines = match last_lines(&path, want) {
            Ok(lines) => lines,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read an audit file");
                continue;
            }
        };
        newest_first.extend(lines.iter().rev().filter_map(|l| parse(l)));
    }
    newest_first.truncate(limit);
    newest_first.reverse();
    newest_first
}

/// What `audit.search` looks for.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Lowercase text the line contains.
    pub text: Option<String>,
    pub kind: Option<String>,
    /// One log, or every log.
    pub log: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub limit: usize,
}

impl SearchQuery {
    fn matches_line(&self, line: &str) -> bool {
        self.text
            .as_ref()
            .is_none_or(|t| line.to_lowercase().contains(t.as_str()))
    }

    fn matches(&self, entry: &Value) -> bool {
        let ts = entry.get("ts").and_then(Value::as_i64).unwrap_or(0);
        self.kind
            .as_deref()
            .is_none_or(|k| entry.get("kind").and_then(Value::as_str) == Some(k))
            && self.since_ms.is_none_or(|s| ts >= s)
            && self.until_ms.is_none_or(|u| ts < u)
    }
}

/// Entries matching `query`, newest first, across logs and rotated files; each carries its
/// `log`.
pub fn search(dir: &Path, query: &SearchQuery) -> Vec<Value> {
    let logs = match &query.log {
        Some(log) => vec![log.clone()],
        None => list_logs(dir),
    };
    let mut found: Vec<(i64, Value)> = Vec::new();
    for log in logs {
        search_log(dir, &log, query, &mut found);
    }
    // Stable: within one instant, each log's own order stays.
    found.sort_by_key(|(ts, _)| std::cmp::Reverse(*ts));
    found.truncate(query.limit);
    found.into_iter().map(|(_, v)| v).collect()
}

fn search_log(dir: &Path, log: &str, query: &SearchQuery, found: &mut Vec<(i64, Value)>) {
    let mut matched = 0;
    for path in files_of(dir, log) {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read an audit file");
                continue;
            }
        };
        for line in text.lines().rev() {
            if !query.matches_line(line) {
                continue;
            }
            let Some(mut entry) = parse(line) else {
                continue;
            };
            let ts = entry.get("ts").and_then(Value::as_i64).unwrap_or(0);
            // Lines only get older from here on.
            if query.since_ms.is_some_and(|s| ts < s) {
                return;
            }
            if !query.matches(&entry) {
                continue;
            }
            if let Value::Object(fields) = &mut entry {
                fields.insert("log".to_owned(), Value::String(log.to_owned()));
            }
            found.push((ts, entry));
            matched += 1;
            if matched >= query.limit {
                return;
            }
        }
    }
}

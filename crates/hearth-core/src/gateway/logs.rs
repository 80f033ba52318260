//! `logs.tail`: the gateway's JSON log files (`$HEARTH_HOME/logs/hearth.YYYY-MM-DD.log`, see
//! [`crate::logging`]) read back for the Control UI, which polls about once a second.
//!
//! A cursor is `<file name>:<byte offset>` just past the last complete line returned. The next
//! call reads from there, then on through any newer (rotated-to) file, so daily rotation loses
//! nothing. When the cursor's file is gone or shorter than the offset (deleted, truncated), or
//! the cursor is not one of ours, the answer starts over from the tail with `reset: true`.
//! Reads are bounded: a poll far behind skips to the last [`MAX_READ`] bytes.

use std::path::{Path, PathBuf};

use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{LogEntry, LogLevel, LogsTailParams, LogsTailResult};
use serde_json::{Map, Value};

use super::methods::{MethodResult, ok};
use crate::runtime::Runtime;

const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 1000;
/// Most bytes read from one file per call.
const MAX_READ: u64 = 4 * 1024 * 1024;
const FILE_PREFIX: &str = "hearth.";
const FILE_SUFFIX: &str = ".log";

pub(super) async fn logs_tail(rt: &Runtime, p: LogsTailParams) -> MethodResult {
    let dir = rt.home.logs();
    let result = tokio::task::spawn_blocking(move || tail(&dir, &p))
        .await
        .map_err(|e| ErrorShape::new(ErrorCode::Internal, format!("log reader failed: {e}")))?
        .map_err(|e| {
            ErrorShape::new(
                ErrorCode::Internal,
                format!("cannot read the log files: {e}"),
            )
        })?;
    ok(result)
}

/// The log files, oldest first (their names sort by date).
fn log_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
        .collect();
    names.sort();
    Ok(names)
}

fn parse_cursor(cursor: &str) -> Option<(&str, u64)> {
    let (name, offset) = cursor.rsplit_once(':')?;
    Some((name, offset.parse().ok()?))
}

/// The complete lines of `path` from `start` (or from the last [`MAX_READ`] bytes when `start`
/// is further back), and the offset just past the last complete line.
fn read_lines(path: &Path, start: u64) -> std::io::Result<(Vec<String>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let from = start.max(len.saturating_sub(MAX_READ));
    let skipped = from > start;
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.take(len - from).read_to_end(&mut bytes)?;
    // Only complete lines: the logger may be half-way through the last one.
    let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut text = &bytes[..end];
    if skipped {
        // Started mid-file: the first line is a fragment.
        let first = text
            .iter()
            .position(|b| *b == b'\n')
            .map_or(text.len(), |i| i + 1);
        text = &text[first..];
    }
    let lines = String::from_utf8_lossy(text)
        .lines()
        .map(str::to_owned)
        .collect();
    Ok((lines, from + end as u64))
}

fn tail(dir: &Path, p: &LogsTailParams) -> std::io::Result<LogsTailResult> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize;
    let files = log_files(dir)?;
    let path = |name: &str| -> PathBuf { dir.join(name) };
    let resume = p.cursor.as_deref().filter(|c| !c.is_empty()).map(|c| {
        parse_cursor(c).and_then(|(name, offset)| {
            let index = files.iter().position(|f| f == name)?;
            let len = std::fs::metadata(path(name)).ok()?.len();
            (offset <= len).then_some((index, offset))
        })
    });
    let (start, reset) = match resume {
        // Continue where the previous answer stopped.
        Some(Some((index, offset))) => (Some((index, offset)), false),
        // A cursor that cannot be continued: start over.
        Some(None) => (None, true),
        None => (None, false),
    };
    let mut lines = Vec::new();
    let mut cursor = String::new();
    match start {
        Some((index, offset)) => {
            for (i, name) in files.iter().enumerate().skip(index) {
                let from = if i == index { offset } else { 0 };
                let (more, end) = read_lines(&path(name), from)?;
                lines.extend(more);
                cursor = format!("{name}:{end}");
            }
        }
        None => {
            // The tail: the newest file, and the one before when it is short (just rotated).
            let newest = files.len().saturating_sub(2);
            for name in files.iter().skip(newest) {
                let (more, end) = read_lines(&path(name), 0)?;
                lines.extend(more);
                cursor = format!("{name}:{end}");
            }
        }
    }
    let mut entries: Vec<LogEntry> = lines
        .iter()
        .filter_map(|line| entry(line))
        .filter(|e| {
            p.min_level
                .is_none_or(|min| level_of(&e.level).is_none_or(|l| l >= min))
        })
        .collect();
    if entries.len() > limit {
        entries.drain(..entries.len() - limit);
    }
    Ok(LogsTailResult {
        entries,
        cursor,
        reset,
    })
}

fn level_of(level: &str) -> Option<LogLevel> {
    match level {
        "trace" => Some(LogLevel::Trace),
        "debug" => Some(LogLevel::Debug),
        "info" => Some(LogLevel::Info),
        "warn" => Some(LogLevel::Warn),
        "error" => Some(LogLevel::Error),
        _ => None,
    }
}

/// One JSON line as written by `tracing-subscriber`'s JSON format: `timestamp`, `level`,
/// `target`, `fields` (with `message`) and the current `span`. Other lines are skipped.
fn entry(line: &str) -> Option<LogEntry> {
    let Value::Object(mut object) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let text = |object: &mut Map<String, Value>, key: &str| match object.remove(key) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let ts = text(&mut object, "timestamp");
    let level = text(&mut object, "level").to_ascii_lowercase();
    let target = text(&mut object, "target");
    let mut fields = match object.remove("fields") {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    let message = match fields.remove("message") {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    // The span (`turn`, `ws`, ...) and anything else the formatter adds stay visible.
    fields.extend(object);
    Some(LogEntry {
        ts,
        level,
        target,
        message,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn line(level: &str, message: &str) -> String {
        format!(
            r#"{{"timestamp":"2025-01-02T03:04:05.000006Z","level":"{level}","fields":{{"message":"{message}","n":1}},"target":"hearth_core::x","span":{{"name":"turn","run_id":"r1"}}}}"#
        ) + "\n"
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn call(
        dir: &Path,
        cursor: Option<&str>,
        limit: Option<u32>,
        min: Option<LogLevel>,
    ) -> LogsTailResult {
        tail(
            dir,
            &LogsTailParams {
                cursor: cursor.map(str::to_owned),
                limit,
                min_level: min,
            },
        )
        .unwrap()
    }

    fn messages(r: &LogsTailResult) -> Vec<&str> {
        r.entries.iter().map(|e| e.message.as_str()).collect()
    }

    #[test]
    fn the_cursor_follows_new_lines_across_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let day1 = dir.path().join("hearth.2025-01-01.log");
        let empty = call(dir.path(), None, None, None);
        assert!(empty.entries.is_empty() && !empty.reset);

        append(
            &day1,
            &(line("INFO", "one") + line("DEBUG", "two").as_str() + line("WARN", "three").as_str()),
        );
        let first = call(dir.path(), None, Some(2), None);
        assert_eq!(messages(&first), ["two", "three"]);
        assert_eq!(first.entries[1].level, "warn");
        assert_eq!(first.entries[1].ts, "2025-01-02T03:04:05.000006Z");
        assert_eq!(first.entries[1].target, "hearth_core::x");
        assert_eq!(first.entries[1].fields["n"], 1);
        assert_eq!(first.entries[1].fields["span"]["run_id"], "r1");

        // Nothing new; then a half-written line is held back until it is complete.
        let same = call(dir.path(), Some(&first.cursor), None, None);
        assert!(same.entries.is_empty() && !same.reset);
        assert_eq!(same.cursor, first.cursor);
        let four = line("ERROR", "four");
        append(&day1, &four[..10]);
        let partial = call(dir.path(), Some(&first.cursor), None, None);
        assert!(partial.entries.is_empty());
        append(&day1, &four[10..]);
        append(
            &dir.path().join("hearth.2025-01-02.log"),
            &line("INFO", "five"),
        );
        let next = call(dir.path(), Some(&partial.cursor), None, None);
        assert_eq!(messages(&next), ["four", "five"]);
        assert!(!next.reset);
        assert!(next.cursor.starts_with("hearth.2025-01-02.log:"));

        let filtered = call(dir.path(), None, None, Some(LogLevel::Warn));
        assert_eq!(messages(&filtered), ["three", "four"]);
    }

    #[test]
    fn a_cursor_that_cannot_continue_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("hearth.2025-01-01.log");
        append(&day, &(line("INFO", "a") + line("INFO", "b").as_str()));
        let first = call(dir.path(), None, None, None);
        std::fs::write(&day, line("INFO", "c")).unwrap();
        let after_truncation = call(dir.path(), Some(&first.cursor), None, None);
        assert!(after_truncation.reset);
        assert_eq!(messages(&after_truncation), ["c"]);
        for bogus in ["nonsense", "../../etc/passwd:0", "hearth.1999-01-01.log:0"] {
            let r = call(dir.path(), Some(bogus), None, None);
            assert!(r.reset, "{bogus}");
            assert_eq!(messages(&r), ["c"]);
        }
    }
}

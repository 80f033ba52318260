//! `hearth audit tail|search`: the audit trail read through the gateway (`audit.tail`,
//! `audit.search`). One entry a line: local time, kind, then the entry's fields as `key=value`;
//! `--json` prints the entries as the gateway answered them.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use hearth_protocol::methods::{AuditSearchParams, AuditTailParams, spec};
use serde_json::Value;

use crate::cli::{AuditCmd, Global};
use crate::{connect, output};

/// How often `--follow` asks for new entries.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Entries `--follow` asks for each time: more than a second's worth.
const FOLLOW_WINDOW: u32 = 1000;

pub(super) async fn run(g: &Global, cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    match cmd {
        AuditCmd::Tail { log, lines, follow } => {
            let first = client
                .call::<spec::AuditTail>(AuditTailParams {
                    log: log.clone(),
                    limit: Some(lines),
                })
                .await?;
            if !follow && first.entries.is_empty() && !g.json {
                println!(
                    "No entries in the `{}` audit log yet. Logs: {}",
                    first.log,
                    if first.logs.is_empty() {
                        "none".to_owned()
                    } else {
                        first.logs.join(", ")
                    }
                );
            }
            let mut seen = Seen::default();
            for entry in &first.entries {
                seen.add(entry);
                print_entry(g, entry, None)?;
            }
            if follow {
                loop {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => break,
                        () = tokio::time::sleep(FOLLOW_EVERY) => {}
                    }
                    let next = client
                        .call::<spec::AuditTail>(AuditTailParams {
                            log: log.clone(),
                            limit: Some(FOLLOW_WINDOW),
                        })
                        .await?;
                    for entry in seen.new_ones(next.entries) {
                        print_entry(g, &entry, None)?;
                    }
                }
            }
        }
        AuditCmd::Search {
            query,
            kind,
            log,
            since,
            limit,
        } => {
            let since_ms = since
                .as_deref()
                .map(|s| parse_since(s, hearth_core::util::now_ms()))
                .transpose()?;
            let found = client
                .call::<spec::AuditSearch>(AuditSearchParams {
                    query,
                    kind,
                    log,
                    since_ms,
                    until_ms: None,
                    limit: Some(limit),
                })
                .await?;
            if g.json {
                output::json(&found.entries)?;
            } else if found.entries.is_empty() {
                println!("No audit entries match.");
            } else {
                for entry in &found.entries {
                    let log = entry.get("log").and_then(Value::as_str);
                    print_entry(g, entry, log)?;
                }
            }
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

fn print_entry(g: &Global, entry: &Value, log: Option<&str>) -> anyhow::Result<()> {
    if g.json {
        // One object a line, like the files themselves.
        println!("{}", serde_json::to_string(entry)?);
    } else {
        println!("{}", entry_line(entry, log));
    }
    Ok(())
}

/// `2026-11-01 12:00:05  model.request  [log]  provider=fake status=ok ...`.
fn entry_line(entry: &Value, log: Option<&str>) -> String {
    let ts = entry.get("ts").and_then(Value::as_i64).unwrap_or(0);
    let kind = entry.get("kind").and_then(Value::as_str).unwrap_or("?");
    let mut line = format!("{}  {kind:<13}", local_time(ts));
    if let Some(log) = log {
        line.push_str(&format!("  [{log}]"));
    }
    if let Value::Object(fields) = entry {
        for (key, value) in fields {
            if matches!(key.as_str(), "ts" | "kind" | "log") || value.is_null() {
                continue;
            }
            let shown = match value {
                Value::String(s) if s.contains(char::is_whitespace) || s.is_empty() => {
                    format!("{s:?}")
                }
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            line.push_str(&format!(" {key}={shown}"));
        }
    }
    line
}

/// `YYYY-MM-DD HH:MM:SS` in the local time zone.
fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        },
    )
}

/// `30s`, `15m`, `1h`, `2d`, `1w` before `now_ms`; a local date (`2026-11-01`, from its
/// midnight); or an RFC 3339 instant.
fn parse_since(text: &str, now_ms: i64) -> anyhow::Result<i64> {
    let text = text.trim();
    let unit_ms = match text.chars().last() {
        Some('s') => Some(1_000),
        Some('m') => Some(60_000),
        Some('h') => Some(3_600_000),
        Some('d') => Some(86_400_000),
        Some('w') => Some(7 * 86_400_000),
        _ => None,
    };
    if let Some(unit) = unit_ms
        && let Ok(n) = text[..text.len() - 1].parse::<i64>()
    {
        return Ok(now_ms.saturating_sub(n.saturating_mul(unit)));
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        let start = date
            .to_zoned(jiff::tz::TimeZone::system())
            .map_err(|e| anyhow!("{text}: {e}"))?;
        return Ok(start.timestamp().as_millisecond());
    }
    if let Ok(instant) = text.parse::<jiff::Timestamp>() {
        return Ok(instant.as_millisecond());
    }
    bail!("--since takes a while ago (30m, 1h, 2d, 1w) or a date (2026-11-01), not `{text}`")
}

/// The entries `--follow` printed: the latest instant and the entries at it (several may share
/// a millisecond, and one may arrive after the others were printed).
#[derive(Debug, Default)]
struct Seen {
    last_ts: i64,
    at_last: HashSet<String>,
}

impl Seen {
    fn add(&mut self, entry: &Value) {
        let ts = entry.get("ts").and_then(Value::as_i64).unwrap_or(0);
        if ts > self.last_ts {
            self.last_ts = ts;
            self.at_last.clear();
        }
        if ts == self.last_ts {
            self.at_last.insert(entry.to_string());
        }
    }

    /// The entries of a later tail not printed yet, oldest first.
    fn new_ones(&mut self, entries: Vec<Value>) -> Vec<Value> {
        let (last_ts, at_last) = (self.last_ts, self.at_last.clone());
        let fresh: Vec<Value> = entries
            .into_iter()
            .filter(|e| {
                let ts = e.get("ts").and_then(Value::as_i64).unwrap_or(0);
                ts > last_ts || (ts == last_ts && !at_last.contains(&e.to_string()))
            })
            .collect();
        for e in &fresh {
            self.add(e);
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn since_reads_durations_dates_and_instants() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_since("30m", now).unwrap(), now - 1_800_000);
        assert_eq!(parse_since("1h", now).unwrap(), now - 3_600_000);
        assert_eq!(parse_since("2d", now).unwrap(), now - 2 * 86_400_000);
        assert_eq!(parse_since("1w", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(
            parse_since("2026-11-01T10:00:00Z", now).unwrap(),
            1_793_527_200_000
        );
        let midnight = parse_since("2026-11-01", now).unwrap();
        // Local midnight: within a day of UTC's.
        assert!(
            (midnight - 1_793_491_200_000).abs() <= 14 * 3_600_000,
            "{midnight}"
        );
        for bad in ["", "soon", "1y", "h", "2026-13-01"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_entry_is_one_line_of_its_fields() {
        let entry = json!({"ts": 0, "kind": "config.change", "actor": "cli",
            "paths": ["a.b", "c"], "oldHash": "x", "error": null, "note": "two words"});
        let line = entry_line(&entry, Some("gateway"));
        assert!(
            line.ends_with(
                r#"config.change  [gateway] actor=cli paths=a.b,c oldHash=x note="two words""#
            ),
            "{line}"
        );
    }

    #[test]
    fn follow_prints_each_entry_once() {
        let mut seen = Seen::default();
        let a = json!({"ts": 1, "kind": "inbound"});
        let b = json!({"ts": 2, "kind": "route"});
        let c = json!({"ts": 2, "kind": "model.request"});
        let d = json!({"ts": 3, "kind": "outbound"});
        seen.add(&a);
        seen.add(&b);
        let fresh = seen.new_ones(vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(fresh, std::slice::from_ref(&c));
        assert_eq!(seen.new_ones(vec![b, c, d.clone()]), [d]);
        assert!(seen.new_ones(vec![a]).is_empty());
    }
}

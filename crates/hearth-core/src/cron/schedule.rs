//! Schedules and their next fire time.
//!
//! - `cron`: five fields (`minute hour day-of-month month day-of-week`) or six with seconds
//!   first; `*`, values, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`; month and weekday
//!   names (`JAN`, `MON`); weekday 0 or 7 is Sunday; `?` is `*`; `@hourly`, `@daily`
//!   (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`). When both day fields are
//!   restricted a day matches either (as in Vixie cron).
//! - `every`: an interval (`30m`, `1h30m`, `45s`, `1d`) counted from an anchor (the job's
//!   creation), so the fire times do not drift with restarts.
//! - `at`: one instant.
//!
//! Local times are resolved in the job's time zone the way RFC 5545 and Temporal do: a time
//! that does not exist because the clock jumped forward (02:30 when 02:00 becomes 03:00) fires
//! as late as the jump (03:30), and a time that happens twice because the clock went back fires
//! at its first occurrence only. So every fire is one instant, and no local hour fires twice.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// How far ahead a schedule is searched (a `0 0 29 2 1` fires once in up to 28 years; cap it).
const SEARCH_YEARS: i16 = 30;

/// The longest daylight-saving jump looked back over: a skipped time resolves up to this much
/// later than written, so candidates this far before the search start are considered too.
const MAX_JUMP_HOURS: i64 = 3;

/// Why a schedule could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

fn error(message: impl Into<String>) -> ScheduleError {
    ScheduleError(message.into())
}

/// When a job fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A cron expression, in a time zone.
    Cron(CronExpr),
    /// Every `seconds`, counted from `anchor`.
    Every { seconds: i64, anchor: Timestamp },
    /// Once.
    At(Timestamp),
}

impl Schedule {
    /// The first fire strictly after `after`; `None` when there is none (a past `at`, or a
    /// cron expression that never matches, like `0 0 31 2 *`).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::Cron(expr) => expr.next_after(after, tz),
            Schedule::Every { seconds, anchor } => {
                let step = seconds.checked_mul(1000)?;
                let (after_ms, anchor_ms) = (after.as_millisecond(), anchor.as_millisecond());
                let k = if after_ms < anchor_ms {
                    0
                } else {
                    (after_ms - anchor_ms) / step + 1
                };
                Timestamp::from_millisecond(anchor_ms.checked_add(k.checked_mul(step)?)?).ok()
            }
            Schedule::At(at) => (*at > after).then_some(*at),
        }
    }
}

/// `30m`, `1h30m`, `45s`, `2h`, `1d`, `1w`: a positive number of seconds.
pub fn parse_interval(text: &str) -> Result<i64, ScheduleError> {
    hearth_config::parse_interval(text).map_err(ScheduleError)
}

/// A parsed cron expression: the allowed values of each field as bit sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronExpr {
    seconds: u64,
    minutes: u64,
    hours: u64,
    /// Bits 1..=31.
    days: u64,
    /// Bits 1..=12.
    months: u64,
    /// Bits 0..=6, Sunday 0.
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl std::str::FromStr for CronExpr {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, ScheduleError> {
        let trimmed = text.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            other if other.starts_with('@') => {
                return Err(error(format!(
                    "`{trimmed}` is not a cron shortcut (use @hourly, @daily, @weekly, @monthly or @yearly)"
                )));
            }
            _ => trimmed.to_owned(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(error(format!(
                    "`{trimmed}` has {n} fields; a cron expression has 5 (minute hour day month weekday) or 6 (with seconds first)"
                )));
            }
        };
        let field = |name: &str, text: &str, min: u32, max: u32, names: &[&str]| {
            parse_field(text, min, max, names)
                .map_err(|e| error(format!("`{trimmed}`: the {name} field {e}")))
        };
        let (days, days_restricted) = field("day-of-month", rest[2], 1, 31, &[])?;
        let (weekdays, weekdays_restricted) = field("day-of-week", rest[4], 0, 7, &WEEKDAYS)?;
        // 7 is Sunday too.
        let weekdays = (weekdays | (weekdays >> 7)) & 0x7f;
        Ok(CronExpr {
            seconds: field("seconds", seconds, 0, 59, &[])?.0,
            minutes: field("minute", rest[0], 0, 59, &[])?.0,
            hours: field("hour", rest[1], 0, 23, &[])?.0,
            days,
            months: field("month", rest[3], 1, 12, &MONTHS)?.0,
            weekdays,
            days_restricted,
            weekdays_restricted,
        })
    }
}

/// One field: its allowed values as bits, and whether it restricts anything (is not `*`).
fn parse_field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<(u64, bool), String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            // Month names count from 1, weekday names from 0.
            let i = u32::try_from(i).unwrap_or(0);
            return Ok(if min == 1 { i + 1 } else { i });
        }
        let v: u32 = s
            .parse()
            .map_err(|_| format!("has `{s}`, which is not a number or a name"))?;
        if v < min || v > max {
            return Err(format!("has {v}, outside {min}-{max}"));
        }
        Ok(v)
    };
    if text.split(',').any(str::is_empty) {
        return Err("is empty (or has an empty item between commas)".to_owned());
    }
    let mut bits = 0u64;
    let mut restricted = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 =
                    s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("has the step `{s}`; a step is a positive number")
                    })?;
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = match range {
            "*" | "?" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a)?, value(b)?);
                    if a > b {
                        return Err(format!("has the range `{r}`, which runs backwards"));
                    }
                    (a, b)
                }
                // `5/15` means from 5 to the end, every 15.
                None if step > 1 => (value(r)?, max),
                None => {
                    let v = value(r)?;
                    (v, v)
                }
            },
        };
        if !(range == "*" || range == "?") || step > 1 {
            restricted = true;
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, restricted))
}

fn has(bits: u64, v: i8) -> bool {
    u32::try_from(v).is_ok_and(|v| v < 64 && bits & (1 << v) != 0)
}

impl CronExpr {
    fn day_matches(&self, date: Date) -> bool {
        let dom = has(self.days, date.day());
        let dow = has(self.weekdays, date.weekday().to_sunday_zero_offset());
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first local date-time at or after `from` that the expression matches.
    fn next_match(&self, from: DateTime) -> Option<DateTime> {
        let limit = from.year().checked_add(SEARCH_YEARS)?;
        let mut t = from;
        loop {
            if t.year() > limit {
                return None;
            }
            if !has(self.months, t.month()) {
                t = t
                    .date()
                    .first_of_month()
                    .checked_add(1.month())
                    .ok()?
                    .at(0, 0, 0, 0);
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().tomorrow().ok()?.at(0, 0, 0, 0);
                continue;
            }
            if !has(self.hours, t.hour()) {
                t = t.date().at(t.hour(), 0, 0, 0).checked_add(1.hour()).ok()?;
                continue;
            }
            if !has(self.minutes, t.minute()) {
                t = t
                    .date()
                    .at(t.hour(), t.minute(), 0, 0)
                    .checked_add(1.minute())
                    .ok()?;
                continue;
            }
            if !has(self.seconds, t.second()) {
                t = t
                    .date()
                    .at(t.hour(), t.minute(), t.second(), 0)
                    .checked_add(1.second())
                    .ok()?;
                continue;
            }
            return Some(t);
        }
    }

    /// The first fire strictly after `after`, resolving local times in `tz` (see the module
    /// doc for daylight-saving changes).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        // A skipped time resolves later than written, so look back over the longest jump.
        let mut cursor = local
            .checked_sub(MAX_JUMP_HOURS.hours())
            .ok()?
            .with()
            .subsec_nanosecond(0)
            .build()
            .ok()?;
        let mut best: Option<(Timestamp, DateTime)> = None;
        while let Some(candidate) = self.next_match(cursor) {
            if let Some((_, found_at)) = best
                && candidate > found_at.checked_add(MAX_JUMP_HOURS.hours()).ok()?
            {
                break;
            }
            let instant = tz.to_ambiguous_timestamp(candidate).compatible().ok()?;
            if instant > after && best.is_none_or(|(b, _)| instant < b) {
                best = Some((instant, best.map_or(candidate, |(_, c)| c)));
            }
            cursor = candidate.checked_add(1.second()).ok()?;
        }
        best.map(|(instant, _)| instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cron(s: &str) -> CronExpr {
        s.parse().unwrap()
    }

    /// The next `n` fires after `from`, as RFC 3339 in the zone.
    fn fires(expr: &str, zone: &str, from: &str, n: usize) -> Vec<String> {
        let (e, z) = (cron(expr), tz(zone));
        let mut at = ts(from);
        (0..n)
            .map(|_| {
                at = e.next_after(at, &z).unwrap();
                at.to_zoned(z.clone())
                    .strftime("%Y-%m-%d %a %H:%M:%S %Z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn the_seeds_jobs_fire_at_their_local_times() {
        // Weekday 08:00 briefing, from a Friday evening.
        assert_eq!(
            fires("0 8 * * 1-5", "Europe/Berlin", "2026-11-20T18:00:00Z", 3),
            [
                "2026-11-23 Mon 08:00:00 CET",
                "2026-11-24 Tue 08:00:00 CET",
                "2026-11-25 Wed 08:00:00 CET"
            ]
        );
        // Friday 19:00 digest and Monday 09:00 review, by name.
        assert_eq!(
            fires(
                "0 19 * * FRI",
                "America/New_York",
                "2026-11-21T00:00:00Z",
                2
            ),
            ["2026-11-27 Fri 19:00:00 EST", "2026-12-04 Fri 19:00:00 EST"]
        );
        assert_eq!(
            fires("0 0 9 * * mon", "Asia/Tokyo", "2026-11-21T00:00:00Z", 1),
            ["2026-11-23 Mon 09:00:00 JST"]
        );
    }

    #[test]
    fn fields_ranges_steps_lists_and_shortcuts() {
        assert_eq!(
            fires("*/20 * * * * *", "UTC", "2026-01-01T00:00:05Z", 3),
            [
                "2026-01-01 Thu 00:00:20 UTC",
                "2026-01-01 Thu 00:00:40 UTC",
                "2026-01-01 Thu 00:01:00 UTC"
            ]
        );
        assert_eq!(
            fires("5/30 9-10 * * *", "UTC", "2026-01-01T00:00:00Z", 4),
            [
                "2026-01-01 Thu 09:05:00 UTC",
                "2026-01-01 Thu 09:35:00 UTC",
                "2026-01-01 Thu 10:05:00 UTC",
                "2026-01-01 Thu 10:35:00 UTC"
            ]
        );
        assert_eq!(
            fires("@monthly", "UTC", "2026-01-15T00:00:00Z", 1),
            ["2026-02-01 Sun 00:00:00 UTC"]
        );
        // Day of month OR day of week when both are given: the 13th, or any Friday.
        assert_eq!(
            fires("0 12 13 * 5", "UTC", "2026-02-01T00:00:00Z", 3),
            [
                "2026-02-06 Fri 12:00:00 UTC",
                "2026-02-13 Fri 12:00:00 UTC",
                "2026-02-20 Fri 12:00:00 UTC"
            ]
        );
        assert_eq!(cron("0 0 * * 7"), cron("0 0 * * 0"));
        assert_eq!(
            cron("0 0 * * 0").next_after(ts("2026-01-01T00:00:00Z"), &TimeZone::UTC),
            Some(ts("2026-01-04T00:00:00Z"))
        );
        // Never: the 31st of February.
        assert_eq!(
            cron("0 0 31 2 *").next_after(ts("2026-01-01T00:00:00Z"), &TimeZone::UTC),
            None
        );
        // Leap days come round.
        assert_eq!(
            fires("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 1),
            ["2028-02-29 Tue 00:00:00 UTC"]
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (text, says) in [
            ("* * * *", "has 4 fields"),
            ("61 * * * *", "minute field has 61, outside 0-59"),
            ("0 25 * * *", "hour field has 25"),
            ("0 0 * FOO *", "month field has `FOO`"),
            ("0 0 * * 1-", "day-of-week field has ``"),
            ("*/0 * * * *", "step `0`"),
            ("0 0 10-2 * *", "runs backwards"),
            ("@often", "not a cron shortcut"),
            ("0,,5 * * * *", "minute field is empty"),
        ] {
            let err = text.parse::<CronExpr>().unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn a_skipped_hour_fires_once_after_the_jump() {
        // New York springs forward on 2026-03-08: 02:00 EST becomes 03:00 EDT.
        assert_eq!(
            fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08 Sun 03:30:00 EDT",
                "2026-03-09 Mon 02:30:00 EDT",
                "2026-03-10 Tue 02:30:00 EDT"
            ]
        );
        // Every 20 minutes through the jump: no fire twice, none out of order.
        assert_eq!(
            fires(
                "*/20 * * * *",
                "America/New_York",
                "2026-03-08T06:30:00Z",
                5
            ),
            [
                "2026-03-08 Sun 01:40:00 EST",
                "2026-03-08 Sun 03:00:00 EDT",
                "2026-03-08 Sun 03:20:00 EDT",
                "2026-03-08 Sun 03:40:00 EDT",
                "2026-03-08 Sun 04:00:00 EDT"
            ]
        );
        // Looking from just after the jump still finds the skipped 02:30 (now 03:30).
        assert_eq!(
            fires("30 2 * * *", "America/New_York", "2026-03-08T07:10:00Z", 1),
            ["2026-03-08 Sun 03:30:00 EDT"]
        );
    }

    #[test]
    fn a_repeated_hour_fires_once() {
        // New York falls back on 2026-11-01: 02:00 EDT becomes 01:00 EST.
        assert_eq!(
            fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            ["2026-11-01 Sun 01:30:00 EDT", "2026-11-02 Mon 01:30:00 EST"]
        );
        // From inside the second 01:xx, the next fire is the next day's.
        assert_eq!(
            fires("30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", 1),
            ["2026-11-02 Mon 01:30:00 EST"]
        );
        let every_quarter = fires("*/15 * * * *", "Europe/Berlin", "2026-10-25T00:40:00Z", 6);
        assert_eq!(
            every_quarter,
            [
                "2026-10-25 Sun 02:45:00 CEST",
                "2026-10-25 Sun 03:00:00 CET",
                "2026-10-25 Sun 03:15:00 CET",
                "2026-10-25 Sun 03:30:00 CET",
                "2026-10-25 Sun 03:45:00 CET",
                "2026-10-25 Sun 04:00:00 CET"
            ]
        );
    }

    #[test]
    fn every_and_at() {
        let anchor = ts("2026-11-21T10:00:00Z");
        let every = Schedule::Every {
            seconds: parse_interval("30m").unwrap(),
            anchor,
        };
        let z = TimeZone::UTC;
        assert_eq!(
            every.next_after(ts("2026-11-21T09:00:00Z"), &z),
            Some(anchor)
        );
        assert_eq!(
            every.next_after(anchor, &z),
            Some(ts("2026-11-21T10:30:00Z"))
        );
        assert_eq!(
            every.next_after(ts("2026-11-21T11:59:59Z"), &z),
            Some(ts("2026-11-21T12:00:00Z"))
        );
        let at = Schedule::At(anchor);
        assert_eq!(at.next_after(ts("2026-11-21T09:00:00Z"), &z), Some(anchor));
        assert_eq!(at.next_after(anchor, &z), None);
        assert_eq!(parse_interval("1h30m").unwrap(), 5400);
        assert_eq!(parse_interval(" 2D ").unwrap(), 172_800);
        for bad in ["", "30", "m", "0s", "1x", "-5m"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}

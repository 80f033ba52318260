//! Automatic session resets (`session.reset`, `session.resetByType`): whether a session's
//! last activity is on the far side of a daily roll-over or an idle gap. Pure, so the rules
//! are tested with any clock; the turn asks before it resumes a session.

use hearth_config::{ResetConfig, ResetMode, SessionConfig};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The kind of chat a session key names, for `resetByType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatType {
    Direct,
    Group,
    Thread,
    /// A sub-agent's session: never reset on its own.
    Subagent,
}

/// The chat type of a full session key (`agent:<id>:...`).
pub fn chat_type(key: &str) -> ChatType {
    // Past `agent:<id>:`, so an agent named like a keyword does not count.
    let has = |word: &str| key.split(':').skip(2).any(|p| p == word);
    if has("subagent") {
        ChatType::Subagent
    } else if has("thread") {
        ChatType::Thread
    } else if has("group") || has("channel") {
        ChatType::Group
    } else {
        ChatType::Direct
    }
}

/// The rule in force for a chat type.
pub fn rule_for(session: &SessionConfig, kind: ChatType) -> Option<ResetConfig> {
    let by_type = &session.reset_by_type;
    let rule = match kind {
        ChatType::Subagent => return None,
        ChatType::Direct => by_type.direct,
        ChatType::Group => by_type.group,
        ChatType::Thread => by_type.thread,
    }
    .unwrap_or(session.reset);
    (rule.mode != ResetMode::Off).then_some(rule)
}

/// Whether a session last active at `last_ms` should start afresh at `now_ms`.
///
/// `daily`: the most recent `atHour:00` local time at or before now lies after the last
/// activity. `idle`: at least `idleMinutes` passed since it.
pub fn is_stale(rule: &ResetConfig, last_ms: i64, now_ms: i64, tz: &TimeZone) -> bool {
    match rule.mode {
        ResetMode::Off => false,
        ResetMode::Idle => {
            now_ms.saturating_sub(last_ms) >= i64::from(rule.idle_minutes).saturating_mul(60_000)
        }
        ResetMode::Daily => match last_rollover(rule.at_hour, now_ms, tz) {
            Some(boundary) => last_ms < boundary,
            None => false,
        },
    }
}

/// The latest `hour:00` local time at or before `now_ms`, in milliseconds.
fn last_rollover(hour: u8, now_ms: i64, tz: &TimeZone) -> Option<i64> {
    let now = Timestamp::from_millisecond(now_ms)
        .ok()?
        .to_zoned(tz.clone());
    let hour = i8::try_from(hour.min(23)).ok()?;
    let today = now.date().at(hour, 0, 0, 0).to_zoned(tz.clone()).ok()?;
    let boundary = if today > now {
        today.checked_sub(1.day()).ok()?
    } else {
        today
    };
    Some(boundary.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn rule(mode: ResetMode) -> ResetConfig {
        ResetConfig {
            mode,
            at_hour: 4,
            idle_minutes: 90,
        }
    }

    #[test]
    fn keys_name_their_chat_type() {
        assert_eq!(chat_type("agent:main:main"), ChatType::Direct);
        assert_eq!(chat_type("agent:main:direct:alice"), ChatType::Direct);
        assert_eq!(
            chat_type("agent:main:telegram:direct:123"),
            ChatType::Direct
        );
        assert_eq!(chat_type("agent:main:slack:channel:C1"), ChatType::Group);
        assert_eq!(chat_type("agent:main:telegram:group:-5"), ChatType::Group);
        assert_eq!(
            chat_type("agent:main:discord:group:9:thread:7"),
            ChatType::Thread
        );
        assert_eq!(chat_type("agent:ops:subagent:abc"), ChatType::Subagent);
        // The agent id is not a keyword.
        assert_eq!(chat_type("agent:group:main"), ChatType::Direct);
    }

    #[test]
    fn daily_rolls_over_at_the_hour_in_local_time() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let r = rule(ResetMode::Daily);
        // 03:30 and 03:59 Berlin (UTC+1 in November) are the same "day".
        assert!(!is_stale(
            &r,
            ms("2026-11-20T02:30:00Z"),
            ms("2026-11-20T02:59:00Z"),
            &tz
        ));
        // Across 04:00 Berlin.
        assert!(is_stale(
            &r,
            ms("2026-11-20T02:59:00Z"),
            ms("2026-11-20T03:00:00Z"),
            &tz
        ));
        // Late evening to the next evening: a roll-over in between.
        assert!(is_stale(
            &r,
            ms("2026-11-19T21:00:00Z"),
            ms("2026-11-20T20:00:00Z"),
            &tz
        ));
        // After the roll-over, activity the same day keeps the session.
        assert!(!is_stale(
            &r,
            ms("2026-11-20T05:00:00Z"),
            ms("2026-11-20T22:00:00Z"),
            &tz
        ));
    }

    #[test]
    fn idle_counts_minutes_of_silence() {
        let tz = TimeZone::UTC;
        let r = rule(ResetMode::Idle);
        let t = ms("2026-11-20T10:00:00Z");
        assert!(!is_stale(&r, t, t + 89 * 60_000, &tz));
        assert!(is_stale(&r, t, t + 90 * 60_000, &tz));
        assert!(!is_stale(&rule(ResetMode::Off), t, t + 1_000_000_000, &tz));
    }

    #[test]
    fn by_type_replaces_the_general_rule() {
        let mut s = SessionConfig::default();
        assert_eq!(rule_for(&s, ChatType::Direct), None);
        s.reset = rule(ResetMode::Daily);
        s.reset_by_type.group = Some(rule(ResetMode::Idle));
        s.reset_by_type.thread = Some(rule(ResetMode::Off));
        assert_eq!(
            rule_for(&s, ChatType::Direct).map(|r| r.mode),
            Some(ResetMode::Daily)
        );
        assert_eq!(
            rule_for(&s, ChatType::Group).map(|r| r.mode),
            Some(ResetMode::Idle)
        );
        assert_eq!(rule_for(&s, ChatType::Thread), None);
        assert_eq!(rule_for(&s, ChatType::Subagent), None);
    }
}

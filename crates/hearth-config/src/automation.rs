//! Settings of the proactive side: scheduled jobs (`cron`), the periodic heartbeat
//! (`agents.defaults.heartbeat`) and incoming webhooks (`hooks`), and the interval syntax they
//! share (`30m`, `1h30m`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::types::SecretValue;

/// `30m`, `1h30m`, `45s`, `2h`, `1d`, `1w`: a positive number of seconds, or what is wrong
/// with the text.
pub fn parse_interval(text: &str) -> Result<i64, String> {
    let t = text.trim().to_ascii_lowercase();
    let hint = "write an interval like `30m`, `1h30m`, `45s` or `1d`";
    if t.is_empty() {
        return Err(format!("the interval is empty; {hint}"));
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(format!("`{text}` is not an interval; {hint}")),
        };
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not an interval; {hint}"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{text}` is too long an interval"))?;
    }
    if !digits.is_empty() {
        return Err(format!("`{text}` has a number without a unit; {hint}"));
    }
    if total < 1 {
        return Err(format!("`{text}` is not a positive interval; {hint}"));
    }
    Ok(total)
}

/// Scheduled jobs. The jobs themselves live in the store (`hearth cron add`, the Control UI,
/// the agent's `cron` tool); these are the scheduler's own settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct CronConfig {
    /// Run scheduled jobs at all. Off: jobs stay stored and can still be run by hand.
    pub enabled: bool,
    /// Jobs running at once; further due jobs wait for a slot.
    pub max_concurrent_runs: u32,
    /// Where failure alerts go besides the desktop notification and the event: a channel peer
    /// such as `telegram:123456`. Absent: the owner is told in the Control UI and the desktop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_target: Option<String>,
}

impl Default for CronConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_concurrent_runs: 2,
            alert_target: None,
        }
    }
}

/// A periodic check: the agent reads `HEARTBEAT.md` and answers `HEARTBEAT_OK` when nothing
/// needs the owner's attention.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// How often: `30m`, `1h`. Absent: no heartbeat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Only between these local times; absent: around the clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_hours: Option<ActiveHours>,
    /// The message the agent gets; default: read `HEARTBEAT.md` and follow it, answering
    /// `HEARTBEAT_OK` when nothing needs attention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Where an answer other than `HEARTBEAT_OK` goes: a channel peer (`telegram:123456`),
    /// `last` (the owner's most recent direct chat; the default) or `none` (only stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A daily window, in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActiveHours {
    /// `HH:MM`, inclusive.
    pub start: String,
    /// `HH:MM`, exclusive; earlier than `start` for a window across midnight (`22:00`-`06:00`).
    pub end: String,
    /// IANA time zone; default the gateway's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Incoming webhooks under one path prefix (`/hooks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HooksConfig {
    /// Accept webhooks at all (off by default).
    pub enabled: bool,
    /// The token callers send in `Authorization: Bearer` or `x-hearth-token` (never in the
    /// query string). Required when enabled; keep it in the secret store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretValue>,
    /// The path prefix: `POST <path>/wake`, `<path>/agent`, `<path>/<mapping>`.
    pub path: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Named webhooks: `POST <path>/<name>`.
    pub mappings: Vec<HookMapping>,
}

impl Default for HooksConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            token: None,
            path: "/hooks".to_owned(),
            max_body_bytes: 256 * 1024,
            mappings: Vec::new(),
        }
    }
}

/// One named webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HookMapping {
    /// The last path segment (`github` for `POST /hooks/github`): letters, digits, `-`, `_`.
    pub name: String,
    /// `agent` (default): run the agent on the rendered message; `wake`: run the heartbeat now.
    #[serde(default)]
    pub action: HookAction,
    /// The agent that answers; default the default agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// A session to continue at every call; absent: a fresh session per call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// The message, with `{{field}}` or `{{field.sub}}` placeholders filled from the JSON body;
    /// only the fields it names reach the agent. Absent: the body as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
    /// Where the answer goes: a channel peer (`telegram:123456`), `last`, or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<String>,
    /// Check the sender's HMAC signature (GitHub's or Stripe's style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<HookSignature>,
    /// Calls accepted per minute on this mapping; more are answered 429.
    #[serde(default = "sixty")]
    pub rate_per_minute: u32,
    /// A smaller body cap for this mapping, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
}

fn sixty() -> u32 {
    60
}

/// What a webhook does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HookAction {
    #[default]
    Agent,
    Wake,
}

/// How a sender signs its requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HookSignature {
    /// `github` (`X-Hub-Signature-256: sha256=<hex>`) or `stripe`
    /// (`Stripe-Signature: t=<unix>,v1=<hex>`).
    pub style: SignatureStyle,
    /// The shared signing secret; keep it in the secret store.
    pub secret: SecretValue,
    /// For `stripe`: how old a signed timestamp may be, in seconds.
    #[serde(default = "five_minutes")]
    pub tolerance_seconds: u64,
}

fn five_minutes() -> u64 {
    300
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SignatureStyle {
    Github,
    Stripe,
}

/// Where a proactive run's answer goes, as written in a job, the heartbeat or a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryTarget {
    /// Only stored (the run's history).
    None,
    /// The owner's most recent direct chat with the bot on any channel.
    Last,
    /// A chat on a channel: `telegram:123456`, `discord/work:987#thread`.
    Peer {
        channel: String,
        /// The account; `None` for the channel's only (or `default`) account.
        account: Option<String>,
        chat_id: String,
        thread_id: Option<String>,
    },
    /// Appended to a stored session (`session:agent:main:main`), read in the Control UI.
    Session(String),
}

impl DeliveryTarget {
    /// Reads `none`, `last`, `session:<key>`, `<channel>[/<account>]:<chat>[#<thread>]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let hint = "write `none`, `last`, `session:<key>` or `<channel>:<chat id>` \
                    (`telegram:123456`, `discord/work:987654#thread`)";
        match t {
            "" => return Err(format!("the delivery target is empty; {hint}")),
            "none" => return Ok(Self::None),
            "last" => return Ok(Self::Last),
            _ => {}
        }
        if let Some(key) = t.strip_prefix("session:") {
            if key.trim().is_empty() {
                return Err(format!("`{t}` names no session; {hint}"));
            }
            return Ok(Self::Session(key.trim().to_owned()));
        }
        let Some((head, chat)) = t.split_once(':') else {
            return Err(format!("`{t}` is not a delivery target; {hint}"));
        };
        let (channel, account) = match head.split_once('/') {
            Some((c, a)) => (c, Some(a)),
            None => (head, None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !valid(channel) || account.is_some_and(|a| !valid(a)) {
            return Err(format!("`{t}` does not start with a channel name; {hint}"));
        }
        let (chat_id, thread_id) = match chat.split_once('#') {
            Some((c, th)) => (c, Some(th.to_owned()).filter(|th| !th.is_empty())),
            None => (chat, None),
        };
        if chat_id.trim().is_empty() {
            return Err(format!("`{t}` names no chat; {hint}"));
        }
        Ok(Self::Peer {
            channel: channel.to_ascii_lowercase(),
            account: account.map(str::to_owned),
            chat_id: chat_id.trim().to_owned(),
            thread_id,
        })
    }
}

impl std::fmt::Display for DeliveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Last => f.write_str("last"),
            Self::Session(key) => write!(f, "session:{key}"),
            Self::Peer {
                channel,
                account,
                chat_id,
                thread_id,
            } => {
                f.write_str(channel)?;
                if let Some(a) = account {
                    write!(f, "/{a}")?;
                }
                write!(f, ":{chat_id}")?;
                if let Some(th) = thread_id {
                    write!(f, "#{th}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1h30m"), Ok(5400));
        assert_eq!(parse_interval(" 2D "), Ok(172_800));
        for bad in ["", "5", "m", "0s", "1y", "-5m", "99999999999999999999w"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn delivery_targets() {
        for text in [
            "none",
            "last",
            "session:agent:main:main",
            "telegram:123456",
            "telegram:-100123",
            "discord/work:987#55",
        ] {
            let parsed = DeliveryTarget::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            DeliveryTarget::parse("slack/T1:C9").unwrap(),
            DeliveryTarget::Peer {
                channel: "slack".into(),
                account: Some("T1".into()),
                chat_id: "C9".into(),
                thread_id: None
            }
        );
        for bad in [
            "",
            "telegram",
            "telegram:",
            ":5",
            "session:",
            "tele gram:5",
            "a/:5",
        ] {
            let err = DeliveryTarget::parse(bad).unwrap_err();
            assert!(err.contains("telegram:123456"), "{bad}: {err}");
        }
    }
}

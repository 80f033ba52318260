//! Semantic rules for the proactive side (see [`crate::validate`]): incoming webhooks (`hooks`),
//! the heartbeat (`agents.defaults.heartbeat`) and the scheduler (`cron`); and the syntax of a
//! webhook's message template ([`parse_template`]), shared with the gateway that renders it so
//! a template that passes here renders the same way there.

use std::collections::HashSet;

use crate::path::{child_index, child_key};
use crate::suggest::{did_you_mean, suggest};
use crate::{Config, DeliveryTarget, HookAction, Issue, SecretValue, SignatureStyle};

/// Paths the gateway serves itself; the webhook prefix may not shadow or sit inside them.
const RESERVED_PATHS: [&str; 6] = [
    "/v1",
    "/channels",
    "/health",
    "/readyz",
    "/assets",
    "/index.html",
];

/// Webhook names the prefix itself uses: `<path>/wake`, `<path>/agent`, `<path>/runs/<id>`.
const RESERVED_HOOK_NAMES: [&str; 3] = ["wake", "agent", "runs"];

/// Largest `maxBodyBytes` accepted: webhooks are small; a larger cap only helps a flood.
const MAX_BODY_CAP: usize = 16 * 1024 * 1024;

const TOKEN_HINT: &str = "create one with `hearth secrets set hooks-token` (a long random \
                          value) and set `\"token\": {\"secret\": \"hooks-token\"}`";

/// One piece of a webhook message template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart<'a> {
    /// Text copied as it is.
    Text(&'a str),
    /// `{{a.b.0.c}}`: a path into the JSON body (a number indexes an array).
    Field(Vec<&'a str>),
}

/// Splits a template into text and `{{field.path}}` placeholders. Placeholders are plain
/// paths: letters, digits, `_`, `-` and `$` between dots, spaces around allowed; anything else
/// (expressions, helpers, partials) is refused with what is wrong.
pub fn parse_template(text: &str) -> Result<Vec<TemplatePart<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(TemplatePart::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(format!(
                "`{}` opens a placeholder that is never closed with `}}}}`",
                shorten(&rest[open..])
            ));
        };
        let inner = after[..close].trim();
        if inner.is_empty() {
            return Err("`{{}}` names no field; write `{{field}}` or `{{field.sub}}`".to_owned());
        }
        let segments: Vec<&str> = inner.split('.').collect();
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
        };
        if !segments.iter().all(|s| plain(s)) {
            return Err(format!(
                "`{{{{{inner}}}}}` is not a field path: placeholders name fields of the JSON body \
                 (`{{{{repository.full_name}}}}`, `{{{{commits.0.message}}}}`); there are no \
                 expressions or helpers"
            ));
        }
        parts.push(TemplatePart::Field(segments));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest));
    }
    Ok(parts)
}

fn shorten(text: &str) -> &str {
    let mut end = text.len().min(40);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

pub(crate) fn check_automation(config: &Config, out: &mut Vec<Issue>) {
    check_hooks(config, out);
    check_heartbeat(config, out);
    check_cron(config, out);
}

fn agent_ids(config: &Config) -> Vec<&str> {
    if config.agents.list.is_empty() {
        vec!["main"]
    } else {
        config.agents.list.iter().map(|a| a.id.as_str()).collect()
    }
}

fn check_target(path: String, text: &str, out: &mut Vec<Issue>) {
    if let Err(e) = DeliveryTarget::parse(text) {
        out.push(Issue::error(path, e));
    }
}

fn check_secret(path: String, value: &SecretValue, out: &mut Vec<Issue>) {
    match value {
        SecretValue::Literal(s) if s.trim().is_empty() => {
            out.push(Issue::error(path, "is empty").with_hint(TOKEN_HINT));
        }
        SecretValue::Ref { secret } if secret.trim().is_empty() => {
            out.push(Issue::error(path, "names no secret").with_hint(TOKEN_HINT));
        }
        _ => {}
    }
}

fn check_hooks(config: &Config, out: &mut Vec<Issue>) {
    let hooks = &config.hooks;
    match &hooks.token {
        None if hooks.enabled => out.push(
            Issue::error(
                "hooks.token",
                "webhooks are enabled but have no token; every call must carry it",
            )
            .with_hint(TOKEN_HINT),
        ),
        Some(token) => check_secret("hooks.token".to_owned(), token, out),
        None => {}
    }
    check_prefix(&hooks.path, out);
    if hooks.max_body_bytes == 0 || hooks.max_body_bytes > MAX_BODY_CAP {
        out.push(
            Issue::error(
                "hooks.maxBodyBytes",
                format!("must be between 1 and {MAX_BODY_CAP}"),
            )
            .with_hint("the default is 262144 (256 KiB), enough for GitHub's and Stripe's events"),
        );
    }
    let ids = agent_ids(config);
    let mut seen = HashSet::new();
    for (index, mapping) in hooks.mappings.iter().enumerate() {
        let path = child_index("hooks.mappings", index);
        let name = mapping.name.as_str();
        let name_ok = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !name_ok {
            out.push(
                Issue::error(
                    child_key(&path, "name"),
                    format!("`{name}` is not a webhook name"),
                )
                .with_hint(
                    "use 1 to 64 letters, digits, `-` and `_`; it is the last part of the URL",
                ),
            );
        } else if RESERVED_HOOK_NAMES.contains(&name) {
            out.push(
                Issue::error(
                    child_key(&path, "name"),
                    format!("`{name}` is taken by `{}/{name}`", hooks.path),
                )
                .with_hint("choose another name, e.g. `github` or `stripe`"),
            );
        } else if !seen.insert(name) {
            out.push(Issue::error(
                child_key(&path, "name"),
                format!("`{name}` is used by an earlier mapping"),
            ));
        }
        if let Some(agent) = &mapping.agent_id
            && !ids.contains(&agent.as_str())
        {
            let hint = match suggest(agent, &ids) {
                Some(close) => did_you_mean(&close),
                None => format!("configured agents: {}", ids.join(", ")),
            };
            out.push(
                Issue::error(
                    child_key(&path, "agentId"),
                    format!("unknown agent `{agent}`"),
                )
                .with_hint(hint),
            );
        }
        if let Some(key) = &mapping.session_key
            && (key.trim().is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            out.push(
                Issue::error(
                    child_key(&path, "sessionKey"),
                    "must be a session key without spaces",
                )
                .with_hint("e.g. `ci` (the agent's session `agent:<agent>:ci`)"),
            );
        }
        if let Some(deliver) = &mapping.deliver {
            check_target(child_key(&path, "deliver"), deliver, out);
        }
        if let Some(template) = &mapping.message_template
            && let Err(e) = parse_template(template)
        {
            out.push(Issue::error(child_key(&path, "messageTemplate"), e));
        }
        if let Some(signature) = &mapping.signature {
            let sig_path = child_key(&path, "signature");
            check_secret(child_key(&sig_path, "secret"), &signature.secret, out);
            if signature.style == SignatureStyle::Stripe && signature.tolerance_seconds == 0 {
                out.push(
                    Issue::error(
                        child_key(&sig_path, "toleranceSeconds"),
                        "must be at least 1",
                    )
                    .with_hint("Stripe's own libraries allow 300 seconds"),
                );
            }
        }
        if mapping.rate_per_minute == 0 {
            out.push(
                Issue::error(child_key(&path, "ratePerMinute"), "must be at least 1")
                    .with_hint("to turn a webhook off, remove its mapping"),
            );
        }
        match mapping.max_body_bytes {
            Some(0) => out.push(Issue::error(
                child_key(&path, "maxBodyBytes"),
                "must be at least 1",
            )),
            Some(n) if n > hooks.max_body_bytes => out.push(Issue::warning(
                child_key(&path, "maxBodyBytes"),
                format!(
                    "is larger than `hooks.maxBodyBytes` ({}), which applies instead",
                    hooks.max_body_bytes
                ),
            )),
            _ => {}
        }
        if mapping.action == HookAction::Wake {
            let unused: Vec<&str> = [
                ("agentId", mapping.agent_id.is_some()),
                ("sessionKey", mapping.session_key.is_some()),
                ("messageTemplate", mapping.message_template.is_some()),
                ("deliver", mapping.deliver.is_some()),
            ]
            .into_iter()
            .filter_map(|(key, set)| set.then_some(key))
            .collect();
            if !unused.is_empty() {
                out.push(
                    Issue::warning(
                        path.clone(),
                        format!(
                            "{} ignored: `action: \"wake\"` runs the heartbeat as configured",
                            unused.join(", ")
                        ),
                    )
                    .with_hint("set the heartbeat's own `prompt` and `target` under agents.defaults.heartbeat"),
                );
            }
        }
    }
}

fn check_prefix(prefix: &str, out: &mut Vec<Issue>) {
    let hint = "e.g. `/hooks`";
    let chars_ok = prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    let problem = if !prefix.starts_with('/') {
        Some(format!("`{prefix}` must start with `/`"))
    } else if prefix == "/" {
        Some("`/` would take every path of the gateway".to_owned())
    } else if !chars_ok || prefix.contains("//") || prefix.ends_with('/') {
        Some(format!(
            "`{prefix}` is not a plain path: use letters, digits, `-`, `_` and `.` between \
             single slashes, without a slash at the end"
        ))
    } else {
        let lower = prefix.to_ascii_lowercase();
        RESERVED_PATHS
            .iter()
            .find(|r| {
                lower == **r
                    || lower.starts_with(&format!("{r}/"))
                    || r.starts_with(&format!("{lower}/"))
            })
            .map(|r| format!("`{prefix}` collides with the gateway's own `{r}`"))
    };
    if let Some(problem) = problem {
        out.push(Issue::error("hooks.path", problem).with_hint(hint));
    }
}

/// `HH:MM` (`24:00` for the end of the day).
fn is_clock_time(text: &str) -> bool {
    let Some((h, m)) = text.trim().split_once(':') else {
        return false;
    };
    let (Ok(h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) else {
        return false;
    };
    (h < 24 && m < 60) || (h == 24 && m == 0)
}

fn check_heartbeat(config: &Config, out: &mut Vec<Issue>) {
    let base = "agents.defaults.heartbeat";
    let heartbeat = &config.agents.defaults.heartbeat;
    if let Some(every) = &heartbeat.every
        && let Err(e) = crate::parse_interval(every)
    {
        out.push(Issue::error(child_key(base, "every"), e));
    }
    if let Some(hours) = &heartbeat.active_hours {
        let hours_path = child_key(base, "activeHours");
        let mut both = true;
        for (key, value) in [("start", &hours.start), ("end", &hours.end)] {
            if !is_clock_time(value) {
                both = false;
                out.push(
                    Issue::error(
                        child_key(&hours_path, key),
                        format!("`{value}` is not a time of day"),
                    )
                    .with_hint("write `HH:MM`, e.g. `08:00` or `22:30`"),
                );
            }
        }
        if both && hours.start.trim() == hours.end.trim() {
            out.push(
                Issue::error(
                    hours_path,
                    "starts and ends at the same time, so it never runs",
                )
                .with_hint("remove `activeHours` to run around the clock"),
            );
        }
    }
    if let Some(target) = &heartbeat.target {
        check_target(child_key(base, "target"), target, out);
    }
    if heartbeat.every.is_none()
        && (heartbeat.active_hours.is_some()
            || heartbeat.prompt.is_some()
            || heartbeat.target.is_some())
    {
        out.push(
            Issue::warning(base, "has settings but no `every`, so it never runs")
                .with_hint("set `every`, e.g. `30m`"),
        );
    }
}

fn check_cron(config: &Config, out: &mut Vec<Issue>) {
    if let Some(target) = &config.cron.alert_target {
        check_target("cron.alertTarget".to_owned(), target, out);
    }
    if config.cron.max_concurrent_runs == 0 {
        out.push(
            Issue::error("cron.maxConcurrentRuns", "must be at least 1")
                .with_hint("to stop scheduled jobs, set `cron.enabled` to false"),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn issues(doc: serde_json::Value) -> Vec<String> {
        let config: Config = serde_json::from_value(doc).unwrap();
        let mut out = Vec::new();
        check_automation(&config, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    fn field(path: &str) -> TemplatePart<'_> {
        TemplatePart::Field(path.split('.').collect())
    }

    #[test]
    fn templates_are_text_and_field_paths() {
        assert_eq!(
            parse_template("Push to {{ repository.full_name }}: {{commits.0.message}}!").unwrap(),
            [
                TemplatePart::Text("Push to "),
                field("repository.full_name"),
                TemplatePart::Text(": "),
                field("commits.0.message"),
                TemplatePart::Text("!"),
            ]
        );
        assert_eq!(parse_template("").unwrap(), []);
        assert_eq!(
            parse_template("a { b } }} c").unwrap(),
            [TemplatePart::Text("a { b } }} c")]
        );
        for bad in [
            "{{",
            "x {{a.b",
            "{{}}",
            "{{ }}",
            "{{a..b}}",
            "{{.a}}",
            "{{#if a}}x{{/if}}",
            "{{> partial}}",
            "{{{raw}}}",
            "{{a b}}",
            "{{lookup a 'b'}}",
            "{{a.[0]}}",
        ] {
            assert!(parse_template(bad).is_err(), "{bad}");
        }
        let err = parse_template("{{#each commits}}").unwrap_err();
        assert!(err.contains("no expressions or helpers"), "{err}");
    }

    #[test]
    fn enabled_hooks_need_a_token_and_a_plain_path() {
        let shown = issues(json!({ "hooks": { "enabled": true } }));
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(
            shown[0].starts_with("hooks.token:")
                && shown[0].contains("hearth secrets set hooks-token")
                && shown[0].contains(r#""token": {"secret": "hooks-token"}"#),
            "{shown:?}"
        );
        assert!(issues(json!({ "hooks": { "enabled": false } })).is_empty());
        let ok = json!({ "hooks": { "enabled": true, "token": { "secret": "hooks-token" }, "path": "/in/hooks" } });
        assert!(issues(ok).is_empty());
        for bad in [
            "hooks",
            "/",
            "/v1",
            "/v1/hooks",
            "/channels",
            "/health",
            "/readyz",
            "/assets/x",
            "/hooks/",
            "/ho oks",
            "/a//b",
            "/hooks?x",
            "/V1",
        ] {
            let shown = issues(json!({ "hooks": { "path": bad } }));
            assert!(
                shown.len() == 1 && shown[0].starts_with("hooks.path:"),
                "{bad}: {shown:?}"
            );
        }
        let shown = issues(json!({ "hooks": { "token": "", "maxBodyBytes": 0 } }));
        assert_eq!(shown.len(), 2, "{shown:?}");
    }

    #[test]
    fn mappings_are_checked() {
        let shown = issues(json!({
            "agents": { "list": [ { "id": "main" }, { "id": "ops" } ] },
            "hooks": { "mappings": [
                { "name": "github", "agentId": "opz", "deliver": "telegram:", "messageTemplate": "{{#if x}}" },
                { "name": "github" },
                { "name": "wake" },
                { "name": "bad name" },
                { "name": "stripe", "signature": { "style": "stripe", "secret": { "secret": "s" }, "toleranceSeconds": 0 },
                  "ratePerMinute": 0, "maxBodyBytes": 999999999 },
                { "name": "ping", "action": "wake", "deliver": "none" },
                { "name": "ok", "agentId": "ops", "sessionKey": "ci", "deliver": "telegram:5",
                  "messageTemplate": "{{repository.full_name}}", "maxBodyBytes": 1024,
                  "signature": { "style": "github", "secret": { "secret": "gh" } } },
            ] }
        }));
        let expect = [
            "hooks.mappings[0].agentId: unknown agent `opz` (did you mean `ops`?)",
            "hooks.mappings[0].deliver:",
            "hooks.mappings[0].messageTemplate:",
            "hooks.mappings[1].name: `github` is used by an earlier mapping",
            "hooks.mappings[2].name: `wake` is taken by `/hooks/wake`",
            "hooks.mappings[3].name: `bad name` is not a webhook name",
            "hooks.mappings[4].signature.toleranceSeconds:",
            "hooks.mappings[4].ratePerMinute:",
            "warning: hooks.mappings[4].maxBodyBytes:",
            "warning: hooks.mappings[5]: deliver ignored",
        ];
        assert_eq!(shown.len(), expect.len(), "{shown:#?}");
        for (got, want) in shown.iter().zip(expect) {
            assert!(got.starts_with(want), "{got} / {want}");
        }
    }

    #[test]
    fn heartbeat_and_cron_settings_are_checked() {
        let shown = issues(json!({
            "agents": { "defaults": { "heartbeat": {
                "every": "30 minutes",
                "activeHours": { "start": "8:00", "end": "25:00" },
                "target": "telegram",
            } } },
            "cron": { "alertTarget": "nowhere", "maxConcurrentRuns": 0 },
        }));
        let expect = [
            "agents.defaults.heartbeat.every:",
            "agents.defaults.heartbeat.activeHours.end: `25:00` is not a time of day",
            "agents.defaults.heartbeat.target:",
            "cron.alertTarget:",
            "cron.maxConcurrentRuns: must be at least 1",
        ];
        assert_eq!(shown.len(), expect.len(), "{shown:#?}");
        for (got, want) in shown.iter().zip(expect) {
            assert!(got.starts_with(want), "{got} / {want}");
        }
        let same = issues(json!({ "agents": { "defaults": { "heartbeat": {
            "every": "1h", "activeHours": { "start": "08:00", "end": "08:00", "timezone": "Nowhere/Else" },
        } } } }));
        assert_eq!(same.len(), 1, "{same:?}");
        assert!(same[0].contains("never runs"), "{same:?}");
        let idle =
            issues(json!({ "agents": { "defaults": { "heartbeat": { "target": "last" } } } }));
        assert!(
            idle.len() == 1 && idle[0].starts_with("warning:"),
            "{idle:?}"
        );
        let fine = issues(json!({
            "agents": { "defaults": { "heartbeat": {
                "every": "30m", "activeHours": { "start": "22:00", "end": "24:00" }, "target": "last",
            } } },
            "cron": { "alertTarget": "telegram:123456" },
        }));
        assert!(fine.is_empty(), "{fine:?}");
    }
}

//! A webhook's message: its mapping's `messageTemplate` filled from the JSON body, or without a
//! template the body itself.
//!
//! Only the fields a template names reach the agent. A placeholder is a plain path into the
//! body (`{{repository.full_name}}`, `{{commits.0.message}}`: a number indexes an array); there
//! are no expressions, helpers or access to anything but the body, so a sender cannot make the
//! template read anything else. The syntax is `hearth_config::parse_template`'s, the one config
//! validation checks.

use hearth_config::TemplatePart;
use serde_json::Value;

use crate::util::truncate_chars;

/// Longest message a webhook hands the agent, in bytes.
pub(crate) const MAX_MESSAGE_BYTES: usize = 32 * 1024;

const CUT_MARK: &str = "\n…(cut)";

/// Fills `template` from `body`: strings as they are, other values as compact JSON, a missing
/// field as nothing; capped at `max` bytes.
pub(crate) fn render(template: &[TemplatePart<'_>], body: &Value, max: usize) -> String {
    let mut out = String::new();
    for part in template {
        match part {
            TemplatePart::Text(text) => out.push_str(text),
            TemplatePart::Field(path) => match lookup(body, path) {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => {}
            },
        }
        if out.len() > max {
            break;
        }
    }
    cap(out, max)
}

/// The body as pretty JSON, capped at `max` bytes: the message of a mapping without a template.
pub(crate) fn body_message(body: &Value, max: usize) -> String {
    let text = serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string());
    cap(text, max)
}

fn lookup<'v>(body: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(body, |value, segment| match value {
        Value::Object(map) => map.get(*segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn cap(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let keep = truncate_chars(&text, max.saturating_sub(CUT_MARK.len()));
    format!("{keep}{CUT_MARK}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fill(template: &str, body: &Value) -> String {
        let parts = hearth_config::parse_template(template).unwrap();
        render(&parts, body, MAX_MESSAGE_BYTES)
    }

    fn push() -> Value {
        json!({
            "ref": "refs/heads/main",
            "repository": { "full_name": "acme/api", "private": true, "stars": 42 },
            "head_commit": { "message": "Fix the build", "author": null },
            "commits": [ { "id": "a1", "message": "first" }, { "id": "b2", "message": "second" } ],
            "pusher": { "name": "ann" },
            "secret_field": "do-not-leak",
        })
    }

    #[test]
    fn fields_are_filled_from_the_body_only() {
        let body = push();
        assert_eq!(
            fill(
                "Push to {{repository.full_name}} ({{ ref }}): {{head_commit.message}}",
                &body
            ),
            "Push to acme/api (refs/heads/main): Fix the build"
        );
        assert_eq!(
            fill("{{commits.1.message}}/{{commits.0.id}}", &body),
            "second/a1"
        );
        // Other values as compact JSON.
        assert_eq!(
            fill(
                "{{repository.private}} {{repository.stars}} {{head_commit.author}}",
                &body
            ),
            "true 42 null"
        );
        assert_eq!(
            fill("{{pusher}}|{{commits.0}}", &body),
            r#"{"name":"ann"}|{"id":"a1","message":"first"}"#
        );
        // Missing fields, indexes past the end, paths through scalars: nothing.
        assert_eq!(
            fill(
                "[{{nope}}][{{commits.9.message}}][{{ref.length}}][{{commits.first}}][{{head_commit.author.name}}]",
                &body
            ),
            "[][][][][]"
        );
        let shown = fill("{{repository.full_name}}: {{head_commit.message}}", &body);
        assert!(
            !shown.contains("do-not-leak") && !shown.contains("ann"),
            "{shown}"
        );
        // A top-level array is indexed too.
        assert_eq!(fill("{{1.x}}", &json!([{ "x": 1 }, { "x": 2 }])), "2");
    }

    #[test]
    fn placeholders_in_values_are_not_filled_again() {
        let body = json!({ "title": "{{secret_field}}", "secret_field": "s3cret" });
        assert_eq!(fill("PR: {{title}}", &body), "PR: {{secret_field}}");
    }

    #[test]
    fn messages_are_capped() {
        let body = json!({ "big": "é".repeat(40_000) });
        let shown = fill("start {{big}} {{big}} end", &body);
        assert!(shown.len() <= MAX_MESSAGE_BYTES, "{}", shown.len());
        assert!(shown.starts_with("start éé") && shown.ends_with(CUT_MARK));
        let small = render(
            &hearth_config::parse_template("{{big}}").unwrap(),
            &body,
            10,
        );
        assert!(small.len() <= 10, "{small}");

        let pretty = body_message(&json!({ "a": [1, 2], "b": "x" }), MAX_MESSAGE_BYTES);
        assert_eq!(
            pretty,
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"x\"\n}"
        );
        let cut = body_message(&body, 1000);
        assert!(
            cut.len() <= 1000 && cut.ends_with(CUT_MARK),
            "{}",
            cut.len()
        );
    }
}

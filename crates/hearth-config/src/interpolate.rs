//! `${NAME}` environment references inside string values, resolved as a pure function of the
//! document and a lookup, so tests pass a map instead of touching the process environment.
//!
//! `$${NAME}` stands for a literal `${NAME}`. Keys are never interpolated. A missing variable
//! is an error issue at the setting's path; the string is left as written.

use serde_json::Value;

use crate::Issue;
use crate::path::{child_index, child_key};

/// Replaces every `${NAME}` in the string values of `doc` with `env(NAME)` and returns an
/// issue for each reference that cannot be resolved.
pub fn interpolate(doc: &mut Value, env: &dyn Fn(&str) -> Option<String>) -> Vec<Issue> {
    let mut issues = Vec::new();
    walk(doc, "", env, &mut issues);
    issues
}

fn walk(value: &mut Value, path: &str, env: &dyn Fn(&str) -> Option<String>, out: &mut Vec<Issue>) {
    match value {
        Value::String(text) => {
            if text.contains('$') {
                match expand(text, env) {
                    Ok(expanded) => *text = expanded,
                    Err(problems) => {
                        out.extend(problems.into_iter().map(|problem| problem.into_issue(path)));
                    }
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &child_index(path, index), env, out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                walk(item, &child_key(path, key), env, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Problem {
    Missing(String),
    Malformed,
}

impl Problem {
    fn into_issue(self, path: &str) -> Issue {
        match self {
            Problem::Missing(name) => Issue::error(
                path,
                format!("environment variable {name} is not set"),
            )
            .with_hint(format!(
                "set it before starting Hearth, or write `$${{{name}}}` for a literal `${{{name}}}`"
            )),
            Problem::Malformed => Issue::error(path, "malformed `${...}` reference").with_hint(
                "references look like `${NAME}` with letters, digits and `_`; write `$${` for a \
                 literal `${`",
            ),
        }
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What a `$` starts: an escape (`$${`), a reference with its name and length, a broken
/// reference, or (`None`) nothing special.
enum Token<'a> {
    Escape,
    Reference(&'a str, usize),
    Malformed,
}

fn token_at(rest: &str) -> Option<Token<'_>> {
    if rest.starts_with("$${") {
        return Some(Token::Escape);
    }
    let body = rest.strip_prefix("${")?;
    match body.find('}') {
        Some(end) if is_name(&body[..end]) => Some(Token::Reference(&body[..end], end + 3)),
        _ => Some(Token::Malformed),
    }
}

fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<Problem>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar..];
        match token_at(rest) {
            Some(Token::Escape) => {
                out.push_str("${");
                rest = &rest[3..];
            }
            Some(Token::Reference(name, len)) => {
                match env(name) {
                    Some(value) => out.push_str(&value),
                    None => problems.push(Problem::Missing(name.to_owned())),
                }
                rest = &rest[len..];
            }
            Some(Token::Malformed) => {
                problems.push(Problem::Malformed);
                rest = &rest[2..];
            }
            None => {
                out.push('$');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Whether `text` contains at least one `${NAME}` reference (escapes do not count): such a
/// value is not written in the file itself.
pub(crate) fn has_reference(text: &str) -> bool {
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        rest = &rest[dollar..];
        match token_at(rest) {
            Some(Token::Reference(..)) => return true,
            Some(Token::Escape) => rest = &rest[3..],
            Some(Token::Malformed) => rest = &rest[2..],
            None => rest = &rest[1..],
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn present_variables_are_substituted_everywhere_but_keys() {
        let env = env_of(&[("KEY", "sk-1"), ("HOST", "10.0.0.2"), ("EMPTY", "")]);
        let mut doc = json!({
            "models": { "providers": { "${HOST}": {
                "baseUrl": "http://${HOST}:8080/v1",
                "apiKey": "${KEY}",
                "headers": { "x": "a${EMPTY}b" },
            } } },
            "list": ["${KEY}", 3, null, true],
        });
        assert_eq!(interpolate(&mut doc, &env), Vec::new());
        assert_eq!(
            doc,
            json!({
                "models": { "providers": { "${HOST}": {
                    "baseUrl": "http://10.0.0.2:8080/v1",
                    "apiKey": "sk-1",
                    "headers": { "x": "ab" },
                } } },
                "list": ["sk-1", 3, null, true],
            })
        );
    }

    #[test]
    fn missing_variables_are_reported_with_their_path() {
        let mut doc = json!({ "models": { "providers": {
            "openai": { "apiKey": "${OPENAI_API_KEY}" },
            "my.local": { "headers": { "x": "${A} and ${B}" } },
        } } });
        let issues = interpolate(&mut doc, &env_of(&[("B", "b")]));
        let shown: Vec<String> = issues
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect();
        assert_eq!(
            shown,
            [
                "models.providers.openai.apiKey: environment variable OPENAI_API_KEY is not set",
                r#"models.providers["my.local"].headers.x: environment variable A is not set"#,
            ]
        );
        assert!(issues.iter().all(Issue::is_error));
        assert_eq!(
            doc["models"]["providers"]["openai"]["apiKey"],
            "${OPENAI_API_KEY}"
        );
    }

    #[test]
    fn escapes_give_literal_references() {
        let env = env_of(&[("X", "value")]);
        let mut doc = json!([
            "$${X}",
            "$$${X}",
            "cost: $5",
            "$",
            "a$b",
            "${X}$${X}",
            "$${NOPE"
        ]);
        assert_eq!(interpolate(&mut doc, &env), Vec::new());
        assert_eq!(
            doc,
            json!([
                "${X}",
                "$${X}",
                "cost: $5",
                "$",
                "a$b",
                "value${X}",
                "${NOPE"
            ])
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        for text in ["${}", "${1X}", "${A-B}", "${UNCLOSED", "x ${ Y }"] {
            let mut doc = json!({ "a": text });
            let issues = interpolate(&mut doc, &env_of(&[("Y", "y")]));
            assert_eq!(issues.len(), 1, "{text}");
            assert_eq!(issues[0].path, "a");
            assert!(issues[0].message.contains("malformed"), "{text}");
        }
    }

    #[test]
    fn references_are_recognised() {
        assert!(has_reference("${OPENAI_API_KEY}"));
        assert!(has_reference("Bearer ${T}"));
        assert!(!has_reference("sk-abc"));
        assert!(!has_reference("$${ESCAPED}"));
        assert!(!has_reference("${not valid}"));
    }
}

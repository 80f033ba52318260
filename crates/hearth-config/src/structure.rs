//! The structural check: walks the raw document and the JSON Schema of [`crate::Config`]
//! together and reports every mismatch with its path, instead of serde's first error.
//!
//! It understands what schemars emits for our types, no more: `$ref` into `$defs`, `type`
//! (single or a list), `properties`, `required`, `additionalProperties` (`false`, or a schema for
//! maps), `enum`, `const`, `anyOf`/`oneOf` (valid when any branch is), `items`, and integer
//! bounds from `minimum`/`maximum` or from `format` (`uint16`...). A document that passes
//! deserializes into `Config`.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::Issue;
use crate::path::{child_index, child_key};
use crate::suggest::{did_you_mean, suggest};

/// Checks a raw (interpolated, migrated) document against the schema of [`crate::Config`].
pub fn check_structure(doc: &Value) -> Vec<Issue> {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    let schema = SCHEMA.get_or_init(crate::schema);
    let mut issues = Vec::new();
    Walker { root: schema }.walk(doc, schema, "", &mut issues);
    issues
}

struct Walker<'s> {
    root: &'s Value,
}

/// Values shown in messages are cut short: a long string is never the useful part.
const SHOWN_CHARS: usize = 40;

fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let shown = if s.chars().count() > SHOWN_CHARS {
                let cut: String = s.chars().take(SHOWN_CHARS).collect();
                format!("{}...", Value::String(cut))
            } else {
                Value::String(s.clone()).to_string()
            };
            format!("the string {shown}")
        }
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A doc-comment description as the tail of a sentence: one line, no final period, and a
/// lowercase start unless the first word is an acronym (`API root`).
fn fragment(description: &str) -> String {
    let text = description.trim().trim_end_matches('.').replace('\n', " ");
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            first.to_lowercase().chain(text.chars().skip(1)).collect()
        }
        _ => text,
    }
}

fn type_matches(value: &Value, ty: &str) -> bool {
    match ty {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    }
}

fn types_of(schema: &Map<String, Value>) -> Option<Vec<&str>> {
    match schema.get("type")? {
        Value::String(ty) => Some(vec![ty.as_str()]),
        Value::Array(types) => Some(types.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// Integer bounds: explicit `minimum`/`maximum`, else those implied by the `format`.
fn integer_bounds(schema: &Map<String, Value>) -> (Option<i128>, Option<i128>) {
    let from_format = match schema.get("format").and_then(Value::as_str) {
        Some("uint8") => (Some(0), Some(i128::from(u8::MAX))),
        Some("uint16") => (Some(0), Some(i128::from(u16::MAX))),
        Some("uint32" | "uint") => (Some(0), Some(i128::from(u32::MAX))),
        Some("uint64") => (Some(0), Some(i128::from(u64::MAX))),
        Some("int8") => (Some(i128::from(i8::MIN)), Some(i128::from(i8::MAX))),
        Some("int16") => (Some(i128::from(i16::MIN)), Some(i128::from(i16::MAX))),
        Some("int32" | "int") => (Some(i128::from(i32::MIN)), Some(i128::from(i32::MAX))),
        Some("int64") => (Some(i128::from(i64::MIN)), Some(i128::from(i64::MAX))),
        _ => (None, None),
    };
    let explicit = |key: &str| schema.get(key).and_then(as_i128);
    (
        explicit("minimum").or(from_format.0),
        explicit("maximum").or(from_format.1),
    )
}

fn as_i128(value: &Value) -> Option<i128> {
    value
        .as_i64()
        .map(i128::from)
        .or_else(|| value.as_u64().map(i128::from))
}

fn describe_integer(schema: &Map<String, Value>) -> String {
    match integer_bounds(schema) {
        (Some(0), Some(max)) if max >= i128::from(u64::MAX) => {
            "a whole number (0 or more)".to_owned()
        }
        (Some(0), None) => "a whole number (0 or more)".to_owned(),
        (Some(min), Some(max)) => format!("an integer from {min} to {max}"),
        (Some(min), None) => format!("an integer of at least {min}"),
        (None, Some(max)) => format!("an integer of at most {max}"),
        (None, None) => "an integer".to_owned(),
    }
}

fn backticked(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => format!("`{s}`"),
            other => format!("`{other}`"),
        })
        .collect()
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl<'s> Walker<'s> {
    fn resolve(&self, reference: &str) -> Option<&'s Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// Follows `$ref`s until a schema that says something itself.
    fn resolved(&self, schema: &'s Value) -> &'s Value {
        let mut current = schema;
        for _ in 0..32 {
            match current
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| self.resolve(r))
            {
                Some(target) => current = target,
                None => break,
            }
        }
        current
    }

    fn alternatives(schema: &'s Value) -> Option<&'s Vec<Value>> {
        schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
    }

    /// The values a schema allows when it is an enumeration (`enum`, `const`, or alternatives
    /// that are all constants); `None` otherwise.
    fn allowed_values(&self, schema: &'s Value) -> Option<Vec<Value>> {
        let schema = self.resolved(schema);
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return Some(values.clone());
        }
        if let Some(value) = schema.get("const") {
            return Some(vec![value.clone()]);
        }
        let branches = Self::alternatives(schema)?;
        let mut all = Vec::new();
        for branch in branches {
            all.extend(self.allowed_values(branch)?);
        }
        Some(all)
    }

    /// A noun phrase for what a schema accepts, for "expected ..., found ..." messages.
    fn describe(&self, schema: &'s Value) -> String {
        let schema = self.resolved(schema);
        if let Some(values) = self.allowed_values(schema) {
            let shown = backticked(&values);
            return if let [one] = shown.as_slice() {
                one.clone()
            } else {
                format!("one of {}", shown.join(", "))
            };
        }
        if let Some(branches) = Self::alternatives(schema) {
            let mut parts: Vec<String> = Vec::new();
            for branch in branches {
                if self.resolved(branch).get("type").and_then(Value::as_str) == Some("null") {
                    continue;
                }
                let part = self.describe(branch);
                if !parts.contains(&part) {
                    parts.push(part);
                }
            }
            return if parts.is_empty() {
                "null".to_owned()
            } else {
                join_or(&parts)
            };
        }
        let Some(map) = schema.as_object() else {
            return "anything".to_owned();
        };
        let Some(types) = types_of(map) else {
            return "anything".to_owned();
        };
        let mut parts: Vec<String> = types
            .iter()
            .filter(|ty| **ty != "null" || types.len() == 1)
            .map(|ty| match *ty {
                "integer" => describe_integer(map),
                "number" => "a number".to_owned(),
                "string" => "a string".to_owned(),
                "boolean" => "true or false".to_owned(),
                "array" => "a list".to_owned(),
                "object" => match map.get("required").and_then(Value::as_array) {
                    Some(required) if !required.is_empty() => {
                        format!("an object with {}", backticked(required).join(", "))
                    }
                    _ => "an object".to_owned(),
                },
                "null" => "null".to_owned(),
                other => other.to_owned(),
            })
            .collect();
        parts.dedup();
        join_or(&parts)
    }

    /// Whether a value is of a kind the schema could accept, ignoring everything inside it.
    fn kind_matches(&self, value: &Value, schema: &'s Value) -> bool {
        let schema = self.resolved(schema);
        if let Some(branches) = Self::alternatives(schema) {
            return branches
                .iter()
                .any(|branch| self.kind_matches(value, branch));
        }
        match schema.as_object().and_then(types_of) {
            Some(types) => types.iter().any(|ty| type_matches(value, ty)),
            None => true,
        }
    }

    fn walk(&self, value: &Value, schema: &'s Value, path: &str, out: &mut Vec<Issue>) {
        let map = match schema {
            Value::Bool(false) => {
                out.push(Issue::error(path, "no value is allowed here"));
                return;
            }
            Value::Object(map) => map,
            _ => return,
        };

        if let Some(target) = map.get("$ref").and_then(Value::as_str) {
            match self.resolve(target) {
                Some(target) => {
                    let before = out.len();
                    self.walk(value, target, path, out);
                    if out.len() > before {
                        return;
                    }
                }
                None => out.push(Issue::error(
                    path,
                    format!("internal schema error: `{target}` not found"),
                )),
            }
        }

        if let Some(branches) = Self::alternatives(schema)
            && !self.walk_alternatives(value, schema, branches, path, out)
        {
            return;
        }

        let wrong_type =
            types_of(map).is_some_and(|types| !types.iter().any(|ty| type_matches(value, ty)));
        let not_const = map.get("const").is_some_and(|allowed| value != allowed);
        let not_listed = map
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|allowed| !allowed.contains(value));
        if wrong_type || not_const || not_listed {
            out.push(self.mismatch(value, schema, path));
            return;
        }

        if let Some(number) = as_i128(value) {
            let (min, max) = integer_bounds(map);
            if min.is_some_and(|min| number < min) || max.is_some_and(|max| number > max) {
                out.push(self.mismatch(value, schema, path));
                return;
            }
        }

        match value {
            Value::Object(object) => self.walk_object(object, map, path, out),
            Value::Array(items) => {
                if let Some(item_schema) = map.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.walk(item, item_schema, &child_index(path, index), out);
                    }
                }
            }
            _ => {}
        }
    }

    fn mismatch(&self, value: &Value, schema: &'s Value, path: &str) -> Issue {
        let issue = Issue::error(
            path,
            format!(
                "expected {}, found {}",
                self.describe(schema),
                describe_value(value)
            ),
        );
        match (value, self.allowed_values(schema)) {
            (Value::String(found), Some(allowed)) => {
                let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                issue.with_hint_opt(suggest(found, &names).map(|names| did_you_mean(&names)))
            }
            _ => issue,
        }
    }

    /// Returns whether the value passed one of the branches.
    fn walk_alternatives(
        &self,
        value: &Value,
        schema: &'s Value,
        branches: &'s [Value],
        path: &str,
        out: &mut Vec<Issue>,
    ) -> bool {
        let mut attempts: Vec<(&'s Value, Vec<Issue>)> = Vec::with_capacity(branches.len());
        for branch in branches {
            let mut issues = Vec::new();
            self.walk(value, branch, path, &mut issues);
            if issues.is_empty() {
                return true;
            }
            attempts.push((branch, issues));
        }
        if self.allowed_values(schema).is_some() {
            out.push(self.mismatch(value, schema, path));
            return false;
        }
        // The branch of the right kind (a string for a string, an object for an object) says
        // what is actually wrong; with none of the right kind, one summary says what would do.
        let closest = attempts
            .into_iter()
            .filter(|(branch, _)| self.kind_matches(value, branch))
            .min_by_key(|(_, issues)| issues.len());
        match closest {
            Some((_, issues)) => out.extend(issues),
            None => out.push(self.mismatch(value, schema, path)),
        }
        false
    }

    fn walk_object(
        &self,
        object: &Map<String, Value>,
        schema: &'s Map<String, Value>,
        path: &str,
        out: &mut Vec<Issue>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (key, item) in object {
            let item_path = child_key(path, key);
            if let Some(property) = properties.and_then(|p| p.get(key)) {
                self.walk(item, property, &item_path, out);
                continue;
            }
            match additional {
                Some(Value::Bool(false)) => {
                    let known: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let hint = match suggest(key, &known) {
                        Some(close) => did_you_mean(&close),
                        None if known.is_empty() => "remove it".to_owned(),
                        None => format!("valid keys here: {}", known.join(", ")),
                    };
                    out.push(
                        Issue::error(item_path, format!("unknown key `{key}`")).with_hint(hint),
                    );
                }
                Some(additional @ Value::Object(_)) => self.walk(item, additional, &item_path, out),
                _ => {}
            }
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = required.as_str() else {
                continue;
            };
            if object.contains_key(name) {
                continue;
            }
            let description = properties
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("description"))
                .and_then(Value::as_str)
                .map(|d| format!("add it: {}", fragment(d)));
            out.push(
                Issue::error(
                    child_key(path, name),
                    format!("required setting `{name}` is missing"),
                )
                .with_hint_opt(description),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn shown(doc: &Value) -> Vec<String> {
        check_structure(doc)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_valid_document_has_no_issues() {
        let doc = json!({
            "version": 1,
            "$schema": "https://example.org/hearth.schema.json",
            "gateway": { "port": 1, "bind": "lan", "auth": { "mode": "token", "token": { "secret": "t" } } },
            "agents": { "list": [{ "id": "a", "model": "p/m" }, { "id": "b", "model": { "primary": "p/m" } }] },
            "models": { "providers": { "p": { "baseUrl": "http://x", "apiKey": "k", "models": [{ "id": "m", "input": ["text", "image"], "cost": { "input": 1.5 } }] } } },
        });
        assert_eq!(shown(&doc), Vec::<String>::new());
    }

    #[test]
    fn type_errors_say_what_was_expected() {
        let doc = json!({ "gateway": { "port": "abc", "shutdownTimeoutSeconds": -1 }, "logging": { "maxFiles": 1.5, "file": "yes" } });
        assert_eq!(
            shown(&doc),
            [
                r#"gateway.port: expected an integer from 0 to 65535, found the string "abc""#,
                "gateway.shutdownTimeoutSeconds: expected a whole number (0 or more), found the number -1",
                "logging.maxFiles: expected an integer from 0 to 4294967295, found the number 1.5",
                r#"logging.file: expected true or false, found the string "yes""#,
            ]
        );
        assert_eq!(
            shown(&json!({ "gateway": { "port": 70000 } })),
            ["gateway.port: expected an integer from 0 to 65535, found the number 70000"]
        );
        assert_eq!(
            shown(&json!([])),
            ["(top level): expected an object, found a list"]
        );
    }

    #[test]
    fn enums_list_their_values_and_suggest() {
        assert_eq!(
            shown(
                &json!({ "gateway": { "bind": "Loopback" }, "models": { "providers": { "p": { "baseUrl": "x", "models": [{ "id": "m", "input": ["txt"] }] } } } })
            ),
            [
                "gateway.bind: expected one of `loopback`, `lan`, `custom`, found the string \"Loopback\" (did you mean `loopback`?)",
                "models.providers.p.models[0].input[0]: expected one of `text`, `image`, found the string \"txt\" (did you mean `text`?)",
            ]
        );
    }

    #[test]
    fn unknown_keys_get_suggestions_or_the_valid_keys() {
        assert_eq!(
            shown(&json!({ "gateway": { "prot": 1, "control_ui": {} }, "sesion": {}, "zzz": 1 })),
            [
                "gateway.prot: unknown key `prot` (did you mean `port`?)",
                "gateway.control_ui: unknown key `control_ui` (did you mean `controlUi`?)",
                "sesion: unknown key `sesion` (did you mean `session`?)",
                "zzz: unknown key `zzz` (valid keys here: version, $schema, gateway, agents, models, session, logging, secrets, skills, tools, mcp, channels, desktop, bindings, budgets, audit, cron, hooks)",
            ]
        );
    }

    #[test]
    fn untagged_enums_report_the_closest_branch() {
        let doc = json!({
            "gateway": { "auth": { "token": { "secrte": "x" }, "password": 5 } },
            "agents": { "list": [{ "id": "a", "model": { "primary": "p/m", "fallback": [] } }, { "id": "b", "model": 3 }] },
        });
        assert_eq!(
            shown(&doc),
            [
                "gateway.auth.token.secrte: unknown key `secrte` (did you mean `secret`?)",
                "gateway.auth.token.secret: required setting `secret` is missing (add it: name of the entry in the secret store)",
                "gateway.auth.password: expected a string or an object with `secret`, found the number 5",
                "agents.list[0].model.fallback: unknown key `fallback` (did you mean `fallbacks`?)",
                "agents.list[1].model: expected a string or an object, found the number 3",
            ]
        );
    }

    #[test]
    fn maps_check_their_values_and_quote_odd_keys() {
        let doc = json!({ "models": { "providers": {
            "my.provider": { "baseUrl": 1, "headers": { "x": 2 } },
            "ok": {},
        } } });
        let issues = shown(&doc);
        assert_eq!(
            issues[0],
            r#"models.providers["my.provider"].baseUrl: expected a string, found the number 1"#
        );
        assert_eq!(
            issues[1],
            r#"models.providers["my.provider"].headers.x: expected a string, found the number 2"#
        );
        assert!(
            issues[2]
                .starts_with("models.providers.ok.baseUrl: required setting `baseUrl` is missing"),
            "{}",
            issues[2]
        );
        assert_eq!(issues.len(), 3);
    }

    #[test]
    fn long_strings_are_cut() {
        let long = "a".repeat(100);
        let issues = check_structure(&json!({ "gateway": { "port": long } }));
        assert!(
            issues[0]
                .message
                .ends_with(&format!("\"{}\"...", "a".repeat(SHOWN_CHARS)))
        );
    }
}

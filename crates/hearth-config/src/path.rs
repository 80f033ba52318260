//! Dotted settings paths, both ways: building the paths that issues report
//! (`agents.list[0].id`, `models.providers["my.provider"].baseUrl`) and parsing the same
//! syntax to read and edit the raw document for `hearth config get|set|unset` and the UI.
//!
//! Editing works on the raw `serde_json::Value`, not on [`crate::Config`], so settings the
//! user wrote (including `${ENV}` references) survive an edit untouched.

use serde_json::{Map, Value};

use crate::ConfigError;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Keys made of these characters are written bare; anything else is quoted, so a provider id
/// like `my.provider` cannot be mistaken for two levels.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(is_bare_char)
}

fn is_bare_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-')
}

/// `parent.key`, or `parent["key"]` when the key is not bare.
pub(crate) fn child_key(parent: &str, key: &str) -> String {
    if is_bare_key(key) {
        if parent.is_empty() {
            key.to_owned()
        } else {
            format!("{parent}.{key}")
        }
    } else {
        let quoted = Value::String(key.to_owned()).to_string();
        format!("{parent}[{quoted}]")
    }
}

/// `parent[index]`.
pub(crate) fn child_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

fn path_error(path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Path {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn parse_path(path: &str) -> Result<Vec<Segment>, ConfigError> {
    let mut segments = Vec::new();
    let mut chars = path.char_indices().peekable();
    let mut expect_key = true;
    while let Some(&(start, c)) = chars.peek() {
        match c {
            '[' => {
                chars.next();
                match chars.peek().map(|&(_, c)| c) {
                    Some(quote @ ('"' | '\'')) => {
                        chars.next();
                        let mut key = String::new();
                        let mut closed = false;
                        while let Some((_, c)) = chars.next() {
                            if c == quote {
                                closed = true;
                                break;
                            }
                            if c == '\\' {
                                let escaped = chars
                                    .next()
                                    .map(|(_, c)| c)
                                    .ok_or_else(|| path_error(path, "unterminated quoted key"))?;
                                key.push(match escaped {
                                    'n' => '\n',
                                    't' => '\t',
                                    other => other,
                                });
                            } else {
                                key.push(c);
                            }
                        }
                        if !closed {
                            return Err(path_error(path, "unterminated quoted key"));
                        }
                        segments.push(Segment::Key(key));
                    }
                    _ => {
                        let mut digits = String::new();
                        while let Some(&(_, c)) = chars.peek() {
                            if !c.is_ascii_digit() {
                                break;
                            }
                            digits.push(c);
                            chars.next();
                        }
                        let index = digits.parse::<usize>().map_err(|_| {
                            path_error(
                                path,
                                "`[` must be followed by an array index like `[0]` or a quoted \
                                 key like `[\"my.provider\"]`",
                            )
                        })?;
                        segments.push(Segment::Index(index));
                    }
                }
                if chars.next().map(|(_, c)| c) != Some(']') {
                    return Err(path_error(path, "missing `]`"));
                }
                expect_key = false;
            }
            '.' => {
                if expect_key {
                    return Err(path_error(
                        path,
                        "empty segment (two dots, or a leading dot)",
                    ));
                }
                chars.next();
                expect_key = true;
                if chars.peek().is_none() {
                    return Err(path_error(path, "the path ends with a dot"));
                }
            }
            _ => {
                if !expect_key {
                    return Err(path_error(
                        path,
                        format!("expected `.` or `[` at character {}", start + 1),
                    ));
                }
                let mut key = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if !is_bare_char(c) {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                if key.is_empty() {
                    return Err(path_error(
                        path,
                        format!(
                            "unexpected `{c}`; quote keys with other characters than letters, \
                             digits, `_`, `$` and `-`, like `models.providers[\"my.provider\"]`"
                        ),
                    ));
                }
                segments.push(Segment::Key(key));
                expect_key = false;
            }
        }
    }
    if segments.is_empty() {
        return Err(path_error(path, "the path is empty"));
    }
    Ok(segments)
}

/// The value at `path` in a raw document, if there is one. A malformed path finds nothing.
pub fn get_path<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let segments = parse_path(path).ok()?;
    segments
        .iter()
        .try_fold(doc, |value, segment| match segment {
            Segment::Key(key) => value.as_object()?.get(key),
            Segment::Index(index) => value.as_array()?.get(*index),
        })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn location(walked: &str) -> String {
    if walked.is_empty() {
        "the document".to_owned()
    } else {
        format!("`{walked}`")
    }
}

/// Sets the value at `path`, creating missing objects on the way (and a missing list when the
/// next step is `[0]`). An index may point one past the end of a list to append.
pub fn set_path(doc: &mut Value, path: &str, value: Value) -> Result<(), ConfigError> {
    let segments = parse_path(path)?;
    if doc.is_null() {
        *doc = Value::Object(Map::new());
    }
    let mut current = doc;
    let mut walked = String::new();
    for (position, segment) in segments.iter().enumerate() {
        let last = position + 1 == segments.len();
        let next_is_index = matches!(segments.get(position + 1), Some(Segment::Index(_)));
        let fresh = || {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        current = match segment {
            Segment::Key(key) => {
                let Value::Object(map) = current else {
                    return Err(path_error(
                        path,
                        format!(
                            "{} is {}, not an object",
                            location(&walked),
                            kind_of(current)
                        ),
                    ));
                };
                walked = child_key(&walked, key);
                if last {
                    map.insert(key.clone(), value);
                    return Ok(());
                }
                let slot = map.entry(key.clone()).or_insert_with(fresh);
                if slot.is_null() {
                    *slot = fresh();
                }
                slot
            }
            Segment::Index(index) => {
                let Value::Array(list) = current else {
                    return Err(path_error(
                        path,
                        format!("{} is {}, not a list", location(&walked), kind_of(current)),
                    ));
                };
                let len = list.len();
                if *index > len {
                    return Err(path_error(
                        path,
                        format!(
                            "index {index} is out of range: {} has {len} entries (use [{len}] to \
                             append)",
                            location(&walked)
                        ),
                    ));
                }
                walked = child_index(&walked, *index);
                if *index == len {
                    if last {
                        list.push(value);
                        return Ok(());
                    }
                    list.push(fresh());
                } else if last {
                    list[*index] = value;
                    return Ok(());
                }
                &mut list[*index]
            }
        };
    }
    Ok(())
}

/// Removes the value at `path`; `Ok(false)` when there was nothing there. Removing from a
/// list shifts the later entries down.
pub fn unset_path(doc: &mut Value, path: &str) -> Result<bool, ConfigError> {
    let mut segments = parse_path(path)?;
    let Some(last) = segments.pop() else {
        return Err(path_error(path, "the path is empty"));
    };
    let mut current = doc;
    for segment in &segments {
        let next = match segment {
            Segment::Key(key) => current.as_object_mut().and_then(|map| map.get_mut(key)),
            Segment::Index(index) => current.as_array_mut().and_then(|list| list.get_mut(*index)),
        };
        match next {
            Some(next) => current = next,
            None => return Ok(false),
        }
    }
    Ok(match (last, current) {
        (Segment::Key(key), Value::Object(map)) => map.shift_remove(&key).is_some(),
        (Segment::Index(index), Value::Array(list)) if index < list.len() => {
            list.remove(index);
            true
        }
        _ => false,
    })
}

/// A command-line value for `hearth config set`: JSON5 when it parses as JSON5 (`18790`,
/// `true`, `["a", "b"]`, `{ secret: "x" }`), else the text itself (`openai/gpt-4o`).
pub fn parse_value_arg(s: &str) -> Value {
    match json5::from_str::<Value>(s) {
        // JSON has no NaN or Infinity: json5 yields null for them, which the user did not mean.
        Ok(Value::Null) if s.trim() != "null" => Value::String(s.to_owned()),
        Ok(value) => value,
        Err(_) => Value::String(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_quote_keys_that_are_not_bare() {
        let providers = child_key(&child_key("", "models"), "providers");
        assert_eq!(child_key(&providers, "openai"), "models.providers.openai");
        assert_eq!(
            child_key(&providers, "my.provider"),
            r#"models.providers["my.provider"]"#
        );
        assert_eq!(
            child_key(&providers, "has \"quote\""),
            r#"models.providers["has \"quote\""]"#
        );
        assert_eq!(child_index("agents.list", 3), "agents.list[3]");
        assert_eq!(child_key("", "a b"), r#"["a b"]"#);
    }

    #[test]
    fn parsing_inverts_formatting() {
        for key in [
            "openai",
            "my.provider",
            "with space",
            "quote\"d",
            "",
            "x-y_z",
        ] {
            let path = child_key(&child_key("models.providers", key), "baseUrl");
            let segments = parse_path(&path).unwrap();
            assert_eq!(segments[2], Segment::Key(key.to_owned()), "{path}");
        }
        assert_eq!(
            parse_path("agents.list[10].model").unwrap(),
            vec![
                Segment::Key("agents".into()),
                Segment::Key("list".into()),
                Segment::Index(10),
                Segment::Key("model".into()),
            ]
        );
        assert_eq!(
            parse_path("a['b.c']").unwrap()[1],
            Segment::Key("b.c".into())
        );
    }

    #[test]
    fn malformed_paths_are_errors() {
        for bad in [
            "", ".a", "a..b", "a.", "a[", "a[x]", "a[0", "a[\"b]", "a b", "a[0]b",
        ] {
            assert!(
                matches!(parse_path(bad), Err(ConfigError::Path { .. })),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn get_set_unset_round_trip() {
        let mut doc = json!({ "gateway": { "port": 1 } });
        set_path(&mut doc, "gateway.port", json!(18790)).unwrap();
        set_path(
            &mut doc,
            "agents.defaults.model.primary",
            json!("openai/gpt-4o"),
        )
        .unwrap();
        set_path(&mut doc, "agents.list[0].id", json!("main")).unwrap();
        set_path(&mut doc, "agents.list[1]", json!({ "id": "work" })).unwrap();
        set_path(&mut doc, "agents.list[1].name", json!("Work")).unwrap();
        set_path(
            &mut doc,
            r#"models.providers["a.b"].baseUrl"#,
            json!("http://x"),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({
                "gateway": { "port": 18790 },
                "agents": {
                    "defaults": { "model": { "primary": "openai/gpt-4o" } },
                    "list": [{ "id": "main" }, { "id": "work", "name": "Work" }],
                },
                "models": { "providers": { "a.b": { "baseUrl": "http://x" } } },
            })
        );
        assert_eq!(get_path(&doc, "gateway.port"), Some(&json!(18790)));
        assert_eq!(get_path(&doc, "agents.list[1].name"), Some(&json!("Work")));
        assert_eq!(
            get_path(&doc, r#"models.providers["a.b"].baseUrl"#),
            Some(&json!("http://x"))
        );
        assert_eq!(get_path(&doc, "models.providers.a.b"), None);
        assert_eq!(get_path(&doc, "agents.list[5]"), None);

        assert!(unset_path(&mut doc, "agents.list[0]").unwrap());
        assert_eq!(get_path(&doc, "agents.list[0].id"), Some(&json!("work")));
        assert!(unset_path(&mut doc, r#"models.providers["a.b"]"#).unwrap());
        assert!(!unset_path(&mut doc, r#"models.providers["a.b"]"#).unwrap());
        assert!(!unset_path(&mut doc, "nothing.here[3]").unwrap());
        assert_eq!(get_path(&doc, "models.providers"), Some(&json!({})));
    }

    #[test]
    fn set_refuses_to_walk_through_scalars_or_past_the_end() {
        let mut doc = json!({ "gateway": { "port": 1 }, "agents": { "list": [] } });
        let err = set_path(&mut doc, "gateway.port.x", json!(1)).unwrap_err();
        assert!(
            err.to_string().contains("`gateway.port` is a number"),
            "{err}"
        );
        let err = set_path(&mut doc, "agents.list[2].id", json!("x")).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        let err = set_path(&mut doc, "agents[0]", json!("x")).unwrap_err();
        assert!(err.to_string().contains("not a list"), "{err}");
    }

    #[test]
    fn unset_keeps_key_order() {
        let mut doc = json!({ "a": 1, "b": 2, "c": 3 });
        unset_path(&mut doc, "a").unwrap();
        let keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b", "c"]);
    }

    #[test]
    fn value_args_are_json5_or_text() {
        assert_eq!(parse_value_arg("18790"), json!(18790));
        assert_eq!(parse_value_arg("true"), json!(true));
        assert_eq!(parse_value_arg("null"), Value::Null);
        assert_eq!(parse_value_arg("openai/gpt-4o"), json!("openai/gpt-4o"));
        assert_eq!(parse_value_arg("'quoted'"), json!("quoted"));
        assert_eq!(parse_value_arg("{ secret: 'k' }"), json!({ "secret": "k" }));
        assert_eq!(parse_value_arg("[1, 2,]"), json!([1, 2]));
        assert_eq!(parse_value_arg("NaN"), json!("NaN"));
        assert_eq!(parse_value_arg(""), json!(""));
    }
}

//! Checks a tool call's arguments against the tool's JSON Schema before the tool runs.
//!
//! Models get arguments wrong in small ways (a number as a string, a missing field); the error
//! names the field so the model can fix its call. Only the part of JSON Schema the built-in
//! tools use is understood: `type` (one or a list), `properties`, `required`, `enum`, `items`,
//! `minimum` and `maximum`.

use serde_json::Value;

/// `Ok` when `value` fits `schema`; else what is wrong, naming the field.
pub(crate) fn check(schema: &Value, value: &Value) -> Result<(), String> {
    if schema.get("type").and_then(Value::as_str) == Some("object") && !value.is_object() {
        return Err(format!(
            "the arguments must be a JSON object, found {}",
            describe(value)
        ));
    }
    check_at(schema, value, "")
}

fn check_at(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let field = |p: &str| {
        if p.is_empty() {
            "the arguments".to_owned()
        } else {
            format!("`{p}`")
        }
    };
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| has_type(value, t)) {
            return Err(format!(
                "{} must be {}, found {}",
                field(path),
                allowed
                    .iter()
                    .map(|t| article(t))
                    .collect::<Vec<_>>()
                    .join(" or "),
                describe(value)
            ));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let shown: Vec<String> = options.iter().map(Value::to_string).collect();
        return Err(format!(
            "{} must be one of {}, found {value}",
            field(path),
            shown.join(", ")
        ));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{} must be at least {min}, found {n}", field(path)));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{} must be at most {max}, found {n}", field(path)));
        }
    }
    if let Value::Object(map) = value {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if map.get(name).is_none_or(Value::is_null) {
                return Err(format!("missing the required field `{}`", join(path, name)));
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                // An explicit null is what several models send for "not given".
                if let Some(v) = map.get(name).filter(|v| !v.is_null()) {
                    check_at(sub, v, &join(path, name))?;
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check_at(item_schema, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    }
}

fn article(t: &str) -> String {
    match t {
        "integer" | "object" | "array" => format!("an {t}"),
        "null" => "null".to_owned(),
        _ => format!("a {t}"),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let shown: String = s.chars().take(40).collect();
            format!("the string {shown:?}")
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": { "type": "string" },
                "limit": { "type": "integer", "minimum": 1, "maximum": 10 },
                "mode": { "type": "string", "enum": ["a", "b"] },
                "tags": { "type": "array", "items": { "type": "string" } },
            },
            "required": ["path"]
        })
    }

    #[test]
    fn good_arguments_pass() {
        assert_eq!(check(&schema(), &json!({"path": "x"})), Ok(()));
        assert_eq!(
            check(
                &schema(),
                &json!({"path": "x", "limit": 3, "mode": "b", "tags": ["t"], "extra": 1, "tags2": null})
            ),
            Ok(())
        );
        assert_eq!(
            check(&schema(), &json!({"path": "x", "limit": null})),
            Ok(())
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = |v: Value| check(&schema(), &v).unwrap_err();
        assert_eq!(err(json!({})), "missing the required field `path`");
        assert_eq!(
            err(json!({"path": 3})),
            "`path` must be a string, found the number 3"
        );
        assert_eq!(
            err(json!({"path": "x", "limit": "5"})),
            "`limit` must be an integer, found the string \"5\""
        );
        assert_eq!(
            err(json!({"path": "x", "limit": 50})),
            "`limit` must be at most 10, found 50"
        );
        assert_eq!(
            err(json!({"path": "x", "mode": "c"})),
            "`mode` must be one of \"a\", \"b\", found \"c\""
        );
        assert_eq!(
            err(json!({"path": "x", "tags": ["a", 1]})),
            "`tags[1]` must be a string, found the number 1"
        );
        assert_eq!(
            err(json!("{\"path\": ")),
            "the arguments must be a JSON object, found the string \"{\\\"path\\\": \""
        );
    }
}

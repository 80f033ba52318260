//! Tool parameters as Gemini accepts them: JSON Schema cut down to the OpenAPI 3.0 subset of the
//! API's `Schema` object (<https://ai.google.dev/api/caching#Schema>).
//!
//! Gemini answers 400 to the first keyword it does not know, and tools are written against full
//! JSON Schema (MCP servers, plugins), so the schema is rebuilt from an allow-list rather than
//! patched:
//!
//! - kept: `type`, `nullable`, `description`, `title`, `properties`, `required` (only names that
//!   are in `properties`), `items`, `anyOf`, `enum` (of strings), `minItems`, `maxItems`,
//!   `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`, `minProperties`,
//!   `maxProperties`, `propertyOrdering`, `default`, `example`; `format` only where the Gemini
//!   Developer API takes it (`enum` and `date-time` on strings; `int32`, `int64`, `float`,
//!   `double` on numbers).
//! - rewritten: `$ref` to `#/$defs/…` or `#/definitions/…` is inlined (to a depth of 8; a deeper
//!   or unresolvable reference becomes an unconstrained schema); `oneOf` becomes `anyOf`; a
//!   single-branch `allOf` or `anyOf` is merged into its parent; `type: [T, "null"]` and `null`
//!   branches become `nullable: true`; several types become an `anyOf`; `const` becomes a
//!   one-value `enum`; an `enum` of non-strings is dropped and its values named in the
//!   description.
//! - dropped: everything else, notably `$schema`, `$id`, `$defs`/`definitions`,
//!   `additionalProperties`, `patternProperties`, `unevaluatedProperties`, `exclusiveMinimum`,
//!   `exclusiveMaximum`, `multipleOf`, `uniqueItems`, `examples`, `not`, `if`/`then`/`else`,
//!   `readOnly`, `writeOnly`, `deprecated`, `contentEncoding` and `contentMediaType`.

use serde_json::{Map, Value, json};

const MAX_REF_DEPTH: usize = 8;

/// Keywords copied as they are.
const KEPT: [&str; 13] = [
    "description",
    "title",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "default",
    "example",
];

const TYPES: [&str; 6] = ["string", "number", "integer", "boolean", "array", "object"];

/// The `parameters` of a function declaration; `None` for a tool that takes no arguments,
/// since Gemini rejects an object schema without properties there.
pub(super) fn parameters(schema: &Value) -> Option<Value> {
    let converted = convert(schema, schema, 0);
    let has_properties = converted
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    let is_object = converted.get("type").is_none_or(|t| t == "object");
    if is_object && !has_properties {
        return None;
    }
    Some(converted)
}

fn convert(node: &Value, root: &Value, depth: usize) -> Value {
    let Some(node) = node.as_object() else {
        return json!({});
    };
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let target = resolve(root, reference).filter(|_| depth < MAX_REF_DEPTH);
        let mut out = match target {
            Some(target) => convert(target, root, depth + 1),
            None => json!({}),
        };
        // Siblings of `$ref` (usually a description) describe this use of the definition.
        if let (Some(out), Some(description)) = (out.as_object_mut(), node.get("description")) {
            out.insert("description".to_owned(), description.clone());
        }
        return out;
    }
    let mut out = Map::new();
    let mut types: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"null") {
        out.insert("nullable".to_owned(), Value::Bool(true));
        types.retain(|t| *t != "null");
    }
    types.retain(|t| TYPES.contains(t));
    if let [single] = types.as_slice() {
        out.insert("type".to_owned(), json!(single));
    }
    if node.get("nullable").and_then(Value::as_bool) == Some(true) {
        out.insert("nullable".to_owned(), Value::Bool(true));
    }
    for key in KEPT {
        if let Some(value) = node.get(key) {
            out.insert(key.to_owned(), value.clone());
        }
    }

    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        let converted: Map<String, Value> = properties
            .iter()
            .map(|(name, schema)| (name.clone(), convert(schema, root, depth)))
            .collect();
        let required: Vec<Value> = node
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|name| name.as_str().is_some_and(|n| converted.contains_key(n)))
            .cloned()
            .collect();
        out.insert("properties".to_owned(), Value::Object(converted));
        if !required.is_empty() {
            out.insert("required".to_owned(), Value::Array(required));
        }
        if let Some(order) = node.get("propertyOrdering") {
            out.insert("propertyOrdering".to_owned(), order.clone());
        }
    }
    match node.get("items") {
        Some(items @ Value::Object(_)) => {
            out.insert("items".to_owned(), convert(items, root, depth));
        }
        // Tuple form: Gemini has one schema for all elements.
        Some(Value::Array(items)) => {
            if let Some(first) = items.first() {
                out.insert("items".to_owned(), convert(first, root, depth));
            }
        }
        _ => {}
    }

    let enum_values = match node.get("const") {
        Some(value) => Some(vec![value.clone()]),
        None => node.get("enum").and_then(Value::as_array).cloned(),
    };
    if let Some(values) = enum_values {
        set_enum(&mut out, values);
    }
    if let Some(format) = node.get("format").and_then(Value::as_str) {
        let kept = match out.get("type").and_then(Value::as_str) {
            Some("string") => matches!(format, "enum" | "date-time"),
            Some("number") => matches!(format, "float" | "double"),
            Some("integer") => matches!(format, "int32" | "int64"),
            _ => false,
        };
        if kept {
            out.insert("format".to_owned(), json!(format));
        }
    }

    let mut branches: Vec<Value> = Vec::new();
    for key in ["anyOf", "oneOf"] {
        for branch in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if branch.get("type").is_some_and(|t| t == "null") {
                out.insert("nullable".to_owned(), Value::Bool(true));
            } else {
                branches.push(convert(branch, root, depth));
            }
        }
    }
    if types.len() > 1 {
        branches.extend(types.iter().map(|t| json!({ "type": t })));
        out.remove("type");
    }
    match branches.len() {
        0 => {}
        1 => merge_into(&mut out, branches.swap_remove(0)),
        _ => {
            out.insert("anyOf".to_owned(), Value::Array(branches));
        }
    }
    if let Some(all) = node.get("allOf").and_then(Value::as_array) {
        for branch in all {
            merge_into(&mut out, convert(branch, root, depth));
        }
    }
    Value::Object(out)
}

/// `enum` as Gemini takes it: strings only, `null` meaning nullable.
fn set_enum(out: &mut Map<String, Value>, mut values: Vec<Value>) {
    if values.iter().any(Value::is_null) {
        values.retain(|v| !v.is_null());
        out.insert("nullable".to_owned(), Value::Bool(true));
    }
    if values.is_empty() {
        return;
    }
    if values.iter().all(Value::is_string) {
        out.entry("type").or_insert_with(|| json!("string"));
        out.insert("enum".to_owned(), Value::Array(values));
        return;
    }
    let listed: Vec<String> = values.iter().map(Value::to_string).collect();
    let note = format!("One of: {}.", listed.join(", "));
    let description = match out.get("description").and_then(Value::as_str) {
        Some(text) if !text.is_empty() => format!("{text} {note}"),
        _ => note,
    };
    out.insert("description".to_owned(), Value::String(description));
}

/// Adds `branch`'s keywords to `out`, keeping what `out` already says; properties and required
/// names are unioned (an `allOf` of object schemas).
fn merge_into(out: &mut Map<String, Value>, branch: Value) {
    let Value::Object(branch) = branch else {
        return;
    };
    for (key, value) in branch {
        match (key.as_str(), out.get_mut(&key), value) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (name, schema) in theirs {
                    mine.entry(name).or_insert(schema);
                }
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                out.insert(key, value);
            }
        }
    }
}

/// The schema a local `$ref` points at.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    let target = root.pointer(pointer)?;
    target.is_object().then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_keywords_are_stripped() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "path": { "type": "string", "format": "uri", "minLength": 1, "description": "File" },
                "when": { "type": "string", "format": "date-time" },
                "count": { "type": "integer", "exclusiveMinimum": 0, "format": "int32" },
                "tags": { "type": "array", "uniqueItems": true, "items": { "type": "string" } },
            },
            "required": ["path", "ghost"],
        });
        assert_eq!(
            parameters(&schema).unwrap(),
            json!({
                "type": "object",
                "required": ["path"],
                "properties": {
                    "path": { "description": "File", "minLength": 1, "type": "string" },
                    "when": { "type": "string", "format": "date-time" },
                    "count": { "type": "integer", "format": "int32" },
                    "tags": { "type": "array", "items": { "type": "string" } },
                },
            })
        );
    }

    #[test]
    fn refs_are_inlined_and_unions_rewritten() {
        let schema = json!({
            "type": "object",
            "$defs": { "Unit": { "type": "string", "enum": ["c", "f"] } },
            "properties": {
                "unit": { "$ref": "#/$defs/Unit", "description": "Which unit" },
                "note": { "type": ["string", "null"] },
                "mode": { "oneOf": [{ "const": "fast" }, { "type": "null" }] },
                "id": { "type": ["string", "integer"] },
                "level": { "type": "integer", "enum": [1, 2] },
                "loop": { "$ref": "#" },
            },
        });
        let out = parameters(&schema).unwrap();
        let properties = &out["properties"];
        assert_eq!(
            properties["unit"],
            json!({ "type": "string", "enum": ["c", "f"], "description": "Which unit" })
        );
        assert_eq!(
            properties["note"],
            json!({ "type": "string", "nullable": true })
        );
        assert_eq!(
            properties["mode"],
            json!({ "nullable": true, "type": "string", "enum": ["fast"] })
        );
        assert_eq!(
            properties["id"],
            json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }] })
        );
        assert_eq!(
            properties["level"],
            json!({ "type": "integer", "description": "One of: 1, 2." })
        );
        let mut depth = 0;
        let mut node = &properties["loop"];
        while let Some(next) = node.get("properties").map(|p| &p["loop"]) {
            depth += 1;
            node = next;
        }
        assert_eq!(depth, MAX_REF_DEPTH);
    }

    #[test]
    fn all_of_objects_are_merged() {
        let schema = json!({
            "allOf": [
                { "type": "object", "properties": { "a": { "type": "string" } }, "required": ["a"] },
                { "properties": { "b": { "type": "number" } }, "required": ["b"] },
            ],
        });
        assert_eq!(
            parameters(&schema).unwrap(),
            json!({
                "type": "object",
                "properties": { "a": { "type": "string" }, "b": { "type": "number" } },
                "required": ["a", "b"],
            })
        );
    }

    #[test]
    fn tools_without_arguments_have_no_parameters() {
        assert_eq!(parameters(&json!({ "type": "object" })), None);
        assert_eq!(
            parameters(&json!({ "type": "object", "properties": {} })),
            None
        );
        assert_eq!(parameters(&json!({})), None);
    }
}

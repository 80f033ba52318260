//! Secrets in the configuration: hiding them for display, and finding the ones written in
//! the file itself so `hearth doctor` can suggest moving them to the secret store.

use serde_json::Value;

use crate::interpolate::has_reference;
use crate::path::child_key;
use crate::{Config, is_sensitive_header};

/// What a hidden secret shows as.
pub const REDACTED: &str = "__redacted__";

/// The configuration as JSON with every literal secret replaced by `"__redacted__"`:
/// `gateway.auth.token`, `gateway.auth.password`, each provider's `apiKey` and its sensitive
/// headers (`authorization`, names containing `token` or `key`, and the like), `hooks.token` and
/// each webhook's `signature.secret`. References to
/// the secret store (`{ "secret": "name" }`) are kept: they are names, not secrets.
pub fn redacted(config: &Config) -> Value {
    let mut doc = serde_json::to_value(config).unwrap_or(Value::Null);
    let hide = |value: &mut Value| {
        if value.is_string() {
            *value = Value::String(REDACTED.to_owned());
        }
    };
    if let Some(auth) = doc
        .pointer_mut("/gateway/auth")
        .and_then(Value::as_object_mut)
    {
        auth.get_mut("token").map(hide);
        auth.get_mut("password").map(hide);
    }
    if let Some(providers) = doc
        .pointer_mut("/models/providers")
        .and_then(Value::as_object_mut)
    {
        for provider in providers.values_mut().filter_map(Value::as_object_mut) {
            provider.get_mut("apiKey").map(hide);
            // A proxy URL can carry a password (`http://user:pass@host`).
            if provider
                .get("proxy")
                .and_then(Value::as_str)
                .is_some_and(|p| p.contains('@'))
            {
                provider.get_mut("proxy").map(hide);
            }
            if let Some(keys) = provider.get_mut("apiKeys").and_then(Value::as_array_mut) {
                keys.iter_mut().for_each(hide);
            }
            if let Some(headers) = provider.get_mut("headers").and_then(Value::as_object_mut) {
                for (name, value) in headers.iter_mut() {
                    if is_sensitive_header(name) {
                        hide(value);
                    }
                }
            }
        }
    }
    // Skills' environment values are usually API keys.
    if let Some(entries) = doc
        .pointer_mut("/skills/entries")
        .and_then(Value::as_object_mut)
    {
        for entry in entries.values_mut().filter_map(Value::as_object_mut) {
            if let Some(env) = entry.get_mut("env").and_then(Value::as_object_mut) {
                env.values_mut().for_each(hide);
            }
        }
    }
    // The webhook token and the senders' signing secrets.
    if let Some(hooks) = doc.pointer_mut("/hooks").and_then(Value::as_object_mut) {
        hooks.get_mut("token").map(hide);
        let mappings = hooks.get_mut("mappings").and_then(Value::as_array_mut);
        for mapping in mappings.into_iter().flatten() {
            if let Some(signature) = mapping.get_mut("signature").and_then(Value::as_object_mut) {
                signature.get_mut("secret").map(hide);
            }
        }
    }
    // MCP servers' environment and header values are usually tokens.
    if let Some(servers) = doc
        .pointer_mut("/mcp/servers")
        .and_then(Value::as_object_mut)
    {
        for server in servers.values_mut().filter_map(Value::as_object_mut) {
            for key in ["env", "headers"] {
                if let Some(map) = server.get_mut(key).and_then(Value::as_object_mut) {
                    map.values_mut().for_each(hide);
                }
            }
        }
    }
    doc
}

/// Paths of secrets written literally in a raw (not yet interpolated) document: strings at
/// `gateway.auth.token`, `gateway.auth.password`, `models.providers.*.apiKey` and sensitive
/// `models.providers.*.headers.*`, `hooks.token` and `hooks.mappings[*].signature.secret` that
/// are neither empty nor contain a `${ENV}` reference.
pub fn literal_secrets(doc: &Value) -> Vec<String> {
    let is_literal = |value: &Value| {
        value
            .as_str()
            .is_some_and(|text| !text.is_empty() && !has_reference(text))
    };
    let mut found = Vec::new();
    for key in ["token", "password"] {
        if doc
            .pointer(&format!("/gateway/auth/{key}"))
            .is_some_and(is_literal)
        {
            found.push(format!("gateway.auth.{key}"));
        }
    }
    let providers = doc.pointer("/models/providers").and_then(Value::as_object);
    for (id, provider) in providers.into_iter().flatten() {
        let path = child_key("models.providers", id);
        if provider.get("apiKey").is_some_and(is_literal) {
            found.push(child_key(&path, "apiKey"));
        }
        let keys = provider.get("apiKeys").and_then(Value::as_array);
        for (i, key) in keys.into_iter().flatten().enumerate() {
            if is_literal(key) {
                found.push(format!("{}[{i}]", child_key(&path, "apiKeys")));
            }
        }
        let headers = provider.get("headers").and_then(Value::as_object);
        for (name, value) in headers.into_iter().flatten() {
            if is_sensitive_header(name) && is_literal(value) {
                found.push(child_key(&child_key(&path, "headers"), name));
            }
        }
    }
    if doc.pointer("/hooks/token").is_some_and(is_literal) {
        found.push("hooks.token".to_owned());
    }
    let mappings = doc.pointer("/hooks/mappings").and_then(Value::as_array);
    for (i, mapping) in mappings.into_iter().flatten().enumerate() {
        if mapping.pointer("/signature/secret").is_some_and(is_literal) {
            found.push(format!("hooks.mappings[{i}].signature.secret"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config() -> Config {
        serde_json::from_value(json!({
            "gateway": { "auth": { "token": "tok-123", "password": { "secret": "gw-pass" } } },
            "models": { "providers": {
                "a": { "baseUrl": "http://a", "apiKey": "sk-abc", "headers": {
                    "Authorization": "Bearer sk-abc", "X-Api-Key": "k", "X-Session-Token": "t",
                    "OpenAI-Organization": "org-1",
                } },
                "b": { "baseUrl": "http://b", "apiKey": { "secret": "b-key" }, "apiKeys": ["sk-second", { "secret": "b-third" }] },
            } },
        }))
        .unwrap()
    }

    #[test]
    fn skill_environment_values_are_hidden() {
        let config: Config = serde_json::from_value(json!({
            "skills": { "entries": { "weather": { "env": { "WEATHER_API_KEY": "w-123" } } } }
        }))
        .unwrap();
        let shown = redacted(&config);
        assert_eq!(
            shown["skills"]["entries"]["weather"]["env"]["WEATHER_API_KEY"],
            REDACTED
        );
    }

    #[test]
    fn mcp_environment_and_header_values_are_hidden() {
        let config: Config = serde_json::from_value(json!({
            "mcp": { "servers": {
                "gh": { "command": "gh-mcp", "env": { "GITHUB_TOKEN": "ghp-1" } },
                "web": { "url": "http://127.0.0.1:1/mcp", "headers": { "X-Anything": "h-2" } },
            } }
        }))
        .unwrap();
        let shown = redacted(&config);
        assert_eq!(
            shown["mcp"]["servers"]["gh"]["env"]["GITHUB_TOKEN"],
            REDACTED
        );
        assert_eq!(
            shown["mcp"]["servers"]["web"]["headers"]["X-Anything"],
            REDACTED
        );
        assert_eq!(shown["mcp"]["servers"]["gh"]["command"], "gh-mcp");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("ghp-1") && !debug.contains("h-2"),
            "{debug}"
        );
    }

    #[test]
    fn webhook_token_and_signing_secrets_are_hidden() {
        let config: Config = serde_json::from_value(json!({
            "hooks": { "enabled": true, "token": "hook-tok-1", "mappings": [
                { "name": "gh", "signature": { "style": "github", "secret": "gh-sec-2" } },
                { "name": "st", "signature": { "style": "stripe", "secret": { "secret": "st" } } },
                { "name": "plain" },
            ] }
        }))
        .unwrap();
        let shown = redacted(&config);
        assert_eq!(shown["hooks"]["token"], REDACTED);
        assert_eq!(
            shown["hooks"]["mappings"][0]["signature"]["secret"],
            REDACTED
        );
        assert_eq!(
            shown["hooks"]["mappings"][1]["signature"]["secret"],
            json!({ "secret": "st" })
        );
        let text = format!("{shown} {config:?}");
        assert!(
            !text.contains("hook-tok-1") && !text.contains("gh-sec-2"),
            "{text}"
        );
        let doc = serde_json::to_value(&config).unwrap();
        assert_eq!(
            literal_secrets(&doc),
            ["hooks.token", "hooks.mappings[0].signature.secret"]
        );
    }

    #[test]
    fn literal_secrets_are_hidden_and_refs_kept() {
        let shown = redacted(&config());
        assert_eq!(shown["gateway"]["auth"]["token"], REDACTED);
        assert_eq!(
            shown["gateway"]["auth"]["password"],
            json!({ "secret": "gw-pass" })
        );
        let a = &shown["models"]["providers"]["a"];
        assert_eq!(a["apiKey"], REDACTED);
        assert_eq!(a["headers"]["Authorization"], REDACTED);
        assert_eq!(a["headers"]["X-Api-Key"], REDACTED);
        assert_eq!(a["headers"]["X-Session-Token"], REDACTED);
        assert_eq!(a["headers"]["OpenAI-Organization"], "org-1");
        assert_eq!(
            shown["models"]["providers"]["b"]["apiKey"],
            json!({ "secret": "b-key" })
        );
        assert_eq!(
            shown["models"]["providers"]["b"]["apiKeys"],
            json!([REDACTED, { "secret": "b-third" }])
        );
        let text = shown.to_string();
        assert!(
            !text.contains("sk-abc") && !text.contains("tok-123"),
            "{text}"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let text = format!("{:?}", config());
        for secret in ["sk-abc", "tok-123", "Bearer"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("gw-pass") && text.contains("org-1"), "{text}");
    }

    #[test]
    fn literal_secrets_are_found_in_the_raw_document() {
        let doc = json!({
            "gateway": { "auth": { "token": "tok", "password": "${PW}" } },
            "models": { "providers": {
                "a": { "apiKey": "sk-abc", "headers": { "authorization": "Bearer x", "x-org": "o" } },
                "b.c": { "apiKey": "${KEY}" },
                "d": { "apiKey": { "secret": "d" } },
                "e": { "apiKey": "" },
            } },
        });
        assert_eq!(
            literal_secrets(&doc),
            [
                "gateway.auth.token",
                "models.providers.a.apiKey",
                "models.providers.a.headers.authorization"
            ]
        );
        assert_eq!(literal_secrets(&json!({})), Vec::<String>::new());
    }
}

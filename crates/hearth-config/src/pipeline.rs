//! Text to a checked [`Config`]: parse JSON5, interpolate `${ENV}`, migrate, check the
//! structure against the schema, deserialize, validate. Pure apart from the `env` lookup the
//! caller passes in.
//!
//! Every step runs as far as it can so one pass reports every problem: interpolation issues
//! do not stop the structural check, and the semantic rules run whenever the structure is
//! sound.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::{
    CURRENT_VERSION, Config, ConfigError, Issue, check_structure, interpolate, migrate, validate,
};

/// A configuration that passed every check, with the warnings found on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub config: Config,
    pub warnings: Vec<Issue>,
    /// The version the document had when it was migrated on load.
    pub migrated_from: Option<u32>,
}

/// The process environment, for [`parse_str`] and [`crate::load_file`] outside tests.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// JSON5 text to a document. Syntax errors carry 1-based line and column and say what to do.
pub fn parse_document(text: &str) -> Result<Value, ConfigError> {
    // Some Windows editors start UTF-8 files with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    json5::from_str::<Value>(text).map_err(|err| {
        // json5 places most end-of-input errors at the unclosed opener; the rest get the end.
        let position = err
            .position()
            .unwrap_or_else(|| json5::Position::from_offset(text.len(), text));
        let advice = err.code().map_or(
            "fix the syntax there (JSON5 allows comments, trailing commas and unquoted keys)",
            advice_for,
        );
        let what = err
            .code()
            .map_or_else(|| strip_position(&err.to_string()), |code| code.to_string());
        ConfigError::Syntax {
            line: position.line + 1,
            column: position.column + 1,
            message: format!("{what}; {advice}"),
        }
    })
}

fn strip_position(message: &str) -> String {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(what, _)| what)
        .to_owned()
}

fn advice_for(code: json5::ErrorCode) -> &'static str {
    use json5::ErrorCode as E;
    match code {
        E::EofParsingArray
        | E::EofParsingObject
        | E::EofParsingValue
        | E::EofParsingString
        | E::EofParsingComment
        | E::EofParsingBool
        | E::EofParsingNull
        | E::EofParsingNumber
        | E::EofParsingIdentifier
        | E::EofParsingEscapeSequence => {
            "the file ends before what starts here is closed: add the missing `}`, `]`, quote \
             or `*/`"
        }
        E::ExpectedComma => "add a `,` between entries, or close the object or list",
        E::ExpectedColon => "write `key: value`",
        E::ExpectedClosingBrace => "close the object with `}` or add a `,` between entries",
        E::ExpectedClosingBracket => "close the list with `]` or add a `,` between entries",
        E::ExpectedIdentifier | E::InvalidKey => {
            "quote keys that contain characters other than letters, digits, `_` and `$`"
        }
        E::LineTerminatorInString => "strings cannot span lines: close the quote or write `\\n`",
        E::InvalidEscapeSequence => "use a valid escape such as `\\n`, `\\\"` or `\\\\`",
        E::LeadingZero => "numbers cannot start with `0` (quote it if it is text)",
        E::OverflowParsingNumber => "the number is too large",
        E::TrailingCharacters => "remove what follows the closing `}` of the document",
        E::ExpectedComment => "comments start with `//` or `/*`",
        _ => {
            "check the value there: strings need quotes, and `true`, `false` and `null` are \
             lowercase"
        }
    }
}

/// Parses and checks configuration text: the whole pipeline. Any error-severity issue from
/// any step gives [`ConfigError::Invalid`] with every issue found (errors first).
pub fn parse_str(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, ConfigError> {
    from_document(parse_document(text)?, env)
}

/// The pipeline after parsing, for a document already in memory (an edit from
/// `hearth config set` or the UI, checked before it is written).
pub fn from_document(
    mut doc: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Parsed, ConfigError> {
    let mut issues = interpolate(&mut doc, env);
    let migrated_from = match migrate(&mut doc) {
        Ok(from) => from,
        Err(ConfigError::Invalid { issues: more }) => {
            issues.extend(more);
            return Err(invalid(issues));
        }
        Err(err) => return Err(err),
    };

    let structural = check_structure(&doc);
    let structure_failed = structural.iter().any(Issue::is_error);
    issues.extend(structural);
    if structure_failed {
        return Err(invalid(issues));
    }

    let config = match serde_json::from_value::<Config>(doc) {
        Ok(config) => config,
        Err(err) => {
            issues.push(Issue::error("", err.to_string()));
            return Err(invalid(issues));
        }
    };

    // A setting whose `${VAR}` is missing still holds the reference text; rules about its
    // format would only repeat the interpolation error.
    let unresolved: HashSet<String> = issues.iter().map(|issue| issue.path.clone()).collect();
    issues.extend(
        validate(&config)
            .into_iter()
            .filter(|issue| !unresolved.contains(&issue.path)),
    );

    if issues.iter().any(Issue::is_error) {
        return Err(invalid(issues));
    }
    Ok(Parsed {
        config,
        warnings: issues,
        migrated_from,
    })
}

fn invalid(mut issues: Vec<Issue>) -> ConfigError {
    issues.sort_by_key(|issue| !issue.is_error());
    ConfigError::Invalid { issues }
}

/// What a first run writes: the few settings a user is most likely to look for, with their
/// default values. It parses to exactly `Config::default()`.
pub fn default_document() -> Value {
    json!({
        "version": CURRENT_VERSION,
        "gateway": {
            "port": 18789,
            "bind": "loopback",
            "auth": { "mode": "token" },
        },
        "agents": { "defaults": { "model": {} } },
        "models": { "providers": {} },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::{AgentModel, ApiKind, AuthMode, BindMode, SecretValue, Severity};

    const EXAMPLE: &str = r#"{
  gateway: { port: 18789, bind: "loopback",
             auth: { mode: "token", token: "bench-token-123" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { defaults: { model: { primary: "fake/fake-model" } } },
  models: { providers: { fake: {
    baseUrl: "http://127.0.0.1:18900/v1", apiKey: "sk-fake", api: "openai-completions",
    models: [ { id: "fake-model", name: "Fake", contextWindow: 128000, maxTokens: 4096 } ] } } },
}
"#;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_example_parses_to_the_expected_values() {
        let parsed = parse_str(EXAMPLE, &no_env).unwrap();
        assert_eq!(parsed.warnings, Vec::new());
        assert_eq!(parsed.migrated_from, None);
        let config = parsed.config;
        assert_eq!(config.version, CURRENT_VERSION);
        assert_eq!(config.gateway.port, 18789);
        assert_eq!(config.gateway.bind, BindMode::Loopback);
        assert_eq!(config.gateway.auth.mode, AuthMode::Token);
        assert_eq!(
            config.gateway.auth.token,
            Some(SecretValue::Literal("bench-token-123".into()))
        );
        assert!(config.gateway.http.endpoints.chat_completions.enabled);
        assert_eq!(
            config.agents.defaults.model.primary.as_deref(),
            Some("fake/fake-model")
        );
        let fake = &config.models.providers["fake"];
        assert_eq!(fake.base_url, "http://127.0.0.1:18900/v1");
        assert_eq!(fake.api_key, Some(SecretValue::Literal("sk-fake".into())));
        assert_eq!(fake.api, ApiKind::OpenaiCompletions);
        assert_eq!(fake.models.len(), 1);
        let model = &fake.models[0];
        assert_eq!(
            (model.id.as_str(), model.name.as_deref()),
            ("fake-model", Some("Fake"))
        );
        assert_eq!((model.context_window, model.max_tokens), (128_000, 4096));
        assert_eq!(model.input, vec![crate::InputKind::Text]);
        assert_eq!(config.session, crate::SessionConfig::default());
        assert_eq!(config.logging, crate::LoggingConfig::default());
    }

    #[test]
    fn the_default_document_is_the_default_config() {
        let doc = default_document();
        assert_eq!(check_structure(&doc), Vec::new());
        assert_eq!(
            check_structure(&parse_document(EXAMPLE).unwrap()),
            Vec::new()
        );
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let parsed = parse_str(&text, &no_env).unwrap();
        assert_eq!(parsed.config, Config::default());
        assert_eq!(
            parsed.warnings.len(),
            1,
            "only the missing model: {:?}",
            parsed.warnings
        );
        assert_eq!(parsed.warnings[0].severity, Severity::Warning);
        assert_eq!(parsed.warnings[0].path, "agents.defaults.model.primary");
    }

    #[test]
    fn several_mistakes_are_reported_at_once() {
        let text = r#"{
  gateway: { prot: 18789, port: "abc", bind: "everywhere" },
  agents: { list: [ { name: "helper" } ] },
  models: { providers: { x: { baseUrl: "http://localhost:11434/v1", api: "openai" } } },
}"#;
        let err = parse_str(text, &no_env).unwrap_err();
        assert_eq!(err.issues().len(), 5, "{err}");
        assert!(err.issues().iter().all(Issue::is_error));
        insta::assert_snapshot!(err.to_string());
    }

    #[test]
    fn every_step_reports_before_failing() {
        let text = r#"{
  gateway: { bind: "lan", auth: { mode: "none", token: "${GATEWAY_TOKEN}" } },
  agents: { defaults: { model: { primary: "opnai/gpt-4o" } } },
  models: { providers: {
    openai: { baseUrl: "${OPENAI_BASE_URL}", apiKey: "${OPENAI_API_KEY}", models: [{ id: "gpt-4o" }] },
  } },
}"#;
        let err = parse_str(text, &env_of(&[("OPENAI_API_KEY", "sk-1")])).unwrap_err();
        let shown: Vec<String> = err
            .issues()
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect();
        assert_eq!(
            shown,
            [
                "gateway.auth.token: environment variable GATEWAY_TOKEN is not set",
                "models.providers.openai.baseUrl: environment variable OPENAI_BASE_URL is not set",
                "gateway.auth.mode: auth mode `none` is refused because `gateway.bind` is `lan`: \
                 anyone who can reach this machine could drive the gateway",
                "agents.defaults.model.primary: unknown provider `opnai` in `opnai/gpt-4o`",
            ]
        );
        assert!(!err.to_string().contains("sk-1"), "{err}");
    }

    #[test]
    fn interpolated_values_reach_the_config() {
        let text = r#"{ models: { providers: { openai: {
            baseUrl: "https://${HOST}/v1", apiKey: "${OPENAI_API_KEY}", headers: { x: "$${LITERAL}" } } } },
          agents: { defaults: { model: { primary: "openai/gpt-4o" } } } }"#;
        let env = env_of(&[("HOST", "api.openai.com"), ("OPENAI_API_KEY", "sk-live")]);
        let parsed = parse_str(text, &env).unwrap();
        let openai = &parsed.config.models.providers["openai"];
        assert_eq!(openai.base_url, "https://api.openai.com/v1");
        assert_eq!(openai.api_key, Some(SecretValue::Literal("sk-live".into())));
        assert_eq!(openai.headers["x"], "${LITERAL}");
        assert_eq!(
            parsed.warnings.len(),
            1,
            "gpt-4o is not listed: {:?}",
            parsed.warnings
        );
        assert_eq!(parsed.warnings[0].severity, Severity::Warning);
    }

    #[test]
    fn agent_models_take_both_forms() {
        let text = r#"{ models: { providers: { p: { baseUrl: "http://x", models: [{ id: "m" }, { id: "n" }] } } },
          agents: { list: [ { id: "a", model: "p/m" }, { id: "b", default: true, model: { primary: "p/n", fallbacks: ["p/m"] } } ] } }"#;
        let parsed = parse_str(text, &no_env).unwrap();
        assert_eq!(parsed.warnings, Vec::new());
        let list = &parsed.config.agents.list;
        assert_eq!(list[0].model, Some(AgentModel::Ref("p/m".into())));
        assert!(matches!(&list[1].model, Some(AgentModel::Selection(s)) if s.fallbacks == ["p/m"]));
    }

    #[test]
    fn syntax_errors_have_positions_and_advice() {
        let err = parse_str("{\n  gateway: { port: 1 }\n  agents: {}\n}", &no_env).unwrap_err();
        let ConfigError::Syntax {
            line,
            column,
            message,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((*line, *column), (3, 3), "{err}");
        assert!(message.contains("add a `,`"), "{message}");

        let err = parse_document("{ gateway: {").unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Syntax {
                    line: 1,
                    column: 12,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("add the missing `}`"), "{err}");

        assert_eq!(parse_document("\u{feff}{}").unwrap(), json!({}));
    }

    #[test]
    fn newer_files_are_refused_before_anything_else() {
        let err = parse_str("{ version: 99, whatever: true }", &no_env).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::TooNew {
                found: 99,
                supported: CURRENT_VERSION
            }
        ));
    }

    #[test]
    fn invalid_lists_errors_before_warnings_one_per_line() {
        let text = r#"{ gateway: { bind: "lan", auth: { mode: "none" } } }"#;
        let err = parse_str(text, &no_env).unwrap_err();
        let shown = err.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown}");
        assert_eq!(lines[0], "invalid configuration (1 error):");
        assert!(
            lines[1].starts_with("gateway.auth.mode: auth mode `none` is refused"),
            "{shown}"
        );
        assert!(
            lines[1].ends_with("(set `gateway.auth.mode` to `token`)"),
            "{shown}"
        );
        assert!(
            lines[2].starts_with("warning: agents.defaults.model.primary: "),
            "{shown}"
        );
    }

    #[test]
    fn issues_serialize_for_json_output() {
        let issue =
            Issue::error("gateway.prot", "unknown key `prot`").with_hint("did you mean `port`?");
        assert_eq!(
            serde_json::to_value(&issue).unwrap(),
            json!({ "path": "gateway.prot", "message": "unknown key `prot`", "hint": "did you mean `port`?", "severity": "error" })
        );
        let warning = Issue::warning("a", "b");
        assert_eq!(
            serde_json::to_value(&warning).unwrap(),
            json!({ "path": "a", "message": "b", "severity": "warning" })
        );
    }

    #[test]
    fn the_schema_documents_the_file() {
        let schema = crate::schema();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["title"], "Hearth configuration (hearth.json)");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["$defs"]["GatewayConfig"]["additionalProperties"],
            false
        );
        assert_eq!(
            schema["$defs"]["GatewayConfig"]["properties"]["port"]["description"],
            "Port for HTTP and WebSocket (one port carries both)."
        );
        assert_eq!(schema["$defs"]["AgentConfig"]["required"], json!(["id"]));
        assert!(schema["properties"]["gateway"]["description"].is_string());
    }
}

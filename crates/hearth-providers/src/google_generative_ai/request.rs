//! The `GenerateContentRequest` body, serialized from the borrowed [`ModelRequest`].
//!
//! Mapping, as the Gemini API documents it (<https://ai.google.dev/api/generate-content>):
//!
//! - The system prompt, and any `system` message of the transcript, go to
//!   `systemInstruction.parts[].text`; Gemini has no system role in `contents`.
//! - `user` turns carry `text` and `inlineData {mimeType, data}` parts; `assistant` turns become
//!   `model` turns with `text` and `functionCall {name, args}` parts.
//! - Tool results become `functionResponse {name, response: {output}}` parts (`{error}` when the
//!   tool failed, as the API asks) in one `user` turn. Gemini pairs results with calls by name
//!   and order, not by id, so the results answering one assistant turn are put in the order of
//!   its calls, and a result's name comes from the call it answers. Hearth's call ids never go
//!   on the wire.
//! - A turn's thought signature, kept in the assistant message's thinking block, goes back where
//!   Gemini put it (<https://ai.google.dev/gemini-api/docs/thought-signatures>): on the first
//!   `functionCall` part when the turn called tools, else on its last part. Thought summaries
//!   are not sent back: Gemini does not read them.
//! - Consecutive turns of one role are merged, since Gemini expects user and model to alternate.
//! - `tools[0].functionDeclarations` with parameters rewritten by [`super::schema`];
//!   `generationConfig` with `maxOutputTokens`, `temperature`, and `thinkingConfig.includeThoughts`
//!   for models that think (Gemini 2.5 and later), which reject it otherwise.

use std::borrow::Cow;

use hearth_protocol::transcript::{ContentBlock, Message, Role};
use serde::Serialize;
use serde_json::{Map, Value};

use super::schema;
use crate::provider::{ModelRequest, ToolSpec};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tools<'a>>,
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    generation_config: GenerationConfig,
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: Vec<Part<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(flatten)]
    data: PartData<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought_signature: Option<&'a str>,
}

impl<'a> Part<'a> {
    fn new(data: PartData<'a>) -> Self {
        Self {
            data,
            thought_signature: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum PartData<'a> {
    Text(&'a str),
    InlineData(InlineData<'a>),
    FunctionCall(FunctionCall<'a>),
    FunctionResponse(FunctionResponse<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InlineData<'a> {
    mime_type: &'a str,
    data: &'a str,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    args: Cow<'a, Value>,
}

#[derive(Serialize)]
struct FunctionResponse<'a> {
    name: &'a str,
    response: ResponseBody,
}

/// `output`, or `error` for a failed tool: the keys Gemini reads in `response`.
#[derive(Serialize)]
struct ResponseBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tools<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
struct FunctionDeclaration<'a> {
    name: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig {
    fn is_empty(&self) -> bool {
        self.max_output_tokens.is_none()
            && self.temperature.is_none()
            && self.thinking_config.is_none()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    include_thoughts: bool,
}

/// The JSON body for `request`.
pub(super) fn body(request: &ModelRequest) -> Result<Vec<u8>, serde_json::Error> {
    let mut system: Vec<Part<'_>> = Vec::new();
    if let Some(text) = request.system.as_deref().filter(|t| !t.is_empty()) {
        system.push(Part::new(PartData::Text(text)));
    }
    let mut contents: Vec<Content<'_>> = Vec::with_capacity(request.messages.len());
    let mut last_calls: &[ContentBlock] = &[];
    let mut messages = request.messages.iter().peekable();
    while let Some(message) = messages.next() {
        let (role, parts) = match message.role {
            Role::System => {
                system.extend(text_parts(&message.content));
                continue;
            }
            Role::User => ("user", user_parts(&message.content)),
            Role::Assistant => {
                last_calls = &message.content;
                ("model", model_parts(message))
            }
            Role::Tool => {
                let mut results = vec![message];
                while let Some(next) = messages.next_if(|m| m.role == Role::Tool) {
                    results.push(next);
                }
                ("user", tool_result_parts(results, last_calls))
            }
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(previous) if previous.role == Some(role) => previous.parts.extend(parts),
            _ => contents.push(Content {
                role: Some(role),
                parts,
            }),
        }
    }
    let declarations: Vec<FunctionDeclaration<'_>> =
        request.tools.iter().map(declaration).collect();
    let body = GenerateRequest {
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        contents,
        tools: if declarations.is_empty() {
            Vec::new()
        } else {
            vec![Tools {
                function_declarations: declarations,
            }]
        },
        generation_config: GenerationConfig {
            max_output_tokens: request.max_tokens,
            temperature: request.temperature,
            thinking_config: thinks(&request.model).then_some(ThinkingConfig {
                include_thoughts: true,
            }),
        },
    };
    serde_json::to_vec(&body)
}

/// Whether `model` thinks, so it may be asked for thought summaries: Gemini 2.5 and later, and
/// the `-latest` aliases (which point at such models). Older models answer 400 to
/// `thinkingConfig`.
pub(super) fn thinks(model: &str) -> bool {
    let model = model.strip_prefix("models/").unwrap_or(model);
    let Some(rest) = model.strip_prefix("gemini-") else {
        return false;
    };
    if rest.ends_with("-latest") && !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut numbers = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
    let major = numbers.next().unwrap_or(0);
    let minor = numbers.next().unwrap_or(0);
    major >= 3 || (major == 2 && minor >= 5)
}

fn declaration(tool: &ToolSpec) -> FunctionDeclaration<'_> {
    FunctionDeclaration {
        name: &tool.name,
        description: &tool.description,
        parameters: schema::parameters(&tool.parameters),
    }
}

fn text_parts(blocks: &[ContentBlock]) -> impl Iterator<Item = Part<'_>> {
    blocks.iter().filter_map(|block| match block {
        ContentBlock::Text { text } if !text.is_empty() => Some(Part::new(PartData::Text(text))),
        _ => None,
    })
}

fn user_parts(blocks: &[ContentBlock]) -> Vec<Part<'_>> {
    blocks
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text { text } if !text.is_empty() => {
                Some(Part::new(PartData::Text(text)))
            }
            ContentBlock::Image { mime_type, data } => {
                Some(Part::new(PartData::InlineData(InlineData {
                    mime_type,
                    data,
                })))
            }
            _ => None,
        })
        .collect()
}

fn model_parts(message: &Message) -> Vec<Part<'_>> {
    let mut parts: Vec<Part<'_>> = text_parts(&message.content).collect();
    let first_call = parts.len();
    parts.extend(message.tool_calls().map(|(_, name, arguments)| {
        Part::new(PartData::FunctionCall(FunctionCall {
            name,
            args: args_object(arguments),
        }))
    }));
    let signature = message.content.iter().find_map(|block| match block {
        ContentBlock::Thinking {
            signature: Some(signature),
            ..
        } if !signature.is_empty() => Some(signature.as_str()),
        _ => None,
    });
    let at = if first_call < parts.len() {
        Some(first_call)
    } else {
        parts.len().checked_sub(1)
    };
    if let (Some(signature), Some(at)) = (signature, at) {
        parts[at].thought_signature = Some(signature);
    }
    parts
}

/// `args` must be an object; arguments kept as raw text because they were not valid JSON are
/// sent as an empty object (the tool result already told the model its call was malformed).
fn args_object(arguments: &Value) -> Cow<'_, Value> {
    match arguments {
        Value::Object(_) => Cow::Borrowed(arguments),
        Value::String(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(parsed @ Value::Object(_)) => Cow::Owned(parsed),
            _ => Cow::Owned(Value::Object(Map::new())),
        },
        _ => Cow::Owned(Value::Object(Map::new())),
    }
}

/// One `user` turn answering the calls of the assistant turn `calls` came from: results in call
/// order, each named after its call, then any images the tools returned.
fn tool_result_parts<'a>(
    mut results: Vec<&'a Message>,
    calls: &'a [ContentBlock],
) -> Vec<Part<'a>> {
    let call_ids: Vec<(&str, &str)> = calls
        .iter()
        .filter_map(|block| match block {
            ContentBlock::ToolCall { id, name, .. } => Some((id.as_str(), name.as_str())),
            _ => None,
        })
        .collect();
    let position = |message: &Message| {
        message
            .tool_call_id
            .as_deref()
            .and_then(|id| call_ids.iter().position(|(call, _)| *call == id))
            .unwrap_or(usize::MAX)
    };
    results.sort_by_key(|m| position(m));
    let mut parts = Vec::with_capacity(results.len());
    let mut images = Vec::new();
    for message in results {
        let name = call_ids
            .get(position(message))
            .map(|(_, name)| *name)
            .or(message.tool_name.as_deref())
            .unwrap_or_default();
        let text = joined_text(&message.content);
        let response = if message.is_error {
            ResponseBody {
                output: None,
                error: Some(text),
            }
        } else {
            ResponseBody {
                output: Some(text),
                error: None,
            }
        };
        parts.push(Part::new(PartData::FunctionResponse(FunctionResponse {
            name,
            response,
        })));
        images.extend(message.content.iter().filter_map(|block| match block {
            ContentBlock::Image { mime_type, data } => {
                Some(Part::new(PartData::InlineData(InlineData {
                    mime_type,
                    data,
                })))
            }
            _ => None,
        }));
    }
    parts.extend(images);
    parts
}

fn joined_text(blocks: &[ContentBlock]) -> String {
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    texts.join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body_json(request: &ModelRequest) -> Value {
        serde_json::from_slice(&body(request).unwrap()).unwrap()
    }

    fn call(id: &str, name: &str) -> ContentBlock {
        ContentBlock::ToolCall {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments: json!({ "q": id }),
        }
    }

    #[test]
    fn results_follow_the_order_of_their_calls_and_take_their_names() {
        let mut assistant = Message::new(
            Role::Assistant,
            vec![
                ContentBlock::Thinking {
                    thinking: String::new(),
                    signature: Some("sig-1".to_owned()),
                },
                call("a", "first"),
                call("b", "second"),
            ],
        );
        assistant.stop_reason = None;
        let request = ModelRequest::new(
            "gemini-2.0-flash",
            vec![
                Message::user("go"),
                assistant,
                Message::tool_result("b", "wrong-name", "B", false),
                Message::tool_result("a", "first", "A failed", true),
                Message::user("and now?"),
            ],
        );
        let json = body_json(&request);
        assert_eq!(
            json["contents"],
            json!([
                { "role": "user", "parts": [{ "text": "go" }] },
                { "role": "model", "parts": [
                    { "functionCall": { "name": "first", "args": { "q": "a" } }, "thoughtSignature": "sig-1" },
                    { "functionCall": { "name": "second", "args": { "q": "b" } } },
                ] },
                { "role": "user", "parts": [
                    { "functionResponse": { "name": "first", "response": { "error": "A failed" } } },
                    { "functionResponse": { "name": "second", "response": { "output": "B" } } },
                    { "text": "and now?" },
                ] },
            ])
        );
        assert!(json.get("generationConfig").is_none());
        assert!(json.get("systemInstruction").is_none());
    }

    #[test]
    fn a_text_turn_carries_its_signature_on_the_last_part() {
        let assistant = Message::new(
            Role::Assistant,
            vec![
                ContentBlock::Thinking {
                    thinking: "summary".to_owned(),
                    signature: Some("sig".to_owned()),
                },
                ContentBlock::Text {
                    text: "one".to_owned(),
                },
                ContentBlock::Text {
                    text: "two".to_owned(),
                },
            ],
        );
        let thought_only = Message::new(
            Role::Assistant,
            vec![ContentBlock::Thinking {
                thinking: "t".to_owned(),
                signature: None,
            }],
        );
        let mut request = ModelRequest::new("gemini-2.5-pro", vec![assistant, thought_only]);
        request.system = Some("be brief".to_owned());
        request
            .messages
            .insert(0, Message::text(Role::System, "and kind"));
        let json = body_json(&request);
        assert_eq!(
            json["contents"],
            json!([{ "role": "model", "parts": [{ "text": "one" }, { "text": "two", "thoughtSignature": "sig" }] }])
        );
        assert_eq!(
            json["systemInstruction"],
            json!({ "parts": [{ "text": "be brief" }, { "text": "and kind" }] })
        );
        assert_eq!(
            json["generationConfig"],
            json!({ "thinkingConfig": { "includeThoughts": true } })
        );
    }

    #[test]
    fn raw_arguments_become_an_object() {
        assert_eq!(
            args_object(&json!("{\"a\":1}")).as_ref(),
            &json!({ "a": 1 })
        );
        assert_eq!(args_object(&json!("{broken")).as_ref(), &json!({}));
        assert_eq!(args_object(&json!([1])).as_ref(), &json!({}));
    }

    #[test]
    fn thinking_models_are_recognised() {
        for model in [
            "gemini-2.5-flash",
            "models/gemini-2.5-pro",
            "gemini-3-pro-preview",
            "gemini-3.1-flash",
            "gemini-flash-latest",
        ] {
            assert!(thinks(model), "{model}");
        }
        for model in [
            "gemini-2.0-flash",
            "gemini-1.5-pro-latest",
            "gemma-3-27b-it",
            "learnlm-2.0",
        ] {
            assert!(!thinks(model), "{model}");
        }
    }
}

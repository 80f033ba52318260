//! The Messages request body, serialized straight from the borrowed [`ModelRequest`].
//!
//! Mapping, as Anthropic documents it (<https://docs.anthropic.com/en/api/messages>):
//!
//! - `system` is the system prompt; `system` messages inside the transcript are appended to it,
//!   since the API has no system role in `messages`.
//! - `max_tokens` is required by the API: 4096 when the request sets none.
//! - User content is a list of `text` and `image` blocks (`source: {type: "base64",
//!   media_type, data}`).
//! - Assistant content keeps its order: `thinking` blocks with their `signature`, exactly as they
//!   came, `text`, `tool_use {id, name, input}`. Thinking without a signature (written by another
//!   provider) is left out: the API rejects unsigned thinking.
//! - Tool results are `tool_result {tool_use_id, content, is_error}` blocks in a `user` message;
//!   consecutive results share one message, as the API wants all results of a turn together.
//! - Empty text blocks and messages left empty are dropped: the API rejects both.

use std::borrow::Cow;

use hearth_protocol::transcript::{ContentBlock, Message, Role};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::provider::{ModelRequest, ToolSpec};

/// Used when the request sets no `max_tokens`; every current Claude model allows at least this.
const DEFAULT_MAX_TOKENS: u64 = 4096;

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<Cow<'a, str>>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: ImageSource<'a>,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Cow<'a, Value>,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: ResultContent<'a>,
        is_error: bool,
    },
}

#[derive(Serialize)]
struct ImageSource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    media_type: &'a str,
    data: &'a str,
}

/// A result's content: plain text, or blocks when the tool returned images.
#[derive(Serialize)]
#[serde(untagged)]
enum ResultContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
}

#[derive(Serialize)]
struct WireTool<'a> {
    name: &'a str,
    description: &'a str,
    input_schema: &'a Value,
}

/// The JSON body for `request`, streaming.
pub(super) fn body(request: &ModelRequest) -> Result<Vec<u8>, serde_json::Error> {
    let mut messages: Vec<WireMessage<'_>> = Vec::with_capacity(request.messages.len());
    let mut system = request.system.as_deref().map(Cow::Borrowed);
    let mut previous_was_tool = false;
    for message in &request.messages {
        match message.role {
            Role::System => {
                let text = joined_text(&message.content);
                if !text.is_empty() {
                    system = Some(match system {
                        Some(prompt) if !prompt.is_empty() => {
                            Cow::Owned(format!("{prompt}\n\n{text}"))
                        }
                        _ => text,
                    });
                }
            }
            Role::Tool => {
                let result = tool_result(message);
                match messages.last_mut() {
                    Some(last) if previous_was_tool => last.content.push(result),
                    _ => messages.push(WireMessage {
                        role: "user",
                        content: vec![result],
                    }),
                }
            }
            Role::User => push_non_empty(&mut messages, "user", user_blocks(&message.content)),
            Role::Assistant => push_non_empty(
                &mut messages,
                "assistant",
                assistant_blocks(&message.content),
            ),
        }
        previous_was_tool = message.role == Role::Tool;
    }
    let body = MessagesRequest {
        model: &request.model,
        max_tokens: request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        system,
        messages,
        tools: request.tools.iter().map(wire_tool).collect(),
        temperature: request.temperature,
        stream: true,
    };
    serde_json::to_vec(&body)
}

fn push_non_empty<'a>(
    messages: &mut Vec<WireMessage<'a>>,
    role: &'static str,
    content: Vec<Block<'a>>,
) {
    if !content.is_empty() {
        messages.push(WireMessage { role, content });
    }
}

fn wire_tool(tool: &ToolSpec) -> WireTool<'_> {
    WireTool {
        name: &tool.name,
        description: &tool.description,
        input_schema: &tool.parameters,
    }
}

fn user_blocks(content: &[ContentBlock]) -> Vec<Block<'_>> {
    content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text { text } if !text.is_empty() => Some(Block::Text { text }),
            ContentBlock::Image { mime_type, data } => Some(image(mime_type, data)),
            _ => None,
        })
        .collect()
}

fn assistant_blocks(content: &[ContentBlock]) -> Vec<Block<'_>> {
    content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text { text } if !text.is_empty() => Some(Block::Text { text }),
            ContentBlock::Thinking {
                thinking,
                signature: Some(signature),
            } if !signature.is_empty() => Some(Block::Thinking {
                thinking,
                signature,
            }),
            ContentBlock::ToolCall {
                id,
                name,
                arguments,
            } => Some(Block::ToolUse {
                id,
                name,
                input: tool_input(arguments),
            }),
            _ => None,
        })
        .collect()
}

fn tool_result(message: &Message) -> Block<'_> {
    let has_images = message
        .content
        .iter()
        .any(|b| matches!(b, ContentBlock::Image { .. }));
    let content = if has_images {
        ResultContent::Blocks(user_blocks(&message.content))
    } else {
        ResultContent::Text(joined_text(&message.content))
    };
    Block::ToolResult {
        tool_use_id: message.tool_call_id.as_deref().unwrap_or_default(),
        content,
        is_error: message.is_error,
    }
}

fn image<'a>(mime_type: &'a str, data: &'a str) -> Block<'a> {
    Block::Image {
        source: ImageSource {
            kind: "base64",
            media_type: mime_type,
            data,
        },
    }
}

/// `input` must be an object. Arguments kept as a string because the model wrote invalid JSON
/// are parsed again (in case they were repaired) and otherwise sent as an empty object; the tool
/// result that follows tells the model what went wrong.
fn tool_input(arguments: &Value) -> Cow<'_, Value> {
    match arguments {
        Value::Object(_) => Cow::Borrowed(arguments),
        Value::String(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(parsed @ Value::Object(_)) => Cow::Owned(parsed),
            _ => Cow::Owned(Value::Object(Map::new())),
        },
        _ => Cow::Owned(Value::Object(Map::new())),
    }
}

/// The text blocks as one string, borrowed when there is just one.
fn joined_text(blocks: &[ContentBlock]) -> Cow<'_, str> {
    let mut texts = blocks.iter().filter_map(|b| match b {
        ContentBlock::Text { text } => Some(text.as_str()),
        _ => None,
    });
    let Some(first) = texts.next() else {
        return Cow::Borrowed("");
    };
    match texts.next() {
        None => Cow::Borrowed(first),
        Some(second) => {
            let mut joined = format!("{first}\n{second}");
            for text in texts {
                joined.push('\n');
                joined.push_str(text);
            }
            Cow::Owned(joined)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body_json(request: &ModelRequest) -> Value {
        serde_json::from_slice(&body(request).unwrap()).unwrap()
    }

    #[test]
    fn max_tokens_defaults_and_system_messages_join_the_system_prompt() {
        let mut request = ModelRequest::new(
            "claude-sonnet-4-5",
            vec![
                Message::user("hi"),
                Message::text(Role::System, "Be brief."),
            ],
        );
        request.system = Some("You are Hearth.".to_owned());
        let json = body_json(&request);
        assert_eq!(json["max_tokens"], 4096);
        assert_eq!(json["system"], "You are Hearth.\n\nBe brief.");
        assert_eq!(json["messages"].as_array().unwrap().len(), 1);
        assert_eq!(json["stream"], true);
        assert!(json.get("tools").is_none() && json.get("temperature").is_none());
    }

    #[test]
    fn consecutive_tool_results_share_one_user_message() {
        let call = |id: &str| ContentBlock::ToolCall {
            id: id.to_owned(),
            name: "read".to_owned(),
            arguments: json!({}),
        };
        let request = ModelRequest::new(
            "m",
            vec![
                Message::new(Role::Assistant, vec![call("a"), call("b")]),
                Message::tool_result("a", "read", "one", false),
                Message::tool_result("b", "read", "two", true),
                Message::user("thanks"),
            ],
        );
        let json = body_json(&request);
        let messages = json["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[1],
            json!({ "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "a", "content": "one", "is_error": false },
                { "type": "tool_result", "tool_use_id": "b", "content": "two", "is_error": true },
            ] })
        );
        assert_eq!(
            messages[2]["content"],
            json!([{ "type": "text", "text": "thanks" }])
        );
    }

    #[test]
    fn unsigned_thinking_empty_text_and_broken_arguments_are_made_acceptable() {
        let assistant = Message::new(
            Role::Assistant,
            vec![
                ContentBlock::Thinking {
                    thinking: "from another provider".to_owned(),
                    signature: None,
                },
                ContentBlock::Thinking {
                    thinking: "signed".to_owned(),
                    signature: Some("sig".to_owned()),
                },
                ContentBlock::Text {
                    text: String::new(),
                },
                ContentBlock::ToolCall {
                    id: "c".to_owned(),
                    name: "n".to_owned(),
                    arguments: json!("{broken"),
                },
                ContentBlock::ToolCall {
                    id: "d".to_owned(),
                    name: "n".to_owned(),
                    arguments: json!("{\"fixed\":1}"),
                },
            ],
        );
        let only_thinking = Message::new(
            Role::Assistant,
            vec![ContentBlock::Thinking {
                thinking: "t".to_owned(),
                signature: None,
            }],
        );
        let json = body_json(&ModelRequest::new("m", vec![only_thinking, assistant]));
        assert_eq!(
            json["messages"],
            json!([{ "role": "assistant", "content": [
                { "type": "thinking", "thinking": "signed", "signature": "sig" },
                { "type": "tool_use", "id": "c", "name": "n", "input": {} },
                { "type": "tool_use", "id": "d", "name": "n", "input": { "fixed": 1 } },
            ] }])
        );
    }

    #[test]
    fn tool_results_with_images_are_blocks() {
        let mut result = Message::tool_result("c", "screenshot", "done", false);
        result.content.push(ContentBlock::Image {
            mime_type: "image/png".to_owned(),
            data: "AAAA".to_owned(),
        });
        let json = body_json(&ModelRequest::new("m", vec![result]));
        assert_eq!(
            json["messages"][0]["content"][0]["content"],
            json!([
                { "type": "text", "text": "done" },
                { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "AAAA" } },
            ])
        );
    }
}

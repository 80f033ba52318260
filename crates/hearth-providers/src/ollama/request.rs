//! The `/api/chat` request body, serialized from the borrowed [`ModelRequest`].
//!
//! Mapping, as Ollama documents it (<https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion>):
//! the system prompt first as a `system` message; `content` is always the text (blocks joined
//! with newlines) and images go base64 in `images` (Ollama takes no MIME type); assistant tool
//! calls are `tool_calls: [{function: {name, arguments}}]` with arguments as a JSON object; tool
//! results are `{role: "tool", content, tool_name}`, the name taken from the call the result
//! answers. Ollama has no call ids, so Hearth's never go on the wire. Thinking is not sent back:
//! chat templates drop earlier turns' thinking anyway. `think` is not sent either: Ollama
//! answers 400 to it for models that cannot think, and thinking models think by default.

use std::borrow::Cow;

use hearth_protocol::transcript::{ContentBlock, Message, Role};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::provider::{ModelRequest, ToolSpec};

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Options::is_empty")]
    options: Options,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Cow<'a, str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<&'a str>,
}

impl<'a> WireMessage<'a> {
    fn new(role: &'static str, content: Cow<'a, str>) -> Self {
        Self {
            role,
            content,
            images: Vec::new(),
            tool_calls: Vec::new(),
            tool_name: None,
        }
    }
}

#[derive(Serialize)]
struct WireToolCall<'a> {
    function: WireFunctionCall<'a>,
}

#[derive(Serialize)]
struct WireFunctionCall<'a> {
    name: &'a str,
    arguments: Cow<'a, Value>,
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

#[derive(Serialize)]
struct Options {
    #[serde(skip_serializing_if = "Option::is_none")]
    num_predict: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
}

impl Options {
    fn is_empty(&self) -> bool {
        self.num_predict.is_none() && self.temperature.is_none()
    }
}

/// The JSON body for `request`, streaming.
pub(super) fn body(request: &ModelRequest) -> Result<Vec<u8>, serde_json::Error> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(WireMessage::new("system", Cow::Borrowed(system)));
    }
    let mut last_calls: &[ContentBlock] = &[];
    for message in &request.messages {
        if message.role == Role::Assistant {
            last_calls = &message.content;
        }
        messages.extend(wire_message(message, last_calls));
    }
    let body = ChatRequest {
        model: &request.model,
        messages,
        tools: request.tools.iter().map(wire_tool).collect(),
        stream: true,
        options: Options {
            num_predict: request.max_tokens,
            temperature: request.temperature,
        },
    };
    serde_json::to_vec(&body)
}

fn wire_tool(tool: &ToolSpec) -> WireTool<'_> {
    WireTool {
        kind: "function",
        function: WireFunction {
            name: &tool.name,
            description: &tool.description,
            parameters: &tool.parameters,
        },
    }
}

/// `None` for a message with nothing Ollama can carry (an assistant turn that only thought).
fn wire_message<'a>(
    message: &'a Message,
    last_calls: &'a [ContentBlock],
) -> Option<WireMessage<'a>> {
    let images: Vec<&str> = message
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Image { data, .. } => Some(data.as_str()),
            _ => None,
        })
        .collect();
    let text = joined_text(&message.content);
    let role = match message.role {
        Role::System => "system",
        Role::User => "user",
        Role::Tool => "tool",
        Role::Assistant => "assistant",
    };
    let mut wire = WireMessage {
        images,
        ..WireMessage::new(role, text)
    };
    match message.role {
        Role::System | Role::User => {}
        Role::Tool => {
            let called = message.tool_call_id.as_deref().and_then(|id| {
                last_calls.iter().find_map(|b| match b {
                    ContentBlock::ToolCall { id: call, name, .. } if call == id => {
                        Some(name.as_str())
                    }
                    _ => None,
                })
            });
            wire.tool_name = called.or(message.tool_name.as_deref());
        }
        Role::Assistant => {
            wire.tool_calls = message
                .tool_calls()
                .map(|(_, name, arguments)| WireToolCall {
                    function: WireFunctionCall {
                        name,
                        arguments: arguments_object(arguments),
                    },
                })
                .collect();
            if wire.content.is_empty() && wire.tool_calls.is_empty() && wire.images.is_empty() {
                return None;
            }
        }
    }
    Some(wire)
}

/// Ollama takes arguments as an object; arguments kept as raw text because they were not valid
/// JSON are sent as an empty object (the tool result already told the model its call was
/// malformed).
fn arguments_object(arguments: &Value) -> Cow<'_, Value> {
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
    fn tool_results_are_named_after_their_calls() {
        let assistant = Message::new(
            Role::Assistant,
            vec![
                ContentBlock::Thinking {
                    thinking: "t".to_owned(),
                    signature: None,
                },
                ContentBlock::ToolCall {
                    id: "c1".to_owned(),
                    name: "read".to_owned(),
                    arguments: json!("{\"p\":1}"),
                },
                ContentBlock::ToolCall {
                    id: "c2".to_owned(),
                    name: "ls".to_owned(),
                    arguments: json!("{broken"),
                },
            ],
        );
        let mut result = Message::tool_result("c2", "", "a b", false);
        result.tool_name = None;
        let json = body_json(&ModelRequest::new("qwen3", vec![assistant, result]));
        assert_eq!(
            json["messages"],
            json!([
                { "role": "assistant", "content": "", "tool_calls": [
                    { "function": { "name": "read", "arguments": { "p": 1 } } },
                    { "function": { "name": "ls", "arguments": {} } },
                ] },
                { "role": "tool", "content": "a b", "tool_name": "ls" },
            ])
        );
        assert!(json.get("options").is_none() && json.get("tools").is_none());
        assert_eq!(json["stream"], true);
    }

    #[test]
    fn images_go_in_their_own_field_and_thought_only_turns_are_left_out() {
        let mut user = Message::user("what is this?");
        user.content.push(ContentBlock::Image {
            mime_type: "image/jpeg".to_owned(),
            data: "/9j/4AAQ".to_owned(),
        });
        let thought = Message::new(
            Role::Assistant,
            vec![ContentBlock::Thinking {
                thinking: "hm".to_owned(),
                signature: None,
            }],
        );
        let mut request = ModelRequest::new("llava", vec![user, thought]);
        request.max_tokens = Some(64);
        let json = body_json(&request);
        assert_eq!(
            json["messages"],
            json!([{ "role": "user", "content": "what is this?", "images": ["/9j/4AAQ"] }])
        );
        assert_eq!(json["options"], json!({ "num_predict": 64 }));
    }
}

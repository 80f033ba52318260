//! The Chat Completions request body, serialized straight from the borrowed [`ModelRequest`].
//!
//! Mapping, as OpenAI documents it (<https://platform.openai.com/docs/api-reference/chat/create>):
//! the system prompt first as a `system` message; user content as a string, or as parts (`text`,
//! `image_url` with a `data:` URL) when it holds images; assistant text
//! in `content` and tool calls in `tool_calls[{id, type: "function", function: {name,
//! arguments}}]` with arguments as a JSON string; tool results as `{role: "tool", tool_call_id,
//! content}`. Thinking is not sent back: the API has no field for it and some compatible servers
//! reject it.

use std::borrow::Cow;
use std::fmt;

use hearth_protocol::transcript::{ContentBlock, Message, Role};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::provider::{ModelRequest, ToolSpec};

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
    stream_options: StreamOptions,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Content<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
    Null,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl<'a> },
}

#[derive(Serialize)]
struct ImageUrl<'a> {
    url: DataUrl<'a>,
}

/// Written straight into the body, so a large image is not copied into a temporary string.
struct DataUrl<'a> {
    mime_type: &'a str,
    data: &'a str,
}

impl Serialize for DataUrl<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for DataUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "data:{};base64,{}", self.mime_type, self.data)
    }
}

#[derive(Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunctionCall<'a>,
}

#[derive(Serialize)]
struct WireFunctionCall<'a> {
    name: &'a str,
    arguments: Cow<'a, str>,
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

/// The JSON body for `request`, streaming with usage.
pub(super) fn body(request: &ModelRequest) -> Result<Vec<u8>, serde_json::Error> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(WireMessage {
            role: "system",
            content: Content::Text(Cow::Borrowed(system)),
            tool_calls: Vec::new(),
            tool_call_id: None,
        });
    }
    messages.extend(request.messages.iter().filter_map(wire_message));
    let body = ChatRequest {
        model: &request.model,
        messages,
        tools: request.tools.iter().map(wire_tool).collect(),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
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

/// `None` for a message with nothing the API can carry (an assistant turn that only thought).
fn wire_message(message: &Message) -> Option<WireMessage<'_>> {
    let plain = |role| WireMessage {
        role,
        content: Content::Text(joined_text(&message.content)),
        tool_calls: Vec::new(),
        tool_call_id: None,
    };
    Some(match message.role {
        Role::System => plain("system"),
        Role::User => WireMessage {
            content: user_content(&message.content),
            ..plain("user")
        },
        Role::Tool => WireMessage {
            tool_call_id: Some(message.tool_call_id.as_deref().unwrap_or_default()),
            ..plain("tool")
        },
        Role::Assistant => {
            let tool_calls: Vec<WireToolCall<'_>> = message
                .tool_calls()
                .map(|(id, name, arguments)| WireToolCall {
                    id,
                    kind: "function",
                    function: WireFunctionCall {
                        name,
                        arguments: arguments_text(arguments),
                    },
                })
                .collect();
            let text = joined_text(&message.content);
            if text.is_empty() && tool_calls.is_empty() {
                return None;
            }
            let content = if text.is_empty() {
                Content::Null
            } else {
                Content::Text(text)
            };
            WireMessage {
                role: "assistant",
                content,
                tool_calls,
                tool_call_id: None,
            }
        }
    })
}

fn user_content(blocks: &[ContentBlock]) -> Content<'_> {
    if let [ContentBlock::Text { text }] = blocks {
        return Content::Text(Cow::Borrowed(text));
    }
    if blocks
        .iter()
        .all(|b| !matches!(b, ContentBlock::Image { .. }))
    {
        return Content::Text(joined_text(blocks));
    }
    Content::Parts(
        blocks
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text { text } => Some(Part::Text { text }),
                ContentBlock::Image { mime_type, data } => Some(Part::ImageUrl {
                    image_url: ImageUrl {
                        url: DataUrl { mime_type, data },
                    },
                }),
                ContentBlock::Thinking { .. } | ContentBlock::ToolCall { .. } => None,
            })
            .collect(),
    )
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

/// Arguments go back as the JSON text the model wrote. Arguments kept as a string because they
/// were not valid JSON are sent as that raw text, not re-quoted.
fn arguments_text(arguments: &Value) -> Cow<'_, str> {
    match arguments {
        Value::String(raw) => Cow::Borrowed(raw),
        other => Cow::Owned(other.to_string()),
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
    fn user_images_become_data_url_parts() {
        let mut message = Message::user("look");
        message.content.push(ContentBlock::Image {
            mime_type: "image/png".to_owned(),
            data: "iVBORw0K".to_owned(),
        });
        let json = body_json(&ModelRequest::new("m", vec![message]));
        assert_eq!(
            json["messages"][0]["content"],
            json!([
                { "type": "text", "text": "look" },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0K" } },
            ])
        );
        assert!(json.get("tools").is_none() && json.get("max_tokens").is_none());
    }

    #[test]
    fn thinking_only_assistant_turns_are_left_out_and_raw_arguments_stay_raw() {
        let thinking = Message::new(
            Role::Assistant,
            vec![ContentBlock::Thinking {
                thinking: "t".to_owned(),
                signature: None,
            }],
        );
        let call = Message::new(
            Role::Assistant,
            vec![ContentBlock::ToolCall {
                id: "c".to_owned(),
                name: "n".to_owned(),
                arguments: json!("{broken"),
            }],
        );
        let json = body_json(&ModelRequest::new("m", vec![thinking, call]));
        let messages = json["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["content"], Value::Null);
        assert_eq!(
            messages[0]["tool_calls"][0]["function"]["arguments"],
            "{broken"
        );
    }
}

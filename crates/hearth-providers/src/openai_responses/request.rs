//! The Responses request body, serialized straight from the borrowed [`ModelRequest`].
//!
//! Mapping, as OpenAI documents it (<https://platform.openai.com/docs/api-reference/responses>):
//!
//! - the system prompt is `instructions`; `system` messages inside the transcript stay in place
//!   as `{role: "system"}` input messages;
//! - user content is `input_text` and `input_image` (a `data:` URL) parts;
//! - an assistant turn becomes an `{role: "assistant"}` message of `output_text` parts, followed
//!   by one `function_call {call_id, name, arguments}` item per tool call (arguments as the JSON
//!   text the model wrote);
//! - a tool result is a `function_call_output {call_id, output}` item: text, or parts when the
//!   tool returned images;
//! - `max_output_tokens`, `stream: true`, `store: false`.
//!
//! Thinking is not sent back: with `store: false` the API only takes reasoning back as
//! encrypted items, which Hearth does not request, and reasoning summaries are not inputs.

use std::borrow::Cow;
use std::fmt;

use hearth_protocol::transcript::{ContentBlock, Message, Role};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::provider::{ModelRequest, ToolSpec};

#[derive(Serialize)]
struct ResponsesRequest<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<&'a str>,
    input: Vec<Item<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
    store: bool,
}

/// An input item. Messages carry no `type` (the API's "easy input message"); the other items
/// name theirs.
#[derive(Serialize)]
#[serde(untagged)]
enum Item<'a> {
    Message {
        role: &'static str,
        content: Vec<Part<'a>>,
    },
    FunctionCall {
        #[serde(rename = "type")]
        kind: &'static str,
        call_id: &'a str,
        name: &'a str,
        arguments: Cow<'a, str>,
    },
    FunctionCallOutput {
        #[serde(rename = "type")]
        kind: &'static str,
        call_id: &'a str,
        output: Output<'a>,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    InputText {
        text: &'a str,
    },
    InputImage {
        image_url: DataUrl<'a>,
        detail: &'static str,
    },
    OutputText {
        text: &'a str,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum Output<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
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
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

/// The JSON body for `request`, streaming and not stored.
pub(super) fn body(request: &ModelRequest) -> Result<Vec<u8>, serde_json::Error> {
    let mut input = Vec::with_capacity(request.messages.len() + 1);
    for message in &request.messages {
        push_items(&mut input, message);
    }
    let body = ResponsesRequest {
        model: &request.model,
        instructions: request.system.as_deref(),
        input,
        tools: request.tools.iter().map(wire_tool).collect(),
        max_output_tokens: request.max_tokens,
        temperature: request.temperature,
        stream: true,
        store: false,
    };
    serde_json::to_vec(&body)
}

fn wire_tool(tool: &ToolSpec) -> WireTool<'_> {
    WireTool {
        kind: "function",
        name: &tool.name,
        description: &tool.description,
        parameters: &tool.parameters,
    }
}

/// The items for one message; none for a message with nothing the API can carry.
fn push_items<'a>(input: &mut Vec<Item<'a>>, message: &'a Message) {
    match message.role {
        Role::System | Role::User => {
            let content = input_parts(&message.content);
            if !content.is_empty() {
                let role = if message.role == Role::System {
                    "system"
                } else {
                    "user"
                };
                input.push(Item::Message { role, content });
            }
        }
        Role::Assistant => {
            let content: Vec<Part<'_>> = message
                .content
                .iter()
                .filter_map(|block| match block {
                    ContentBlock::Text { text } if !text.is_empty() => {
                        Some(Part::OutputText { text })
                    }
                    _ => None,
                })
                .collect();
            if !content.is_empty() {
                input.push(Item::Message {
                    role: "assistant",
                    content,
                });
            }
            input.extend(message.tool_calls().map(|(call_id, name, arguments)| {
                Item::FunctionCall {
                    kind: "function_call",
                    call_id,
                    name,
                    arguments: arguments_text(arguments),
                }
            }));
        }
        Role::Tool => {
            let has_images = message
                .content
                .iter()
                .any(|b| matches!(b, ContentBlock::Image { .. }));
            let output = if has_images {
                Output::Parts(input_parts(&message.content))
            } else {
                Output::Text(joined_text(&message.content))
            };
            input.push(Item::FunctionCallOutput {
                kind: "function_call_output",
                call_id: message.tool_call_id.as_deref().unwrap_or_default(),
                output,
            });
        }
    }
}

fn input_parts(blocks: &[ContentBlock]) -> Vec<Part<'_>> {
    blocks
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text { text } if !text.is_empty() => Some(Part::InputText { text }),
            ContentBlock::Image { mime_type, data } => Some(Part::InputImage {
                image_url: DataUrl { mime_type, data },
                detail: "auto",
            }),
            _ => None,
        })
        .collect()
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
    fn the_body_is_streamed_unstored_and_minimal() {
        let json = body_json(&ModelRequest::new("gpt-5", vec![Message::user("hi")]));
        assert_eq!(
            json,
            json!({
                "model": "gpt-5",
                "input": [{ "role": "user", "content": [{ "type": "input_text", "text": "hi" }] }],
                "stream": true,
                "store": false,
            })
        );
    }

    #[test]
    fn thinking_only_turns_vanish_and_raw_arguments_stay_raw() {
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
                id: "call_1".to_owned(),
                name: "n".to_owned(),
                arguments: json!("{broken"),
            }],
        );
        let mut request = ModelRequest::new(
            "m",
            vec![Message::text(Role::System, "Be brief."), thinking, call],
        );
        request.max_tokens = Some(64);
        let json = body_json(&request);
        assert_eq!(
            json["input"],
            json!([
                { "role": "system", "content": [{ "type": "input_text", "text": "Be brief." }] },
                { "type": "function_call", "call_id": "call_1", "name": "n", "arguments": "{broken" },
            ])
        );
        assert_eq!(json["max_output_tokens"], 64);
    }

    #[test]
    fn tool_results_with_images_are_parts() {
        let mut result = Message::tool_result("call_1", "screenshot", "done", true);
        result.content.push(ContentBlock::Image {
            mime_type: "image/png".to_owned(),
            data: "AAAA".to_owned(),
        });
        let json = body_json(&ModelRequest::new("m", vec![result]));
        assert_eq!(
            json["input"][0],
            json!({ "type": "function_call_output", "call_id": "call_1", "output": [
                { "type": "input_text", "text": "done" },
                { "type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto" },
            ] })
        );
    }
}

//! The provider-neutral conversation model.
//!
//! Providers translate to and from their wire formats at their edge; everything inside Hearth
//! (the agent loop, the store, `chat.history`, the Control UI) sees only these types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool's result, answering the assistant's tool call named by `toolCallId`.
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One piece of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    /// An image, base64-encoded.
    #[serde(rename_all = "camelCase")]
    Image {
        mime_type: String,
        data: String,
    },
    /// Reasoning the model showed. `signature` is opaque provider data needed to send it back.
    Thinking {
        thinking: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// The assistant asks for a tool to run.
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
    },
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    /// A natural end of the answer.
    Stop,
    /// The output token limit was reached.
    Length,
    /// The model asked for tools to run.
    ToolUse,
    /// The provider filtered the content.
    ContentFilter,
    /// The run was aborted.
    Aborted,
    /// The run failed.
    Error,
}

/// Token counts for one model call or a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    #[serde(default)]
    pub cache_read: u64,
    #[serde(default)]
    pub cache_write: u64,
    /// Cost in US dollars, when the model's prices are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

impl Usage {
    pub fn total_tokens(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_write
    }

    /// Adds another call's usage to this one (a run is the sum of its calls).
    pub fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
        self.cost = match (self.cost, other.cost) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
    }
}

/// One message of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentBlock>,
    /// For `tool` messages: the call this result answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For `tool` messages: the tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// For `tool` messages: the tool failed and the content is its error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
    /// For `tool` messages: how long the tool ran, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// For `assistant` messages: the `provider/model` that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// For `assistant` messages: tokens of the call that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub timestamp: i64,
    /// Its 1-based position in the session's transcript, on messages read back from the store
    /// (`chat.history`); `sessions.fork` takes it as `atSeq`. Never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
}

impl Message {
    pub fn new(role: Role, content: Vec<ContentBlock>) -> Self {
        Self {
            role,
            content,
            tool_call_id: None,
            tool_name: None,
            is_error: false,
            duration_ms: None,
            model: None,
            usage: None,
            stop_reason: None,
            timestamp: 0,
            seq: None,
        }
    }

    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self::new(role, vec![ContentBlock::Text { text: text.into() }])
    }

    pub fn user(text: impl Into<String>) -> Self {
        Self::text(Role::User, text)
    }

    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text(Role::Assistant, text)
    }

    /// A tool result answering `call_id`.
    pub fn tool_result(
        call_id: impl Into<String>,
        tool_name: impl Into<String>,
        text: impl Into<String>,
        is_error: bool,
    ) -> Self {
        let mut m = Self::text(Role::Tool, text);
        m.tool_call_id = Some(call_id.into());
        m.tool_name = Some(tool_name.into());
        m.is_error = is_error;
        m
    }

    #[must_use]
    pub fn at(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = timestamp_ms;
        self
    }

    /// The message's text blocks joined, without thinking or tool calls.
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for block in &self.content {
            if let ContentBlock::Text { text } = block {
                out.push_str(text);
            }
        }
        out
    }

    /// The tool calls an assistant message asks for, in order.
    pub fn tool_calls(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.content.iter().filter_map(|b| match b {
            ContentBlock::ToolCall {
                id,
                name,
                arguments,
            } => Some((id.as_str(), name.as_str(), arguments)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trips_in_camel_case() {
        let mut m = Message::tool_result("call_1", "read", "file body", true).at(42);
        m.usage = Some(Usage {
            input: 3,
            output: 4,
            cache_read: 1,
            cache_write: 0,
            cost: None,
        });
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["toolCallId"], "call_1");
        assert_eq!(json["isError"], true);
        assert_eq!(json["usage"]["cacheRead"], 1);
        assert_eq!(json["content"][0]["type"], "text");
        let back: Message = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn usage_add_sums_tokens_and_known_costs() {
        let mut a = Usage {
            input: 1,
            output: 2,
            cost: Some(0.5),
            ..Usage::default()
        };
        a.add(&Usage {
            input: 10,
            output: 20,
            cache_read: 5,
            cache_write: 1,
            cost: None,
        });
        assert_eq!(
            (a.input, a.output, a.cache_read, a.cache_write),
            (11, 22, 5, 1)
        );
        assert_eq!(a.total_tokens(), 39);
        assert_eq!(a.cost, Some(0.5));
    }
}

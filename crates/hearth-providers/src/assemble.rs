//! Turns streamed pieces into [`StreamEvent`]s and, at the end, the assistant [`Message`].
//!
//! Shared by every API kind: a vendor's stream parser says "text", "thinking", "tool call
//! started", "arguments fragment", and this keeps the running answer so the final
//! [`Completion`] matches exactly what was streamed.

use std::time::{SystemTime, UNIX_EPOCH};

use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use serde_json::Value;

use crate::provider::{Completion, StreamEvent};

#[derive(Debug, Default)]
pub(crate) struct Assembler {
    thinking: String,
    text: String,
    calls: Vec<CallParts>,
    output_started: bool,
}

#[derive(Debug)]
struct CallParts {
    id: String,
    name: String,
    arguments: String,
}

impl Assembler {
    /// Whether anything of the answer has been streamed (a retry would repeat it).
    pub(crate) fn output_started(&self) -> bool {
        self.output_started
    }

    pub(crate) fn text(&mut self, delta: String) -> StreamEvent {
        self.output_started = true;
        self.text.push_str(&delta);
        StreamEvent::TextDelta(delta)
    }

    pub(crate) fn thinking(&mut self, delta: String) -> StreamEvent {
        self.output_started = true;
        self.thinking.push_str(&delta);
        StreamEvent::ThinkingDelta(delta)
    }

    /// Opens a tool call; the returned slot addresses it in later calls.
    pub(crate) fn start_tool_call(&mut self, id: String, name: String) -> (usize, StreamEvent) {
        self.output_started = true;
        self.calls.push(CallParts {
            id: id.clone(),
            name: name.clone(),
            arguments: String::new(),
        });
        (
            self.calls.len() - 1,
            StreamEvent::ToolCallStart { id, name },
        )
    }

    /// Names the call if its first fragment did not.
    pub(crate) fn name_tool_call(&mut self, slot: usize, name: &str) {
        if let Some(call) = self.calls.get_mut(slot)
            && call.name.is_empty()
        {
            call.name.push_str(name);
        }
    }

    pub(crate) fn tool_call_arguments(
        &mut self,
        slot: usize,
        delta: String,
    ) -> Option<StreamEvent> {
        let call = self.calls.get_mut(slot)?;
        call.arguments.push_str(&delta);
        Some(StreamEvent::ToolCallDelta {
            id: call.id.clone(),
            arguments_delta: delta,
        })
    }

    pub(crate) fn tool_call_count(&self) -> usize {
        self.calls.len()
    }

    pub(crate) fn tool_call_id(&self, slot: usize) -> Option<&str> {
        self.calls.get(slot).map(|c| c.id.as_str())
    }

    /// The final message. Arguments that are not valid JSON are kept as a JSON string, so the
    /// agent loop can tell the model its call was malformed instead of failing the turn.
    pub(crate) fn finish(
        self,
        stop_reason: StopReason,
        usage: Usage,
        response_id: Option<String>,
        model_ref: String,
    ) -> Box<Completion> {
        let mut content = Vec::with_capacity(2 + self.calls.len());
        if !self.thinking.is_empty() {
            content.push(ContentBlock::Thinking {
                thinking: self.thinking,
                signature: None,
            });
        }
        if !self.text.is_empty() {
            content.push(ContentBlock::Text { text: self.text });
        }
        let has_calls = !self.calls.is_empty();
        for call in self.calls {
            content.push(ContentBlock::ToolCall {
                id: call.id,
                name: call.name,
                arguments: parse_arguments(call.arguments),
            });
        }
        // Some OpenAI-compatible servers say `stop` even when the answer is tool calls; the agent
        // loop keys on ToolUse to run them.
        let stop_reason = if has_calls && stop_reason == StopReason::Stop {
            StopReason::ToolUse
        } else {
            stop_reason
        };
        let mut message = Message::new(Role::Assistant, content);
        message.model = Some(model_ref);
        message.usage = Some(usage);
        message.stop_reason = Some(stop_reason);
        message.timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Box::new(Completion {
            message,
            usage,
            stop_reason,
            response_id,
            request_id: None,
        })
    }
}

fn parse_arguments(raw: String) -> Value {
    if raw.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    match serde_json::from_str(&raw) {
        Ok(value) => value,
        Err(_) => Value::String(raw),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_message_orders_thinking_text_then_calls() {
        let mut asm = Assembler::default();
        assert!(!asm.output_started());
        asm.text("Hel".to_owned());
        asm.thinking("hmm".to_owned());
        asm.text("lo".to_owned());
        let (a, _) = asm.start_tool_call("c1".to_owned(), "read".to_owned());
        let (b, _) = asm.start_tool_call("c2".to_owned(), String::new());
        asm.name_tool_call(b, "write");
        asm.tool_call_arguments(a, "{\"path\":".to_owned());
        asm.tool_call_arguments(b, "{not json".to_owned());
        asm.tool_call_arguments(a, "\"x\"}".to_owned());
        let done = asm.finish(StopReason::Stop, Usage::default(), None, "p/m".to_owned());
        assert_eq!(done.stop_reason, StopReason::ToolUse);
        assert_eq!(done.message.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(done.message.model.as_deref(), Some("p/m"));
        assert_eq!(
            done.message.content,
            vec![
                ContentBlock::Thinking {
                    thinking: "hmm".to_owned(),
                    signature: None
                },
                ContentBlock::Text {
                    text: "Hello".to_owned()
                },
                ContentBlock::ToolCall {
                    id: "c1".to_owned(),
                    name: "read".to_owned(),
                    arguments: json!({ "path": "x" })
                },
                ContentBlock::ToolCall {
                    id: "c2".to_owned(),
                    name: "write".to_owned(),
                    arguments: json!("{not json")
                },
            ]
        );
    }

    #[test]
    fn empty_arguments_are_an_empty_object() {
        assert_eq!(parse_arguments(" ".to_owned()), json!({}));
    }
}

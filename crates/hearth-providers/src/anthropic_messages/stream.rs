//! The Messages event stream to [`StreamEvent`]s.
//!
//! Anthropic names every event (<https://docs.anthropic.com/en/docs/build-with-claude/streaming>):
//! `message_start` (the message id and the prompt's usage: `input_tokens`,
//! `cache_creation_input_tokens`, `cache_read_input_tokens`), then per content block a
//! `content_block_start` (`text`, `tool_use` with id and name, `thinking`), its
//! `content_block_delta`s (`text_delta`, `input_json_delta` with a `partial_json` fragment,
//! `thinking_delta`, `signature_delta`) and a `content_block_stop`; then `message_delta` (the
//! `stop_reason` and cumulative `usage.output_tokens`) and `message_stop`. `ping` keeps the
//! connection alive; an `error` event (`{"type": "error", "error": {"type", "message"}}`, e.g.
//! `overloaded_error`) ends the call. Unknown events and block types are skipped, as the API's
//! versioning policy asks.
//!
//! Blocks are addressed by their `index`. Each thinking block keeps its own signature: the API
//! only accepts thinking back exactly as it was sent, so the final message carries one
//! [`ContentBlock::Thinking`] per streamed thinking block rather than the assembler's merged one.

use std::collections::VecDeque;
use std::sync::Arc;

use hearth_protocol::transcript::{ContentBlock, StopReason, Usage};
use serde::Deserialize;
use serde_json::Value;

use super::errors;
use crate::assemble::Assembler;
use crate::call_stream::AnswerParser;
use crate::error::ProviderError;
use crate::provider::StreamEvent;
use crate::transport::Redactor;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u64,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: u64,
        delta: Delta,
    },
    ContentBlockStop {
        index: u64,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: Value,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// Counts present in an event replace earlier ones: `message_delta` counts are cumulative.
#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Anthropic counts cached tokens apart from `input_tokens` already, as Hearth does.
    fn apply(&self, usage: &mut Usage) {
        let set = |field: &mut u64, value: Option<u64>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        set(&mut usage.input, self.input_tokens);
        set(&mut usage.output, self.output_tokens);
        set(&mut usage.cache_write, self.cache_creation_input_tokens);
        set(&mut usage.cache_read, self.cache_read_input_tokens);
    }
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => StopReason::Length,
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::ContentFilter,
        _ => StopReason::Stop,
    }
}

/// What an open content block is, found again by its `index`.
#[derive(Debug)]
enum OpenBlock {
    Text,
    /// Position in [`EventParser::thinking`].
    Thinking(usize),
    /// The assembler's slot for the call.
    ToolUse(usize),
    Ignored,
}

/// A streamed thinking block, kept whole for the final message.
#[derive(Debug, Default)]
struct ThinkingBlock {
    thinking: String,
    signature: String,
}

/// The answer so far, built from events.
#[derive(Debug)]
pub(super) struct EventParser {
    answer: Assembler,
    blocks: Vec<(u64, OpenBlock)>,
    thinking: Vec<ThinkingBlock>,
    stop_reason: Option<StopReason>,
    usage: Usage,
    response_id: Option<String>,
    model_ref: String,
    redactor: Arc<Redactor>,
}

impl EventParser {
    pub(super) fn new(model_ref: String, redactor: Arc<Redactor>) -> Self {
        Self {
            answer: Assembler::default(),
            blocks: Vec::new(),
            thinking: Vec::new(),
            stop_reason: None,
            usage: Usage::default(),
            response_id: None,
            model_ref,
            redactor,
        }
    }

    fn start_block(&mut self, index: u64, block: StartBlock, out: &mut VecDeque<StreamEvent>) {
        let open = match block {
            StartBlock::Text { text } => {
                if !text.is_empty() {
                    out.push_back(self.answer.text(text));
                }
                OpenBlock::Text
            }
            StartBlock::Thinking {
                thinking,
                signature,
            } => {
                if !thinking.is_empty() {
                    out.push_back(self.answer.thinking(thinking.clone()));
                }
                self.thinking.push(ThinkingBlock {
                    thinking,
                    signature,
                });
                OpenBlock::Thinking(self.thinking.len() - 1)
            }
            StartBlock::ToolUse { id, name } => {
                let (slot, event) = self.answer.start_tool_call(id, name);
                out.push_back(event);
                OpenBlock::ToolUse(slot)
            }
            StartBlock::Unknown => OpenBlock::Ignored,
        };
        self.blocks.push((index, open));
    }

    fn delta(&mut self, index: u64, delta: Delta, out: &mut VecDeque<StreamEvent>) {
        let Some((_, open)) = self.blocks.iter().find(|(i, _)| *i == index) else {
            return;
        };
        match (open, delta) {
            (OpenBlock::Text, Delta::Text { text }) if !text.is_empty() => {
                out.push_back(self.answer.text(text));
            }
            (OpenBlock::Thinking(at), Delta::Thinking { thinking }) if !thinking.is_empty() => {
                if let Some(block) = self.thinking.get_mut(*at) {
                    block.thinking.push_str(&thinking);
                }
                out.push_back(self.answer.thinking(thinking));
            }
            (OpenBlock::Thinking(at), Delta::Signature { signature }) => {
                if let Some(block) = self.thinking.get_mut(*at) {
                    block.signature.push_str(&signature);
                }
            }
            (OpenBlock::ToolUse(slot), Delta::InputJson { partial_json })
                if !partial_json.is_empty() =>
            {
                out.extend(self.answer.tool_call_arguments(*slot, partial_json));
            }
            _ => {}
        }
    }
}

impl AnswerParser for EventParser {
    /// Handles one event's `data`; true at `message_stop`.
    fn handle(
        &mut self,
        frame: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, ProviderError> {
        let data = frame.trim();
        if data.is_empty() {
            return Ok(false);
        }
        let event: Event = serde_json::from_str(data).map_err(|err| ProviderError::Decode {
            message: format!(
                "a stream event is not valid JSON ({err}): {}",
                self.redactor.scrub(data)
            ),
        })?;
        match event {
            Event::MessageStart { message } => {
                self.response_id = message.id;
                if let Some(usage) = message.usage {
                    usage.apply(&mut self.usage);
                }
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => self.start_block(index, content_block, out),
            Event::ContentBlockDelta { index, delta } => self.delta(index, delta, out),
            Event::ContentBlockStop { index } => self.blocks.retain(|(i, _)| *i != index),
            Event::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.stop_reason {
                    self.stop_reason = Some(stop_reason(&reason));
                }
                if let Some(usage) = usage {
                    usage.apply(&mut self.usage);
                }
            }
            Event::MessageStop => return Ok(true),
            Event::Error { error } => {
                return Err(errors::from_stream(
                    &error,
                    self.output_started(),
                    &self.redactor,
                ));
            }
            Event::Ping | Event::Unknown => {}
        }
        Ok(false)
    }

    /// A stop reason means the answer is whole, even if `message_stop` never came.
    fn finished(&self) -> bool {
        self.stop_reason.is_some()
    }

    fn output_started(&self) -> bool {
        self.answer.output_started()
    }

    fn complete(self) -> StreamEvent {
        let mut done = self.answer.finish(
            self.stop_reason.unwrap_or(StopReason::Stop),
            self.usage,
            self.response_id,
            self.model_ref,
        );
        let content = &mut done.message.content;
        if let Some(merged) = content
            .iter()
            .position(|b| matches!(b, ContentBlock::Thinking { .. }))
        {
            let blocks = self
                .thinking
                .into_iter()
                .filter(|b| !b.thinking.is_empty() || !b.signature.is_empty())
                .map(|b| ContentBlock::Thinking {
                    thinking: b.thinking,
                    signature: Some(b.signature).filter(|s| !s.is_empty()),
                });
            content.splice(merged..=merged, blocks);
        }
        StreamEvent::Completed(done)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parser() -> EventParser {
        EventParser::new("p/m".to_owned(), Arc::new(Redactor::default()))
    }

    /// Feeds `events`, which must not finish the answer, then `message_stop`.
    fn run(events: &[Value]) -> (Vec<StreamEvent>, EventParser) {
        let mut parser = parser();
        let mut out = VecDeque::new();
        for event in events {
            assert!(!parser.handle(&event.to_string(), &mut out).unwrap());
        }
        assert!(
            parser
                .handle(r#"{"type":"message_stop"}"#, &mut out)
                .unwrap()
        );
        (out.into_iter().collect(), parser)
    }

    fn start(index: u64, block: Value) -> Value {
        json!({ "type": "content_block_start", "index": index, "content_block": block })
    }

    fn delta(index: u64, delta: Value) -> Value {
        json!({ "type": "content_block_delta", "index": index, "delta": delta })
    }

    fn completed(parser: EventParser) -> crate::Completion {
        match parser.complete() {
            StreamEvent::Completed(done) => *done,
            other => panic!("not completed: {other:?}"),
        }
    }

    #[test]
    fn thinking_blocks_keep_their_own_signatures() {
        let (events, parser) = run(&[
            json!({ "type": "message_start", "message": { "id": "msg_1", "usage": { "input_tokens": 9, "output_tokens": 1 } } }),
            start(0, json!({ "type": "thinking", "thinking": "" })),
            delta(0, json!({ "type": "thinking_delta", "thinking": "first " })),
            delta(
                0,
                json!({ "type": "thinking_delta", "thinking": "thought" }),
            ),
            delta(0, json!({ "type": "signature_delta", "signature": "sigA" })),
            json!({ "type": "content_block_stop", "index": 0 }),
            start(
                1,
                json!({ "type": "thinking", "thinking": "", "signature": "" }),
            ),
            delta(1, json!({ "type": "thinking_delta", "thinking": "second" })),
            delta(1, json!({ "type": "signature_delta", "signature": "sigB" })),
            json!({ "type": "content_block_stop", "index": 1 }),
            start(2, json!({ "type": "text", "text": "" })),
            delta(2, json!({ "type": "text_delta", "text": "Hi" })),
            json!({ "type": "ping" }),
            json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn", "stop_sequence": null }, "usage": { "output_tokens": 12 } }),
        ]);
        assert_eq!(
            events,
            [
                StreamEvent::ThinkingDelta("first ".to_owned()),
                StreamEvent::ThinkingDelta("thought".to_owned()),
                StreamEvent::ThinkingDelta("second".to_owned()),
                StreamEvent::TextDelta("Hi".to_owned()),
            ]
        );
        let done = completed(parser);
        assert_eq!(
            done.message.content,
            [
                ContentBlock::Thinking {
                    thinking: "first thought".to_owned(),
                    signature: Some("sigA".to_owned())
                },
                ContentBlock::Thinking {
                    thinking: "second".to_owned(),
                    signature: Some("sigB".to_owned())
                },
                ContentBlock::Text {
                    text: "Hi".to_owned()
                },
            ]
        );
        assert_eq!((done.usage.input, done.usage.output), (9, 12));
        assert_eq!(done.response_id.as_deref(), Some("msg_1"));
        assert_eq!(done.stop_reason, StopReason::Stop);
    }

    #[test]
    fn tool_use_arguments_are_assembled_per_block_index() {
        let (events, parser) = run(&[
            start(
                0,
                json!({ "type": "tool_use", "id": "toolu_a", "name": "read", "input": {} }),
            ),
            delta(0, json!({ "type": "input_json_delta", "partial_json": "" })),
            delta(
                0,
                json!({ "type": "input_json_delta", "partial_json": "{\"p\":" }),
            ),
            delta(
                0,
                json!({ "type": "input_json_delta", "partial_json": "1}" }),
            ),
            json!({ "type": "content_block_stop", "index": 0 }),
            start(
                1,
                json!({ "type": "tool_use", "id": "toolu_b", "name": "ls", "input": {} }),
            ),
            json!({ "type": "content_block_stop", "index": 1 }),
            json!({ "type": "message_delta", "delta": { "stop_reason": "tool_use" }, "usage": { "output_tokens": 5 } }),
        ]);
        assert_eq!(events.len(), 4);
        let done = completed(parser);
        let calls: Vec<_> = done
            .message
            .tool_calls()
            .map(|(id, name, args)| (id.to_owned(), name.to_owned(), args.clone()))
            .collect();
        assert_eq!(
            calls,
            [
                ("toolu_a".to_owned(), "read".to_owned(), json!({ "p": 1 })),
                ("toolu_b".to_owned(), "ls".to_owned(), json!({})),
            ]
        );
        assert_eq!(done.stop_reason, StopReason::ToolUse);
    }

    #[test]
    fn usage_counts_cache_reads_and_writes_apart() {
        let (_, parser) = run(&[
            json!({ "type": "message_start", "message": { "id": "m", "usage": {
                "input_tokens": 3, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000, "output_tokens": 1
            } } }),
            json!({ "type": "message_delta", "delta": { "stop_reason": "max_tokens" }, "usage": { "output_tokens": 64 } }),
        ]);
        let done = completed(parser);
        assert_eq!(
            done.usage,
            Usage {
                input: 3,
                output: 64,
                cache_read: 2000,
                cache_write: 100,
                cost: None
            }
        );
        assert_eq!(done.stop_reason, StopReason::Length);
    }

    #[test]
    fn stop_reasons_map() {
        assert_eq!(stop_reason("end_turn"), StopReason::Stop);
        assert_eq!(stop_reason("stop_sequence"), StopReason::Stop);
        assert_eq!(stop_reason("max_tokens"), StopReason::Length);
        assert_eq!(stop_reason("tool_use"), StopReason::ToolUse);
        assert_eq!(stop_reason("refusal"), StopReason::ContentFilter);
    }

    #[test]
    fn error_events_and_bad_json_end_the_call() {
        let mut parser = parser();
        let mut out = VecDeque::new();
        parser
            .handle(
                &start(0, json!({ "type": "text", "text": "" })).to_string(),
                &mut out,
            )
            .unwrap();
        parser
            .handle(
                &delta(0, json!({ "type": "text_delta", "text": "par" })).to_string(),
                &mut out,
            )
            .unwrap();
        let err = parser
            .handle(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.kind(), "overloaded");
        let err = parser.handle("{nope", &mut out).unwrap_err();
        assert_eq!(err.kind(), "decode");
        assert!(
            !parser
                .handle(r#"{"type":"some_future_event","x":1}"#, &mut out)
                .unwrap()
        );
    }
}

//! The Responses event stream to [`StreamEvent`]s.
//!
//! Every event's `data` names its `type`
//! (<https://platform.openai.com/docs/api-reference/responses-streaming>). Hearth reads:
//!
//! - `response.created`: the response id;
//! - `response.output_item.added` / `.done` for `function_call` items (`call_id`, `name`; a
//!   call's item `id` addresses its argument fragments);
//! - `response.output_text.delta` (text), `response.function_call_arguments.delta` (argument
//!   fragments; `.done` carries them whole, used when no fragment came);
//! - `response.reasoning_summary_text.delta` and `response.reasoning_text.delta` (thinking; a
//!   new summary part is set apart by a blank line);
//! - `response.completed` and `response.incomplete` (the end: `usage` with `input_tokens`,
//!   `input_tokens_details.cached_tokens`, `output_tokens`; `incomplete_details.reason`),
//!   `response.failed` (`response.error`) and `error` events.
//!
//! Other events (`response.in_progress`, `content_part.*`, `*.done` duplicates) carry nothing
//! new and are skipped, as are event types added later.

use std::collections::VecDeque;
use std::sync::Arc;

use hearth_protocol::transcript::{StopReason, Usage};
use serde::Deserialize;
use serde_json::Value;

use crate::assemble::Assembler;
use crate::call_stream::AnswerParser;
use crate::error::ProviderError;
use crate::openai_completions::errors;
use crate::provider::StreamEvent;
use crate::transport::Redactor;

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Event {
    #[serde(rename = "response.created")]
    Created { response: WireResponse },
    #[serde(rename = "response.output_item.added")]
    ItemAdded { item: Item },
    #[serde(rename = "response.output_item.done")]
    ItemDone { item: Item },
    #[serde(rename = "response.output_text.delta")]
    TextDelta { delta: String },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta { item_id: String, delta: String },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone { item_id: String, arguments: String },
    #[serde(rename = "response.reasoning_summary_text.delta")]
    SummaryDelta {
        item_id: String,
        #[serde(default)]
        summary_index: u64,
        delta: String,
    },
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningDelta {
        item_id: String,
        #[serde(default)]
        content_index: u64,
        delta: String,
    },
    #[serde(rename = "response.completed")]
    Completed { response: WireResponse },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: WireResponse },
    #[serde(rename = "response.failed")]
    Failed { response: WireResponse },
    #[serde(rename = "error")]
    Error,
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct IncompleteDetails {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Item {
    FunctionCall {
        #[serde(default)]
        id: Option<String>,
        call_id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        arguments: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<InputDetails>,
}

#[derive(Deserialize)]
struct InputDetails {
    #[serde(default)]
    cached_tokens: u64,
}

impl WireUsage {
    /// OpenAI counts cached tokens inside `input_tokens`; Hearth counts them apart.
    fn to_usage(&self) -> Usage {
        let cached = self
            .input_tokens_details
            .as_ref()
            .map_or(0, |d| d.cached_tokens);
        Usage {
            input: self.input_tokens.saturating_sub(cached),
            output: self.output_tokens,
            cache_read: cached,
            cache_write: 0,
            cost: None,
        }
    }
}

/// Why an incomplete response stopped.
fn incomplete_reason(details: Option<&IncompleteDetails>) -> StopReason {
    match details.and_then(|d| d.reason.as_deref()) {
        Some("content_filter") => StopReason::ContentFilter,
        _ => StopReason::Length,
    }
}

/// A function call being streamed, found again by its item id.
#[derive(Debug)]
struct OpenCall {
    item_id: Option<String>,
    call_id: String,
    slot: usize,
    has_arguments: bool,
}

/// The answer so far, built from events.
#[derive(Debug)]
pub(super) struct EventParser {
    answer: Assembler,
    calls: Vec<OpenCall>,
    /// The reasoning part the last thinking delta belonged to.
    thinking_part: Option<(String, u64)>,
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
            calls: Vec::new(),
            thinking_part: None,
            stop_reason: None,
            usage: Usage::default(),
            response_id: None,
            model_ref,
            redactor,
        }
    }

    /// Opens the call, unless an earlier event did; its slot either way.
    fn call(
        &mut self,
        item_id: Option<String>,
        call_id: String,
        name: String,
        out: &mut VecDeque<StreamEvent>,
    ) -> usize {
        let known = self
            .calls
            .iter()
            .position(|c| c.call_id == call_id || (item_id.is_some() && c.item_id == item_id));
        if let Some(at) = known {
            let slot = self.calls[at].slot;
            self.answer.name_tool_call(slot, &name);
            return slot;
        }
        let (slot, event) = self.answer.start_tool_call(call_id.clone(), name);
        out.push_back(event);
        self.calls.push(OpenCall {
            item_id,
            call_id,
            slot,
            has_arguments: false,
        });
        slot
    }

    /// Arguments for the call with this item id: a fragment, or the whole text when no
    /// fragment came before.
    fn arguments(
        &mut self,
        item_id: Option<&str>,
        call_id: Option<&str>,
        arguments: String,
        whole: bool,
        out: &mut VecDeque<StreamEvent>,
    ) {
        let Some(call) = self.calls.iter_mut().find(|c| {
            (item_id.is_some() && c.item_id.as_deref() == item_id)
                || Some(c.call_id.as_str()) == call_id
        }) else {
            return;
        };
        if arguments.is_empty() || (whole && call.has_arguments) {
            return;
        }
        call.has_arguments = true;
        out.extend(self.answer.tool_call_arguments(call.slot, arguments));
    }

    fn item(&mut self, item: Item, out: &mut VecDeque<StreamEvent>) {
        if let Item::FunctionCall {
            id,
            call_id,
            name,
            arguments,
        } = item
        {
            self.call(id.clone(), call_id.clone(), name, out);
            self.arguments(id.as_deref(), Some(&call_id), arguments, true, out);
        }
    }

    fn thinking(
        &mut self,
        item_id: String,
        part: u64,
        delta: String,
        out: &mut VecDeque<StreamEvent>,
    ) {
        if delta.is_empty() {
            return;
        }
        let this_part = Some((item_id, part));
        if self.thinking_part.is_some() && self.thinking_part != this_part {
            out.push_back(self.answer.thinking("\n\n".to_owned()));
        }
        self.thinking_part = this_part;
        out.push_back(self.answer.thinking(delta));
    }

    fn end(&mut self, response: WireResponse, stop_reason: StopReason) {
        if let Some(usage) = &response.usage {
            self.usage = usage.to_usage();
        }
        if self.response_id.is_none() {
            self.response_id = response.id;
        }
        self.stop_reason = Some(stop_reason);
    }
}

impl AnswerParser for EventParser {
    /// True at `response.completed` or `response.incomplete`.
    fn handle(
        &mut self,
        frame: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, ProviderError> {
        let data = frame.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(false);
        }
        let event: Event = serde_json::from_str(data).map_err(|err| ProviderError::Decode {
            message: format!(
                "a stream event is not valid JSON ({err}): {}",
                self.redactor.scrub(data)
            ),
        })?;
        match event {
            Event::Created { response } => self.response_id = response.id,
            Event::ItemAdded { item } | Event::ItemDone { item } => self.item(item, out),
            Event::TextDelta { delta } => {
                if !delta.is_empty() {
                    out.push_back(self.answer.text(delta));
                }
            }
            Event::ArgumentsDelta { item_id, delta } => {
                self.arguments(Some(&item_id), None, delta, false, out);
            }
            Event::ArgumentsDone { item_id, arguments } => {
                self.arguments(Some(&item_id), None, arguments, true, out);
            }
            Event::SummaryDelta {
                item_id,
                summary_index,
                delta,
            } => self.thinking(item_id, summary_index, delta, out),
            Event::ReasoningDelta {
                item_id,
                content_index,
                delta,
            } => self.thinking(item_id, content_index, delta, out),
            Event::Completed { response } => {
                self.end(response, StopReason::Stop);
                return Ok(true);
            }
            Event::Incomplete { response } => {
                let reason = incomplete_reason(response.incomplete_details.as_ref());
                self.end(response, reason);
                return Ok(true);
            }
            Event::Failed { response } => {
                let error = response.error.unwrap_or(Value::Null);
                return Err(failure(&error, self.output_started(), &self.redactor));
            }
            Event::Error => {
                // The error's fields sit beside `type`, so the event itself is the error object.
                let error: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                return Err(failure(&error, self.output_started(), &self.redactor));
            }
            Event::Unknown => {}
        }
        Ok(false)
    }

    /// The end event means the answer is whole.
    fn finished(&self) -> bool {
        self.stop_reason.is_some()
    }

    fn output_started(&self) -> bool {
        self.answer.output_started()
    }

    fn complete(self) -> StreamEvent {
        StreamEvent::Completed(self.answer.finish(
            self.stop_reason.unwrap_or(StopReason::Stop),
            self.usage,
            self.response_id,
            self.model_ref,
        ))
    }
}

/// A failed response or an `error` event, classified by its `code` like a Chat Completions
/// error.
fn failure(error: &Value, output_started: bool, redactor: &Redactor) -> ProviderError {
    if error.is_object() {
        return errors::from_stream(error, output_started, redactor);
    }
    ProviderError::StreamBroken {
        message: "the provider reported that the response failed".to_owned(),
        output_started,
    }
}

#[cfg(test)]
mod tests {
    use hearth_protocol::transcript::ContentBlock;
    use serde_json::json;

    use super::*;

    fn parser() -> EventParser {
        EventParser::new("p/m".to_owned(), Arc::new(Redactor::default()))
    }

    /// Feeds `events`; the last must end the answer.
    fn run(events: &[Value]) -> (Vec<StreamEvent>, crate::Completion) {
        let mut parser = parser();
        let mut out = VecDeque::new();
        let (last, rest) = events.split_last().unwrap();
        for event in rest {
            assert!(!parser.handle(&event.to_string(), &mut out).unwrap());
        }
        assert!(parser.handle(&last.to_string(), &mut out).unwrap());
        let StreamEvent::Completed(done) = parser.complete() else {
            panic!("not completed")
        };
        (out.into_iter().collect(), *done)
    }

    fn call_added(id: &str, call_id: &str, name: &str) -> Value {
        json!({ "type": "response.output_item.added", "output_index": 0, "item": {
            "type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": "", "status": "in_progress"
        } })
    }

    fn args(id: &str, delta: &str) -> Value {
        json!({ "type": "response.function_call_arguments.delta", "item_id": id, "output_index": 0, "delta": delta })
    }

    fn completed(usage: Value) -> Value {
        json!({ "type": "response.completed", "response": { "id": "resp_1", "status": "completed", "usage": usage } })
    }

    #[test]
    fn interleaved_calls_are_kept_apart_by_item_id_and_done_events_add_nothing() {
        let (events, done) = run(&[
            json!({ "type": "response.created", "response": { "id": "resp_1", "status": "in_progress" } }),
            call_added("fc_a", "call_a", "read"),
            call_added("fc_b", "call_b", "ls"),
            args("fc_a", "{\"p\":"),
            args("fc_b", "{}"),
            args("fc_a", "1}"),
            json!({ "type": "response.function_call_arguments.done", "item_id": "fc_a", "arguments": "{\"p\":1}" }),
            json!({ "type": "response.output_item.done", "item": {
                "type": "function_call", "id": "fc_a", "call_id": "call_a", "name": "read", "arguments": "{\"p\":1}"
            } }),
            completed(
                json!({ "input_tokens": 10, "output_tokens": 3, "input_tokens_details": { "cached_tokens": 4 } }),
            ),
        ]);
        assert_eq!(events.len(), 5);
        let calls: Vec<_> = done
            .message
            .tool_calls()
            .map(|(id, _, a)| (id.to_owned(), a.clone()))
            .collect();
        assert_eq!(
            calls,
            [
                ("call_a".to_owned(), json!({ "p": 1 })),
                ("call_b".to_owned(), json!({}))
            ]
        );
        assert_eq!(done.stop_reason, StopReason::ToolUse);
        assert_eq!(done.response_id.as_deref(), Some("resp_1"));
        assert_eq!(
            (done.usage.input, done.usage.cache_read, done.usage.output),
            (6, 4, 3)
        );
    }

    #[test]
    fn a_call_seen_only_when_done_is_still_kept() {
        let (events, done) = run(&[
            json!({ "type": "response.output_item.done", "item": {
                "type": "function_call", "id": "fc_z", "call_id": "call_z", "name": "now", "arguments": "{}"
            } }),
            completed(json!({ "input_tokens": 1, "output_tokens": 1 })),
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(done.message.tool_calls().count(), 1);
    }

    #[test]
    fn reasoning_summary_parts_are_set_apart() {
        let summary = |index: u64, delta: &str| json!({ "type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": index, "delta": delta });
        let (_, done) = run(&[
            summary(0, "First"),
            summary(0, " part."),
            summary(1, "Second."),
            json!({ "type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "Hi" }),
            completed(json!({ "input_tokens": 1, "output_tokens": 1 })),
        ]);
        assert_eq!(
            done.message.content,
            [
                ContentBlock::Thinking {
                    thinking: "First part.\n\nSecond.".to_owned(),
                    signature: None
                },
                ContentBlock::Text {
                    text: "Hi".to_owned()
                },
            ]
        );
        assert_eq!(done.stop_reason, StopReason::Stop);
    }

    #[test]
    fn incomplete_responses_stop_for_length_or_filtering() {
        let incomplete = |reason: &str| {
            json!({ "type": "response.incomplete", "response": {
                "id": "r", "status": "incomplete", "incomplete_details": { "reason": reason },
                "usage": { "input_tokens": 2, "output_tokens": 16 }
            } })
        };
        let (_, done) = run(&[incomplete("max_output_tokens")]);
        assert_eq!(done.stop_reason, StopReason::Length);
        assert_eq!(done.usage.output, 16);
        let (_, done) = run(&[incomplete("content_filter")]);
        assert_eq!(done.stop_reason, StopReason::ContentFilter);
    }

    #[test]
    fn failed_responses_and_error_events_are_classified() {
        let mut parser = parser();
        let mut out = VecDeque::new();
        let err = parser
            .handle(
                &json!({ "type": "response.failed", "response": { "id": "r", "status": "failed",
                    "error": { "code": "server_error", "message": "The model failed." } } })
                .to_string(),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(
            err,
            ProviderError::Server {
                status: 500,
                message: "The model failed.".to_owned()
            }
        );
        let err = parser
            .handle(
                r#"{"type":"error","code":"rate_limit_exceeded","message":"Slow down.","param":null,"sequence_number":3}"#,
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.kind(), "rate_limited");
        let err = parser
            .handle(
                r#"{"type":"error","code":"context_length_exceeded","message":"Too long."}"#,
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.kind(), "context_too_long");
        let err = parser
            .handle(
                r#"{"type":"response.failed","response":{"error":null}}"#,
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.kind(), "stream_broken");
        assert_eq!(
            parser.handle("{nope", &mut out).unwrap_err().kind(),
            "decode"
        );
    }
}

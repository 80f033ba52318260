//! The `/api/chat` answer: NDJSON lines to [`StreamEvent`]s.
//!
//! Each line is a chat response object: `{"model", "created_at", "message": {"role", "content",
//! "thinking", "tool_calls"}, "done": false}` while the answer streams, then one with
//! `"done": true`, `done_reason` (`stop`, `length`, `load`) and the counts `prompt_eval_count`
//! and `eval_count`. `content` and `thinking` are deltas; tool calls arrive whole (`{"function":
//! {"name", "arguments": {object}}}`), so a call streams as its start and one arguments
//! fragment. Ollama gives calls no id (newer versions may add one, which is kept), so calls get
//! a generated id. An `{"error": ...}` line means the runner failed. The body ending before the
//! `done` line is a broken answer.

use std::collections::VecDeque;
use std::sync::Arc;

use hearth_protocol::transcript::{StopReason, Usage};
use serde::Deserialize;
use serde_json::Value;

use super::errors;
use crate::assemble::Assembler;
use crate::call_ids;
use crate::call_stream::AnswerParser;
use crate::error::ProviderError;
use crate::provider::StreamEvent;
use crate::transport::Redactor;

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: u64,
    #[serde(default)]
    eval_count: u64,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

fn stop_reason(done_reason: &str) -> StopReason {
    match done_reason {
        "length" => StopReason::Length,
        _ => StopReason::Stop,
    }
}

/// The answer so far, built from lines.
#[derive(Debug)]
pub(super) struct LineParser {
    answer: Assembler,
    done: Option<(StopReason, Usage)>,
    /// The model as the request named it, for the `ollama pull` hint.
    model: String,
    model_ref: String,
    redactor: Arc<Redactor>,
}

impl LineParser {
    pub(super) fn new(model: String, model_ref: String, redactor: Arc<Redactor>) -> Self {
        Self {
            answer: Assembler::default(),
            done: None,
            model,
            model_ref,
            redactor,
        }
    }

    fn message(&mut self, message: WireMessage, out: &mut VecDeque<StreamEvent>) {
        if let Some(thinking) = message.thinking.filter(|t| !t.is_empty()) {
            out.push_back(self.answer.thinking(thinking));
        }
        if let Some(text) = message.content.filter(|t| !t.is_empty()) {
            out.push_back(self.answer.text(text));
        }
        for call in message.tool_calls.into_iter().flatten() {
            let id = call
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(call_ids::generate);
            let (slot, event) = self.answer.start_tool_call(id, call.function.name);
            out.push_back(event);
            let arguments = match call.function.arguments {
                None | Some(Value::Null) => "{}".to_owned(),
                // Some servers speaking this API send the arguments as JSON text.
                Some(Value::String(text)) => text,
                Some(object) => object.to_string(),
            };
            out.extend(self.answer.tool_call_arguments(slot, arguments));
        }
    }
}

impl AnswerParser for LineParser {
    fn handle(
        &mut self,
        frame: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, ProviderError> {
        let line: Line = serde_json::from_str(frame).map_err(|err| ProviderError::Decode {
            message: format!(
                "a stream line is not valid JSON ({err}): {}",
                self.redactor.scrub(frame)
            ),
        })?;
        if let Some(error) = &line.error {
            return Err(errors::from_stream(
                error,
                self.output_started(),
                &self.model,
                &self.redactor,
            ));
        }
        if let Some(message) = line.message {
            self.message(message, out);
        }
        if line.done {
            let usage = Usage {
                input: line.prompt_eval_count,
                output: line.eval_count,
                ..Usage::default()
            };
            let reason = stop_reason(line.done_reason.as_deref().unwrap_or("stop"));
            self.done = Some((reason, usage));
        }
        Ok(line.done)
    }

    fn finished(&self) -> bool {
        self.done.is_some()
    }

    fn output_started(&self) -> bool {
        self.answer.output_started()
    }

    fn complete(self) -> StreamEvent {
        let (stop_reason, usage) = self.done.unwrap_or((StopReason::Stop, Usage::default()));
        StreamEvent::Completed(self.answer.finish(stop_reason, usage, None, self.model_ref))
    }
}

#[cfg(test)]
mod tests {
    use hearth_protocol::transcript::ContentBlock;
    use serde_json::json;

    use super::*;

    fn parser() -> LineParser {
        LineParser::new(
            "qwen3".to_owned(),
            "o/qwen3".to_owned(),
            Arc::new(Redactor::default()),
        )
    }

    fn line(message: Value) -> String {
        json!({ "model": "qwen3", "created_at": "2025-05-27T22:54:57Z", "message": message, "done": false })
            .to_string()
    }

    #[test]
    fn thinking_text_calls_and_the_done_line() {
        let mut parser = parser();
        let mut out = VecDeque::new();
        for frame in [
            line(json!({ "role": "assistant", "content": "", "thinking": "Need weather." })),
            line(json!({ "role": "assistant", "content": "Checking" })),
            line(json!({ "role": "assistant", "content": "", "tool_calls": [
                { "function": { "name": "weather", "arguments": { "city": "Oslo" } } },
                { "function": { "index": 1, "name": "time", "arguments": "{\"tz\":\"CET\"}" } },
            ] })),
        ] {
            assert!(!parser.handle(&frame, &mut out).unwrap());
        }
        let done = json!({ "model": "qwen3", "message": { "role": "assistant", "content": "" }, "done": true, "done_reason": "stop", "prompt_eval_count": 26, "eval_count": 9 });
        assert!(parser.handle(&done.to_string(), &mut out).unwrap());
        assert!(parser.finished());
        let events: Vec<_> = out.into_iter().collect();
        assert_eq!(
            events[0],
            StreamEvent::ThinkingDelta("Need weather.".to_owned())
        );
        assert_eq!(events[1], StreamEvent::TextDelta("Checking".to_owned()));
        let StreamEvent::ToolCallStart { id, name } = &events[2] else {
            panic!("{events:?}")
        };
        assert!(id.starts_with("call_") && name == "weather");
        let StreamEvent::Completed(done) = parser.complete() else {
            panic!("not completed")
        };
        assert_eq!(done.stop_reason, StopReason::ToolUse);
        assert_eq!((done.usage.input, done.usage.output), (26, 9));
        assert_eq!(done.response_id, None);
        assert_eq!(
            done.message.content[2..]
                .iter()
                .map(|b| match b {
                    ContentBlock::ToolCall { arguments, .. } => arguments.clone(),
                    _ => Value::Null,
                })
                .collect::<Vec<_>>(),
            [json!({ "city": "Oslo" }), json!({ "tz": "CET" })]
        );
    }

    #[test]
    fn length_and_errors() {
        let mut lines = parser();
        let mut out = VecDeque::new();
        let done = json!({ "message": { "role": "assistant", "content": "cut" }, "done": true, "done_reason": "length" });
        assert!(lines.handle(&done.to_string(), &mut out).unwrap());
        let StreamEvent::Completed(done) = lines.complete() else {
            panic!("not completed")
        };
        assert_eq!(done.stop_reason, StopReason::Length);
        assert_eq!(done.message.plain_text(), "cut");

        let mut failing = parser();
        let err = failing
            .handle(
                r#"{"error":"model \"qwen3\" not found, try pulling it first"}"#,
                &mut out,
            )
            .unwrap_err();
        assert!(err.to_string().contains("ollama pull qwen3"), "{err}");
        assert_eq!(
            failing.handle("nope", &mut out).unwrap_err().kind(),
            "decode"
        );
    }
}

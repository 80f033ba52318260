//! The Chat Completions event stream: `chat.completion.chunk` objects to [`StreamEvent`]s.
//!
//! Each `data:` payload is parsed once into borrowed-where-possible structs that name only the
//! fields Hearth reads. Per chunk: `choices[0].delta.content` (text), `delta.reasoning_content` or
//! `delta.reasoning` (thinking, as DeepSeek, vLLM and OpenRouter send it), `delta.tool_calls[]`
//! (id and name in a call's first fragment, arguments in later ones, several calls told apart by
//! `index`), `finish_reason`, `usage` (in its own chunk with empty `choices` when
//! `stream_options.include_usage` is set) and an `{"error": ...}` object some servers send
//! mid-stream. `data: [DONE]` ends the answer; the connection ending before `[DONE]` and before
//! any `finish_reason` means the answer is incomplete.

use std::collections::VecDeque;
use std::sync::Arc;

use hearth_protocol::transcript::{StopReason, Usage};
use serde::Deserialize;
use serde_json::Value;

use super::errors;
use crate::assemble::Assembler;
use crate::call_stream::AnswerParser;
use crate::error::ProviderError;
use crate::provider::StreamEvent;
use crate::transport::Redactor;

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    id: Option<&'a str>,
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default, borrow)]
    finish_reason: Option<&'a str>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    /// DeepSeek's name for cached prompt tokens.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl WireUsage {
    /// OpenAI counts cached tokens inside `prompt_tokens`; Hearth counts them apart.
    fn to_usage(&self) -> Usage {
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .or(self.prompt_cache_hit_tokens)
            .unwrap_or(0);
        Usage {
            input: self.prompt_tokens.saturating_sub(cached),
            output: self.completion_tokens,
            cache_read: cached,
            cache_write: 0,
            cost: None,
        }
    }
}

fn stop_reason(finish_reason: &str) -> StopReason {
    match finish_reason {
        "length" => StopReason::Length,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        _ => StopReason::Stop,
    }
}

/// A tool call being streamed, found again by `index` (or by id for servers that omit it).
#[derive(Debug)]
struct OpenCall {
    index: Option<u64>,
    slot: usize,
}

/// The answer so far, built from chunks.
#[derive(Debug)]
pub(super) struct ChunkParser {
    answer: Assembler,
    calls: Vec<OpenCall>,
    stop_reason: Option<StopReason>,
    usage: Option<Usage>,
    response_id: Option<String>,
    model_ref: String,
    redactor: Arc<Redactor>,
}

impl ChunkParser {
    pub(super) fn new(model_ref: String, redactor: Arc<Redactor>) -> Self {
        Self {
            answer: Assembler::default(),
            calls: Vec::new(),
            stop_reason: None,
            usage: None,
            response_id: None,
            model_ref,
            redactor,
        }
    }

    fn delta(&mut self, delta: Delta, out: &mut VecDeque<StreamEvent>) {
        let thinking = delta
            .reasoning_content
            .filter(|t| !t.is_empty())
            .or(delta.reasoning);
        if let Some(thinking) = thinking.filter(|t| !t.is_empty()) {
            out.push_back(self.answer.thinking(thinking));
        }
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            out.push_back(self.answer.text(text));
        }
        for call in delta.tool_calls.into_iter().flatten() {
            let (name, arguments) = match call.function {
                Some(f) => (f.name, f.arguments),
                None => (None, None),
            };
            let slot = match self.find_call(call.index, call.id.as_deref()) {
                Some(slot) => {
                    if let Some(name) = name.as_deref().filter(|n| !n.is_empty()) {
                        self.answer.name_tool_call(slot, name);
                    }
                    slot
                }
                None => {
                    let id = call
                        .id
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| format!("call_{}", self.answer.tool_call_count()));
                    let (slot, event) = self.answer.start_tool_call(id, name.unwrap_or_default());
                    self.calls.push(OpenCall {
                        index: call.index,
                        slot,
                    });
                    out.push_back(event);
                    slot
                }
            };
            if let Some(arguments) = arguments.filter(|a| !a.is_empty()) {
                out.extend(self.answer.tool_call_arguments(slot, arguments));
            }
        }
    }

    fn find_call(&self, index: Option<u64>, id: Option<&str>) -> Option<usize> {
        let found = match (index, id) {
            (Some(index), _) => self.calls.iter().find(|c| c.index == Some(index)),
            (None, Some(id)) if !id.is_empty() => self
                .calls
                .iter()
                .find(|c| self.answer.tool_call_id(c.slot) == Some(id)),
            // Neither: a continuation of the call being streamed.
            (None, _) => self.calls.last(),
        };
        found.map(|c| c.slot)
    }
}

impl AnswerParser for ChunkParser {
    fn output_started(&self) -> bool {
        self.answer.output_started()
    }

    /// Handles one `data:` payload; true at `[DONE]`.
    fn handle(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, ProviderError> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Chunk<'_> = serde_json::from_str(data).map_err(|err| ProviderError::Decode {
            message: format!(
                "a stream chunk is not valid JSON ({err}): {}",
                self.redactor.scrub(data)
            ),
        })?;
        if let Some(error) = &chunk.error {
            return Err(errors::from_stream(
                error,
                self.output_started(),
                &self.redactor,
            ));
        }
        if self.response_id.is_none() {
            self.response_id = chunk.id.map(str::to_owned);
        }
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.to_usage());
        }
        for choice in chunk.choices {
            if choice.index != 0 {
                continue;
            }
            if let Some(delta) = choice.delta {
                self.delta(delta, out);
            }
            if let Some(reason) = choice.finish_reason {
                self.stop_reason = Some(stop_reason(reason));
            }
        }
        Ok(false)
    }

    /// Whether the answer reached its end (a finish reason), even if `[DONE]` never came.
    fn finished(&self) -> bool {
        self.stop_reason.is_some()
    }

    fn complete(self) -> StreamEvent {
        let usage = self.usage.unwrap_or_default();
        StreamEvent::Completed(self.answer.finish(
            self.stop_reason.unwrap_or(StopReason::Stop),
            usage,
            self.response_id,
            self.model_ref,
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use hearth_protocol::transcript::ContentBlock;

    fn run(chunks: &[Value]) -> (Vec<StreamEvent>, ChunkParser) {
        let mut parser = ChunkParser::new("p/m".to_owned(), Arc::new(Redactor::default()));
        let mut out = VecDeque::new();
        for chunk in chunks {
            assert!(!parser.handle(&chunk.to_string(), &mut out).unwrap());
        }
        assert!(parser.handle(" [DONE]", &mut out).unwrap());
        (out.into_iter().collect(), parser)
    }

    fn delta(delta: Value) -> Value {
        let mut chunk = json!({ "id": "r1", "choices": [{ "index": 0, "finish_reason": null }] });
        chunk["choices"][0]["delta"] = delta;
        chunk
    }

    #[test]
    fn interleaved_parallel_tool_calls_are_kept_apart_by_index() {
        let (events, parser) = run(&[
            delta(json!({ "tool_calls": [
                { "index": 0, "id": "a", "type": "function", "function": { "name": "read", "arguments": "" } },
                { "index": 1, "id": "b", "type": "function", "function": { "name": "ls", "arguments": "{\"d" } },
            ] })),
            delta(
                json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "{\"p\":" } }] }),
            ),
            delta(json!({ "tool_calls": [{ "index": 1, "function": { "arguments": "\":1}" } }] })),
            delta(json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "2}" } }] })),
            json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": "tool_calls" }] }),
        ]);
        assert_eq!(
            events[0],
            StreamEvent::ToolCallStart {
                id: "a".to_owned(),
                name: "read".to_owned()
            }
        );
        assert_eq!(
            events[1],
            StreamEvent::ToolCallStart {
                id: "b".to_owned(),
                name: "ls".to_owned()
            }
        );
        assert_eq!(events.len(), 6);
        let StreamEvent::Completed(done) = parser.complete() else {
            panic!("not completed")
        };
        let calls: Vec<_> = done
            .message
            .tool_calls()
            .map(|(id, _, a)| (id.to_owned(), a.clone()))
            .collect();
        assert_eq!(
            calls,
            [
                ("a".to_owned(), json!({ "p": 2 })),
                ("b".to_owned(), json!({ "d": 1 }))
            ]
        );
        assert_eq!(done.stop_reason, StopReason::ToolUse);
        assert_eq!(done.response_id.as_deref(), Some("r1"));
    }

    #[test]
    fn calls_without_index_are_told_apart_by_id() {
        let (_, parser) = run(&[
            delta(
                json!({ "tool_calls": [{ "id": "a", "function": { "name": "x", "arguments": "{}" } }] }),
            ),
            delta(
                json!({ "tool_calls": [{ "id": "b", "function": { "name": "y", "arguments": "{\"k\"" } }] }),
            ),
            delta(json!({ "tool_calls": [{ "function": { "arguments": ":0}" } }] })),
        ]);
        let StreamEvent::Completed(done) = parser.complete() else {
            panic!("not completed")
        };
        assert_eq!(
            done.message.content[1],
            ContentBlock::ToolCall {
                id: "b".to_owned(),
                name: "y".to_owned(),
                arguments: json!({ "k": 0 })
            }
        );
        assert_eq!(done.stop_reason, StopReason::ToolUse);
    }

    #[test]
    fn reasoning_field_variants_and_deepseek_cache_usage() {
        let (events, parser) = run(&[
            delta(json!({ "reasoning": "r1" })),
            delta(json!({ "reasoning_content": "r2", "reasoning": "r2" })),
            delta(json!({ "content": "" })),
            json!({ "choices": [], "usage": { "prompt_tokens": 10, "completion_tokens": 3, "prompt_cache_hit_tokens": 4 } }),
        ]);
        assert_eq!(
            events,
            [
                StreamEvent::ThinkingDelta("r1".to_owned()),
                StreamEvent::ThinkingDelta("r2".to_owned())
            ]
        );
        let StreamEvent::Completed(done) = parser.complete() else {
            panic!("not completed")
        };
        assert_eq!(
            (done.usage.input, done.usage.output, done.usage.cache_read),
            (6, 3, 4)
        );
        assert_eq!(done.message.usage, Some(done.usage));
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        assert_eq!(stop_reason("stop"), StopReason::Stop);
        assert_eq!(stop_reason("length"), StopReason::Length);
        assert_eq!(stop_reason("tool_calls"), StopReason::ToolUse);
        assert_eq!(stop_reason("content_filter"), StopReason::ContentFilter);
    }

    #[test]
    fn invalid_chunks_are_decode_errors() {
        let mut parser = ChunkParser::new("p/m".to_owned(), Arc::new(Redactor::default()));
        let err = parser.handle("{nope", &mut VecDeque::new()).unwrap_err();
        assert_eq!(err.kind(), "decode");
    }
}

//! The `streamGenerateContent?alt=sse` answer: `GenerateContentResponse` objects to
//! [`StreamEvent`]s.
//!
//! Each `data:` payload is a whole response object (<https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse>)
//! of which Hearth reads `candidates[0].content.parts[]`: `text` (a delta of the answer, or of
//! its thought summary when `thought` is true), `functionCall {id?, name, args}` (always whole,
//! so a call streams as its start and one arguments fragment) and `thoughtSignature` (on the
//! first call of a turn that calls tools, else on a last, often empty, text part);
//! `candidates[0].finishReason`; `usageMetadata`, repeated and growing, the last one counting;
//! `promptFeedback.blockReason` when the prompt itself was refused; `responseId`; and an
//! `{"error": ...}` object sent mid-stream. There is no end marker: the body ending after a
//! finish reason (or a blocked prompt) is the end, without one it is a broken answer.
//!
//! Gemini gives calls no id unless it wants one matched (it matches by name and order), so
//! calls without one get a generated id. The signature is kept on the message's thinking block
//! (an empty one when no summary was streamed) for `request` to put back.

use std::collections::VecDeque;
use std::sync::Arc;

use hearth_protocol::transcript::{ContentBlock, StopReason, Usage};
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
#[serde(rename_all = "camelCase")]
struct Chunk {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    response_id: Option<String>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<WirePart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePart {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: bool,
    #[serde(default)]
    function_call: Option<WireFunctionCall>,
    #[serde(default)]
    thought_signature: Option<String>,
}

#[derive(Deserialize)]
struct WireFunctionCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    args: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
}

impl UsageMetadata {
    /// Gemini counts cached tokens inside the prompt and thoughts apart from the answer; Hearth
    /// counts cached input apart and thoughts as output (they are billed as output).
    fn to_usage(&self) -> Usage {
        Usage {
            input: self
                .prompt_token_count
                .saturating_sub(self.cached_content_token_count),
            output: self.candidates_token_count + self.thoughts_token_count,
            cache_read: self.cached_content_token_count,
            cache_write: 0,
            cost: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

pub(super) fn stop_reason(finish_reason: &str) -> StopReason {
    match finish_reason {
        "MAX_TOKENS" => StopReason::Length,
        "SAFETY" | "RECITATION" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII" | "IMAGE_SAFETY" => {
            StopReason::ContentFilter
        }
        // The model wrote a call that is not valid; there is no answer to use.
        "MALFORMED_FUNCTION_CALL" => StopReason::Error,
        _ => StopReason::Stop,
    }
}

/// The answer so far, built from response objects.
#[derive(Debug)]
pub(super) struct ResponseParser {
    answer: Assembler,
    stop_reason: Option<StopReason>,
    usage: Option<Usage>,
    response_id: Option<String>,
    /// The signature on the turn's first call, which is the one Gemini needs back.
    call_signature: Option<String>,
    /// The last signature on any other part, for a turn without calls.
    other_signature: Option<String>,
    model_ref: String,
    redactor: Arc<Redactor>,
}

impl ResponseParser {
    pub(super) fn new(model_ref: String, redactor: Arc<Redactor>) -> Self {
        Self {
            answer: Assembler::default(),
            stop_reason: None,
            usage: None,
            response_id: None,
            call_signature: None,
            other_signature: None,
            model_ref,
            redactor,
        }
    }

    fn part(&mut self, part: WirePart, out: &mut VecDeque<StreamEvent>) {
        if let Some(call) = part.function_call {
            if let Some(signature) = part.thought_signature.filter(|s| !s.is_empty()) {
                self.call_signature.get_or_insert(signature);
            }
            let id = call
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(call_ids::generate);
            let (slot, event) = self.answer.start_tool_call(id, call.name);
            out.push_back(event);
            let arguments = call
                .args
                .filter(|a| !a.is_null())
                .map_or_else(|| "{}".to_owned(), |a| a.to_string());
            out.extend(self.answer.tool_call_arguments(slot, arguments));
            return;
        }
        if let Some(signature) = part.thought_signature.filter(|s| !s.is_empty()) {
            self.other_signature = Some(signature);
        }
        match part.text.filter(|t| !t.is_empty()) {
            Some(text) if part.thought => out.push_back(self.answer.thinking(text)),
            Some(text) => out.push_back(self.answer.text(text)),
            None => {}
        }
    }
}

impl AnswerParser for ResponseParser {
    fn handle(
        &mut self,
        frame: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, ProviderError> {
        let frame = frame.trim();
        if frame.is_empty() {
            return Ok(false);
        }
        let chunk: Chunk = serde_json::from_str(frame).map_err(|err| ProviderError::Decode {
            message: format!(
                "a stream chunk is not valid JSON ({err}): {}",
                self.redactor.scrub(frame)
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
            self.response_id = chunk.response_id;
        }
        if let Some(usage) = &chunk.usage_metadata {
            self.usage = Some(usage.to_usage());
        }
        if chunk.prompt_feedback.and_then(|f| f.block_reason).is_some() {
            self.stop_reason = Some(StopReason::ContentFilter);
        }
        for candidate in chunk.candidates {
            if candidate.index != 0 {
                continue;
            }
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                self.part(part, out);
            }
            if let Some(reason) = candidate.finish_reason {
                self.stop_reason = Some(stop_reason(&reason));
            }
        }
        Ok(false)
    }

    fn finished(&self) -> bool {
        self.stop_reason.is_some()
    }

    fn output_started(&self) -> bool {
        self.answer.output_started()
    }

    fn complete(self) -> StreamEvent {
        let signature = self.call_signature.or(self.other_signature);
        let mut completion = self.answer.finish(
            self.stop_reason.unwrap_or(StopReason::Stop),
            self.usage.unwrap_or_default(),
            self.response_id,
            self.model_ref,
        );
        if let Some(signature) = signature {
            let content = &mut completion.message.content;
            match content.first_mut() {
                Some(ContentBlock::Thinking {
                    signature: slot, ..
                }) => *slot = Some(signature),
                _ => content.insert(
                    0,
                    ContentBlock::Thinking {
                        thinking: String::new(),
                        signature: Some(signature),
                    },
                ),
            }
        }
        StreamEvent::Completed(completion)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(chunks: &[Value]) -> (Vec<StreamEvent>, ResponseParser) {
        let mut parser = ResponseParser::new("g/m".to_owned(), Arc::new(Redactor::default()));
        let mut out = VecDeque::new();
        for chunk in chunks {
            assert!(!parser.handle(&chunk.to_string(), &mut out).unwrap());
        }
        (out.into_iter().collect(), parser)
    }

    fn parts(parts: Value) -> Value {
        json!({ "candidates": [{ "content": { "role": "model", "parts": parts }, "index": 0 }] })
    }

    fn completed(parser: ResponseParser) -> crate::Completion {
        match parser.complete() {
            StreamEvent::Completed(done) => *done,
            other => panic!("not completed: {other:?}"),
        }
    }

    #[test]
    fn thoughts_text_and_a_trailing_signature() {
        let (events, parser) = run(&[
            parts(json!([{ "text": "Pondering", "thought": true }])),
            parts(json!([{ "text": "Hi" }])),
            json!({
                "candidates": [{ "content": { "parts": [{ "text": "", "thoughtSignature": "c2ln" }] }, "finishReason": "STOP" }],
                "usageMetadata": { "promptTokenCount": 10, "candidatesTokenCount": 2, "thoughtsTokenCount": 5, "cachedContentTokenCount": 4 },
                "responseId": "resp-1",
            }),
        ]);
        assert_eq!(
            events,
            [
                StreamEvent::ThinkingDelta("Pondering".to_owned()),
                StreamEvent::TextDelta("Hi".to_owned())
            ]
        );
        assert!(parser.finished());
        let done = completed(parser);
        assert_eq!(
            done.message.content,
            [
                ContentBlock::Thinking {
                    thinking: "Pondering".to_owned(),
                    signature: Some("c2ln".to_owned())
                },
                ContentBlock::Text {
                    text: "Hi".to_owned()
                }
            ]
        );
        assert_eq!(
            (done.usage.input, done.usage.cache_read, done.usage.output),
            (6, 4, 7)
        );
        assert_eq!(done.response_id.as_deref(), Some("resp-1"));
        assert_eq!(done.stop_reason, StopReason::Stop);
    }

    #[test]
    fn whole_calls_get_ids_and_keep_the_first_signature() {
        let (events, parser) = run(&[json!({
            "candidates": [{ "content": { "parts": [
                { "functionCall": { "name": "read", "args": { "p": 1 } }, "thoughtSignature": "first" },
                { "functionCall": { "id": "given", "name": "ls" } },
            ] }, "finishReason": "STOP" }],
        })]);
        let StreamEvent::ToolCallStart {
            id: generated,
            name,
        } = &events[0]
        else {
            panic!("{events:?}")
        };
        assert!(generated.starts_with("call_") && name == "read");
        assert_eq!(
            events[1],
            StreamEvent::ToolCallDelta {
                id: generated.clone(),
                arguments_delta: "{\"p\":1}".to_owned()
            }
        );
        assert_eq!(
            events[2],
            StreamEvent::ToolCallStart {
                id: "given".to_owned(),
                name: "ls".to_owned()
            }
        );
        let done = completed(parser);
        assert_eq!(done.stop_reason, StopReason::ToolUse);
        assert_eq!(
            done.message.content[0],
            ContentBlock::Thinking {
                thinking: String::new(),
                signature: Some("first".to_owned())
            }
        );
        let calls: Vec<_> = done
            .message
            .tool_calls()
            .map(|(_, name, args)| (name.to_owned(), args.clone()))
            .collect();
        assert_eq!(
            calls,
            [
                ("read".to_owned(), json!({ "p": 1 })),
                ("ls".to_owned(), json!({}))
            ]
        );
    }

    #[test]
    fn a_blocked_prompt_finishes_as_filtered() {
        let (events, parser) = run(&[json!({
            "promptFeedback": { "blockReason": "PROHIBITED_CONTENT" },
            "usageMetadata": { "promptTokenCount": 8 },
        })]);
        assert!(events.is_empty());
        assert!(parser.finished() && !parser.output_started());
        let done = completed(parser);
        assert_eq!(done.stop_reason, StopReason::ContentFilter);
        assert!(done.message.content.is_empty());
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        assert_eq!(stop_reason("STOP"), StopReason::Stop);
        assert_eq!(stop_reason("MAX_TOKENS"), StopReason::Length);
        for filtered in ["SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST"] {
            assert_eq!(stop_reason(filtered), StopReason::ContentFilter);
        }
        assert_eq!(stop_reason("OTHER"), StopReason::Stop);
    }

    #[test]
    fn errors_and_garbage_in_the_stream() {
        let mut parser = ResponseParser::new("g/m".to_owned(), Arc::new(Redactor::default()));
        let mut out = VecDeque::new();
        let err = parser.handle("{nope", &mut out).unwrap_err();
        assert_eq!(err.kind(), "decode");
        let err = parser
            .handle(
                r#"{"error":{"code":500,"message":"boom","status":"INTERNAL"}}"#,
                &mut out,
            )
            .unwrap_err();
        assert_eq!(
            err,
            ProviderError::Server {
                status: 500,
                message: "boom".to_owned()
            }
        );
    }
}

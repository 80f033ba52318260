//! The life of one streamed answer, for API kinds whose parsers take one whole frame at a time.
//!
//! A [`Framing`] (SSE events from `sse`, lines from `ndjson`) cuts the body into frames; an
//! [`AnswerParser`] (the vendor module's) turns each frame into [`StreamEvent`]s. This loop sits
//! between them and owns everything that does not depend on the vendor: reading the body under
//! the call's deadlines (`transport::BodyReader`), cancellation, a body that ends early or
//! breaks, and ending the stream after the completion or the first error. No task is spawned:
//! the consumer's polls drive it.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::error::ProviderError;
use crate::ndjson::NdjsonDecoder;
use crate::provider::{EventStream, StreamEvent};
use crate::sse::SseDecoder;
use crate::transport::{BodyReader, ReadError, Redactor, error_chain};

/// Cuts a body into frames.
pub(crate) trait Framing: Send + 'static {
    fn push(&mut self, chunk: &[u8]);
    /// The body ended; a last frame without its terminator still counts.
    fn end_of_input(&mut self);
    /// The next complete frame, if the bytes pushed so far contain one.
    fn next_frame(&mut self) -> Option<String>;
}

/// SSE: a frame is an event's `data`.
impl Framing for SseDecoder {
    fn push(&mut self, chunk: &[u8]) {
        SseDecoder::push(self, chunk);
    }

    fn end_of_input(&mut self) {
        SseDecoder::end_of_input(self);
    }

    fn next_frame(&mut self) -> Option<String> {
        self.next_event().map(|event| event.data)
    }
}

/// NDJSON: a frame is a non-blank line.
impl Framing for NdjsonDecoder {
    fn push(&mut self, chunk: &[u8]) {
        NdjsonDecoder::push(self, chunk);
    }

    fn end_of_input(&mut self) {
        NdjsonDecoder::end_of_input(self);
    }

    fn next_frame(&mut self) -> Option<String> {
        self.next_line()
    }
}

/// A vendor's reading of its frames: the answer so far.
pub(crate) trait AnswerParser: Send + 'static {
    /// Handles one frame, queueing what it streamed; true when the frame ends the answer.
    fn handle(
        &mut self,
        frame: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, ProviderError>;

    /// Whether the answer reached its end, so a body ending (or breaking) now loses nothing.
    fn finished(&self) -> bool;

    /// Whether anything of the answer has been streamed (a retry would repeat it).
    fn output_started(&self) -> bool;

    /// The final event, [`StreamEvent::Completed`].
    fn complete(self) -> StreamEvent;
}

/// The id a provider gave the request: Anthropic sends `request-id`, OpenAI and most
/// compatible servers `x-request-id`.
fn request_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    ["request-id", "x-request-id"]
        .into_iter()
        .filter_map(|name| headers.get(name)?.to_str().ok())
        .map(str::trim)
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}

struct CallStream<F, P> {
    reader: BodyReader,
    /// The response's request id header, copied into the completion.
    request_id: Option<String>,
    framing: F,
    parser: Option<P>,
    pending: VecDeque<StreamEvent>,
    body_ended: bool,
    redactor: Arc<Redactor>,
}

/// The events of the answer in `reader`'s body.
pub(crate) fn events<F: Framing, P: AnswerParser>(
    reader: BodyReader,
    framing: F,
    parser: P,
    redactor: Arc<Redactor>,
) -> EventStream {
    let request_id = request_id(reader.headers());
    let state = CallStream {
        reader,
        request_id,
        framing,
        parser: Some(parser),
        pending: VecDeque::new(),
        body_ended: false,
        redactor,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        },
    ))
}

impl<F: Framing, P: AnswerParser> CallStream<F, P> {
    async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        loop {
            if self.reader.is_cancelled() && (self.parser.is_some() || !self.pending.is_empty()) {
                return self.fail(ProviderError::Cancelled);
            }
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            let parser = self.parser.as_mut()?;
            if let Some(frame) = self.framing.next_frame() {
                match parser.handle(&frame, &mut self.pending) {
                    Ok(false) => {}
                    Ok(true) => self.finish(),
                    Err(err) => return self.fail(err),
                }
                continue;
            }
            if self.body_ended {
                if parser.finished() {
                    self.finish();
                    continue;
                }
                let output_started = parser.output_started();
                return self.fail(ProviderError::StreamBroken {
                    message: "the connection closed before the answer finished".to_owned(),
                    output_started,
                });
            }
            match self.reader.next().await {
                Ok(Some(bytes)) => self.framing.push(&bytes),
                Ok(None) => {
                    self.framing.end_of_input();
                    self.body_ended = true;
                }
                Err(ReadError::Cancelled) => return self.fail(ProviderError::Cancelled),
                Err(ReadError::Timeout(phase)) => {
                    return self.fail(ProviderError::Timeout { phase });
                }
                Err(ReadError::Transport(err)) => {
                    if parser.finished() {
                        // Only trailing bytes were lost; the answer itself is whole.
                        self.framing.end_of_input();
                        self.body_ended = true;
                        continue;
                    }
                    let output_started = parser.output_started();
                    let message = self.redactor.scrub(&error_chain(&err));
                    return self.fail(ProviderError::StreamBroken {
                        message,
                        output_started,
                    });
                }
            }
        }
    }

    /// Queues the completion; the stream ends after it.
    fn finish(&mut self) {
        if let Some(parser) = self.parser.take() {
            let mut done = parser.complete();
            if let StreamEvent::Completed(completion) = &mut done {
                completion.request_id = self.request_id.take();
            }
            self.pending.push_back(done);
        }
    }

    /// Ends the stream with `err`, dropping anything not yet delivered.
    fn fail(&mut self, err: ProviderError) -> Option<Result<StreamEvent, ProviderError>> {
        self.parser = None;
        self.pending.clear();
        Some(Err(err))
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::request_id;

    #[test]
    fn the_request_id_comes_from_either_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_id(&headers), None);
        headers.insert("x-request-id", HeaderValue::from_static("req_openai"));
        assert_eq!(request_id(&headers).as_deref(), Some("req_openai"));
        headers.insert("request-id", HeaderValue::from_static("req_anthropic"));
        assert_eq!(request_id(&headers).as_deref(), Some("req_anthropic"));
        headers.insert("request-id", HeaderValue::from_static(" "));
        assert_eq!(request_id(&headers).as_deref(), Some("req_openai"));
    }
}

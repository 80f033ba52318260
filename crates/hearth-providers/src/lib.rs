//! LLM provider clients behind one streaming trait.
//!
//! Hearth never runs a model: it sends each model call to a provider over the provider's own
//! wire protocol. The agent loop (in `hearth-core`) sees only [`Provider`]: a [`ModelRequest`]
//! built from the provider-neutral transcript (`hearth_protocol::transcript`) goes in, a stream
//! of [`StreamEvent`]s ending in a [`Completion`] comes out, and failures arrive as a classified
//! [`ProviderError`] it can retry or fall back on.
//!
//! Layout: one module per API kind (`openai_completions`, later `anthropic_messages`, ...), each
//! registered by one line in [`build`]; shared plumbing beside them: `transport` (HTTP client,
//! deadlines, cancellation, `Retry-After`, secret scrubbing), `sse` (event-stream decoding) and
//! `assemble` (streamed pieces to the final assistant message).

mod assemble;
mod cost;
mod error;
mod openai_completions;
mod provider;
mod sse;
mod transport;

use std::sync::Arc;

use hearth_config::ApiKind;

pub use cost::cost_of;
pub use error::{ProviderError, TimeoutPhase};
pub use provider::{
    Completion, EventStream, ModelRequest, Provider, ProviderSettings, StreamEvent, Timeouts,
    ToolSpec,
};
pub use transport::http_client;

/// The client for `settings.api`, sharing `client`'s connection pool.
pub fn build(
    settings: ProviderSettings,
    client: reqwest::Client,
) -> Result<Arc<dyn Provider>, ProviderError> {
    match settings.api {
        ApiKind::OpenaiCompletions => Ok(Arc::new(openai_completions::OpenAiCompletions::new(
            settings, client,
        )?)),
        api @ (ApiKind::OpenaiResponses
        | ApiKind::AnthropicMessages
        | ApiKind::GoogleGenerativeAi
        | ApiKind::Ollama) => Err(ProviderError::Unsupported { api }),
    }
}

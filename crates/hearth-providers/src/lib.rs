//! LLM provider clients behind one streaming trait.
//!
//! Hearth never runs a model: it sends each model call to a provider over the provider's own
//! wire protocol. The agent loop (in `hearth-core`) sees only [`Provider`]: a [`ModelRequest`]
//! built from the provider-neutral transcript (`hearth_protocol::transcript`) goes in, a stream
//! of [`StreamEvent`]s ending in a [`Completion`] comes out, and failures arrive as a classified
//! [`ProviderError`] it can retry or fall back on. [`Provider::list_models`] asks the provider
//! which models it serves ([`RemoteModel`]), to test a configured provider live.
//!
//! Layout: one module per API kind (`openai_completions`, `openai_responses`,
//! `anthropic_messages`, `google_generative_ai`, `ollama`), each registered by one line in
//! [`build`]; shared plumbing beside them: `endpoint` (baseUrl and headers, sending a call up to
//! its streamed answer), `transport` (HTTP client, deadlines, cancellation, `Retry-After`, secret
//! scrubbing), `call_stream` (the streaming loop over a framed body), `sse` and `ndjson` (body
//! framing), `assemble` (streamed pieces to the final assistant message), `call_ids` (tool-call
//! ids for APIs that give none) and `models` (what every model listing shares).

mod anthropic_messages;
mod assemble;
mod call_ids;
mod call_stream;
mod cost;
mod endpoint;
mod error;
mod google_generative_ai;
mod models;
mod ndjson;
mod ollama;
mod openai_completions;
mod openai_responses;
mod provider;
mod sse;
mod transport;

use std::sync::Arc;

use hearth_config::ApiKind;

pub use cost::cost_of;
pub use error::{ProviderError, TimeoutPhase};
pub use models::RemoteModel;
pub use provider::{
    Completion, EventStream, ModelRequest, Provider, ProviderSettings, StreamEvent, Timeouts,
    ToolSpec,
};
pub use transport::{http_client, http_client_with};

/// The client for `settings.api`, sharing `client`'s connection pool.
pub fn build(
    settings: ProviderSettings,
    client: reqwest::Client,
) -> Result<Arc<dyn Provider>, ProviderError> {
    match settings.api {
        ApiKind::OpenaiCompletions => Ok(Arc::new(openai_completions::OpenAiCompletions::new(
            settings, client,
        )?)),
        ApiKind::GoogleGenerativeAi => Ok(Arc::new(google_generative_ai::GoogleGenerativeAi::new(
            settings, client,
        )?)),
        ApiKind::Ollama => Ok(Arc::new(ollama::Ollama::new(settings, client)?)),
        ApiKind::AnthropicMessages => Ok(Arc::new(anthropic_messages::AnthropicMessages::new(
            settings, client,
        )?)),
        ApiKind::OpenaiResponses => Ok(Arc::new(openai_responses::OpenAiResponses::new(
            settings, client,
        )?)),
    }
}

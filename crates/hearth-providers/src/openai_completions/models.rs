//! The model list of OpenAI and compatible servers: `GET {baseUrl}/models` answering
//! `{"object": "list", "data": [{"id", ...}]}` (<https://platform.openai.com/docs/api-reference/models/list>).
//! `openai_responses` shares it: both APIs live under the same baseUrl.
//!
//! Compatible servers add what they know: OpenRouter `name` and `context_length`, Groq
//! `context_window`, vLLM `max_model_len`, Together a bare array with `display_name`. Each is
//! read when present. There are no pages.

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::endpoint::{Api, Endpoint};
use crate::error::ProviderError;
use crate::models::{self, RemoteModel, text};

pub(crate) async fn list(
    endpoint: &Endpoint,
    api: &Api,
    cancel: CancellationToken,
) -> Result<Vec<RemoteModel>, ProviderError> {
    let url = endpoint.listing_url(|base| format!("{base}/models"))?;
    let document = endpoint.get_json(url, &cancel, api).await?;
    parse(&document).map(models::sorted)
}

fn parse(document: &Value) -> Result<Vec<RemoteModel>, ProviderError> {
    let data = match document {
        Value::Array(data) => data,
        other => other["data"]
            .as_array()
            .ok_or_else(|| models::unexpected("`data` array"))?,
    };
    Ok(data
        .iter()
        .filter_map(|entry| {
            Some(RemoteModel {
                id: text(&entry["id"])?,
                name: text(&entry["name"]).or_else(|| text(&entry["display_name"])),
                context_window: ["context_length", "context_window", "max_model_len"]
                    .iter()
                    .find_map(|field| entry[field].as_u64()),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn openai_openrouter_and_bare_lists_are_read() {
        let openai = json!({ "object": "list", "data": [
            { "id": "gpt-4o", "object": "model", "created": 1, "owned_by": "system" },
        ] });
        assert_eq!(parse(&openai).unwrap(), [RemoteModel::new("gpt-4o")]);
        let openrouter = json!({ "data": [{
            "id": "anthropic/claude-sonnet-4.5",
            "name": "Anthropic: Claude Sonnet 4.5",
            "context_length": 1_000_000,
        }] });
        assert_eq!(
            parse(&openrouter).unwrap(),
            [RemoteModel {
                id: "anthropic/claude-sonnet-4.5".to_owned(),
                name: Some("Anthropic: Claude Sonnet 4.5".to_owned()),
                context_window: Some(1_000_000),
            }]
        );
        let together = json!([{ "id": "m", "display_name": "M", "context_length": 8192 }, { "object": "model" }]);
        assert_eq!(
            parse(&together).unwrap(),
            [RemoteModel {
                id: "m".to_owned(),
                name: Some("M".to_owned()),
                context_window: Some(8192),
            }]
        );
        assert_eq!(
            parse(&json!({ "models": [] })).unwrap_err().kind(),
            "decode"
        );
    }
}

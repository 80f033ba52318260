//! Ollama's model list: the pulled models, `GET {baseUrl}/api/tags` (a baseUrl ending in `/api`
//! accepted, as for a call), answering `{"models": [{"name", "model", "details", ...}]}`
//! (<https://github.com/ollama/ollama/blob/main/docs/api.md#list-local-models>). Names carry
//! their tag (`llama3.2:latest`), which is how a call may name them too. There are no pages,
//! and the list says nothing of context windows.

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
    let url = endpoint.listing_url(|base| {
        let root = base.strip_suffix("/api").unwrap_or(base);
        format!("{root}/api/tags")
    })?;
    let document = endpoint.get_json(url, &cancel, api).await?;
    parse(&document).map(models::sorted)
}

fn parse(document: &Value) -> Result<Vec<RemoteModel>, ProviderError> {
    // A missing or `null` list is an empty one.
    let entries = match &document["models"] {
        Value::Null if document.is_object() => &[][..],
        other => other
            .as_array()
            .ok_or_else(|| models::unexpected("`models` array"))?,
    };
    Ok(entries
        .iter()
        .filter_map(|entry| text(&entry["name"]).or_else(|| text(&entry["model"])))
        .map(RemoteModel::new)
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pulled_models_are_listed_by_name_with_their_tag() {
        let models = parse(&json!({ "models": [
            { "name": "qwen3:latest", "model": "qwen3:latest", "details": { "family": "qwen3" } },
            { "model": "llava:7b" },
        ] }))
        .unwrap();
        assert_eq!(
            models,
            [
                RemoteModel::new("qwen3:latest"),
                RemoteModel::new("llava:7b")
            ]
        );
        assert!(parse(&json!({ "models": null })).unwrap().is_empty());
        assert_eq!(parse(&json!([])).unwrap_err().kind(), "decode");
    }
}

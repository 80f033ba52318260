//! The Gemini API's model list: `GET {baseUrl}/models` (so `…/v1beta/models`, keeping any query
//! of the baseUrl, the key in its header as for a call), answering `{"models": [{"name":
//! "models/…", "displayName", "inputTokenLimit", "supportedGenerationMethods"}],
//! "nextPageToken"}` (<https://ai.google.dev/api/models#method:-models.list>).
//!
//! The list holds embedding and other models a chat cannot use: only those supporting
//! `generateContent` are kept (or, from a gateway that leaves the methods out, all). Ids lose
//! the `models/` prefix, since a call adds it. Pages are followed with `pageToken` while a
//! `nextPageToken` comes back, asking for the largest page the API allows.

use reqwest::Url;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::endpoint::{Api, Endpoint};
use crate::error::ProviderError;
use crate::models::{self, Page, RemoteModel, text};

/// The largest `pageSize` the API takes.
const PAGE_SIZE: &str = "1000";

pub(crate) async fn list(
    endpoint: &Endpoint,
    api: &Api,
    cancel: CancellationToken,
) -> Result<Vec<RemoteModel>, ProviderError> {
    models::list_paged(
        endpoint,
        api,
        &cancel,
        |token| page_url(&endpoint.url, token),
        parse,
    )
    .await
}

/// `{base}/models?pageSize=1000[&pageToken=…]`, keeping any query of the base.
fn page_url(base: &Url, token: Option<&str>) -> Result<Url, ProviderError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| ProviderError::Config {
            message: "baseUrl cannot take a path".to_owned(),
        })?
        .pop_if_empty()
        .push("models");
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("pageSize", PAGE_SIZE);
        if let Some(token) = token {
            query.append_pair("pageToken", token);
        }
    }
    Ok(url)
}

fn parse(document: &Value) -> Result<Page, ProviderError> {
    // An empty list comes back without the member.
    let entries = match &document["models"] {
        Value::Null => &[][..],
        other => other
            .as_array()
            .ok_or_else(|| models::unexpected("`models` array"))?,
    };
    let models = entries
        .iter()
        .filter(|entry| generates_content(entry))
        .filter_map(|entry| {
            let name = text(&entry["name"])?;
            Some(RemoteModel {
                id: name.strip_prefix("models/").unwrap_or(&name).to_owned(),
                name: text(&entry["displayName"]),
                context_window: entry["inputTokenLimit"].as_u64(),
            })
        })
        .collect();
    Ok(Page {
        models,
        next: text(&document["nextPageToken"]),
    })
}

fn generates_content(entry: &Value) -> bool {
    match entry["supportedGenerationMethods"].as_array() {
        Some(methods) => methods.iter().any(|m| m == "generateContent"),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_models_that_generate_content_are_kept_without_their_prefix() {
        let page = parse(&json!({
            "models": [
                {
                    "name": "models/gemini-2.5-flash",
                    "displayName": "Gemini 2.5 Flash",
                    "inputTokenLimit": 1_048_576,
                    "supportedGenerationMethods": ["generateContent", "countTokens"],
                },
                {
                    "name": "models/text-embedding-004",
                    "displayName": "Text Embedding 004",
                    "supportedGenerationMethods": ["embedContent"],
                },
                { "name": "models/gateway-model" },
            ],
            "nextPageToken": "Ch9tb2RlbHM",
        }))
        .unwrap();
        assert_eq!(
            page.models,
            [
                RemoteModel {
                    id: "gemini-2.5-flash".to_owned(),
                    name: Some("Gemini 2.5 Flash".to_owned()),
                    context_window: Some(1_048_576),
                },
                RemoteModel::new("gateway-model"),
            ]
        );
        assert_eq!(page.next.as_deref(), Some("Ch9tb2RlbHM"));
        let empty = parse(&json!({})).unwrap();
        assert!(empty.models.is_empty() && empty.next.is_none());
        assert_eq!(parse(&json!({ "models": 3 })).unwrap_err().kind(), "decode");
    }

    #[test]
    fn page_urls_keep_the_base_query() {
        let base = Url::parse("https://gw.example/google/v1beta/?tenant=a").unwrap();
        assert_eq!(
            page_url(&base, Some("t/1")).unwrap().as_str(),
            "https://gw.example/google/v1beta/models?tenant=a&pageSize=1000&pageToken=t%2F1"
        );
    }
}

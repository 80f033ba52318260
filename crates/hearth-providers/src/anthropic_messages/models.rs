//! Anthropic's model list: `GET {baseUrl}/models` (the baseUrl the messages call uses, so
//! `…/v1/models`), answering `{"data": [{"id", "display_name", ...}], "has_more", "first_id",
//! "last_id"}` (<https://docs.anthropic.com/en/api/models-list>). Pages are followed with
//! `after_id={last_id}` while `has_more`, asking for the largest page the API allows.

use reqwest::Url;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::endpoint::{Api, Endpoint};
use crate::error::ProviderError;
use crate::models::{self, Page, RemoteModel, text};

/// The largest `limit` the API takes.
const PAGE_SIZE: &str = "1000";

pub(crate) async fn list(
    endpoint: &Endpoint,
    api: &Api,
    cancel: CancellationToken,
) -> Result<Vec<RemoteModel>, ProviderError> {
    let first = endpoint.listing_url(|base| format!("{base}/models"))?;
    models::list_paged(
        endpoint,
        api,
        &cancel,
        |after| Ok(page_url(&first, after)),
        parse,
    )
    .await
}

fn page_url(first: &Url, after: Option<&str>) -> Url {
    let mut url = first.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("limit", PAGE_SIZE);
        if let Some(after) = after {
            query.append_pair("after_id", after);
        }
    }
    url
}

fn parse(document: &Value) -> Result<Page, ProviderError> {
    let data = document["data"]
        .as_array()
        .ok_or_else(|| models::unexpected("`data` array"))?;
    let models = data
        .iter()
        .filter_map(|entry| {
            Some(RemoteModel {
                id: text(&entry["id"])?,
                name: text(&entry["display_name"]),
                context_window: None,
            })
        })
        .collect();
    let next = if document["has_more"].as_bool() == Some(true) {
        text(&document["last_id"])
    } else {
        None
    };
    Ok(Page { models, next })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_page_names_the_next_one_only_when_there_is_more() {
        let page = parse(&json!({
            "data": [{ "type": "model", "id": "claude-opus-4-1", "display_name": "Claude Opus 4.1", "created_at": "2025-08-05T00:00:00Z" }],
            "has_more": true,
            "first_id": "claude-opus-4-1",
            "last_id": "claude-opus-4-1",
        }))
        .unwrap();
        assert_eq!(page.next.as_deref(), Some("claude-opus-4-1"));
        assert_eq!(page.models[0].name.as_deref(), Some("Claude Opus 4.1"));
        let last = parse(&json!({ "data": [], "has_more": false, "last_id": null })).unwrap();
        assert_eq!(last.next, None);
    }

    #[test]
    fn page_urls_ask_for_the_largest_page_after_the_last_id() {
        let first = Url::parse("https://gw.example/v1/models").unwrap();
        assert_eq!(
            page_url(&first, Some("claude-x")).as_str(),
            "https://gw.example/v1/models?limit=1000&after_id=claude-x"
        );
    }
}

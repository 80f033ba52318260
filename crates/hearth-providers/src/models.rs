//! [`RemoteModel`]: one model a provider says it serves, from [`crate::Provider::list_models`].
//!
//! Each API kind reads its own listing endpoint in its `models` module (over
//! `Endpoint::get_json`, so the key, headers, proxy, timeouts and error mapping are those of a
//! model call); what they share is here: the result's shape, the page limit for APIs that page,
//! and the final order.

use reqwest::Url;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::endpoint::{Api, Endpoint};
use crate::error::ProviderError;

/// Pages followed for APIs that page their list; a provider with more models than fit in
/// this many pages of the largest size it allows is listed in part, not waited on.
pub(crate) const MAX_PAGES: usize = 5;

/// One page of a paged list.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) models: Vec<RemoteModel>,
    /// The cursor of the next page, if there is one.
    pub(crate) next: Option<String>,
}

/// Follows a paged list: `page_url` makes the URL for a cursor (`None` for the first page),
/// `parse` reads one page. Stops when no next cursor comes back, when one repeats, or at
/// [`MAX_PAGES`].
pub(crate) async fn list_paged(
    endpoint: &Endpoint,
    api: &Api,
    cancel: &CancellationToken,
    page_url: impl Fn(Option<&str>) -> Result<Url, ProviderError>,
    parse: fn(&Value) -> Result<Page, ProviderError>,
) -> Result<Vec<RemoteModel>, ProviderError> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let document = endpoint
            .get_json(page_url(cursor.as_deref())?, cancel, api)
            .await?;
        let page = parse(&document)?;
        found.extend(page.models);
        match page.next {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => return Ok(sorted(found)),
        }
    }
    tracing::debug!(provider = %endpoint.id, pages = MAX_PAGES, "model list cut at the page limit");
    Ok(sorted(found))
}

/// A model a provider lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteModel {
    /// The id a [`crate::ModelRequest`] names it by.
    pub id: String,
    /// A display name, when the API gives one.
    pub name: Option<String>,
    /// Input tokens the model accepts, when the API says.
    pub context_window: Option<u64>,
}

impl RemoteModel {
    pub(crate) fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            context_window: None,
        }
    }
}

/// The list sorted by id, each id once (the first seen is kept).
pub(crate) fn sorted(mut models: Vec<RemoteModel>) -> Vec<RemoteModel> {
    models.sort_by(|a, b| a.id.cmp(&b.id));
    models.dedup_by(|later, first| later.id == first.id);
    models
}

/// The error for a listing document without the expected list.
pub(crate) fn unexpected(expected: &str) -> ProviderError {
    ProviderError::Decode {
        message: format!("the model list has no {expected}"),
    }
}

/// A non-empty string member.
pub(crate) fn text(value: &serde_json::Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_sorted_by_id_and_deduplicated() {
        let named = RemoteModel {
            name: Some("B".to_owned()),
            ..RemoteModel::new("b")
        };
        let models = sorted(vec![
            named.clone(),
            RemoteModel::new("a"),
            RemoteModel::new("b"),
        ]);
        assert_eq!(models, [RemoteModel::new("a"), named]);
    }
}

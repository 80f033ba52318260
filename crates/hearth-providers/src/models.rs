//! [`RemoteModel`]: one model a provider says it serves, from [`crate::Provider::list_models`].
//!
//! Each API kind reads its own listing endpoint in its `models` module (over
//! `Endpoint::get_json`, so the key, headers, proxy, timeouts and error mapping are those of a
//! model call); what they share is here: the result's shape, the page limit for APIs that page,
//! and the final order.

use serde::Serialize;

use crate::error::ProviderError;

/// Pages followed for APIs that page their list; a provider with more models than fit in
/// this many pages of the largest size it allows is listed in part, not waited on.
pub(crate) const MAX_PAGES: usize = 5;

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

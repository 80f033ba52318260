//! Spending caps and the audit trail as clients see them: `budgets.status`, `audit.tail`,
//! `audit.search` and the `budget.exceeded` event.
//!
//! Audit entries travel as plain JSON objects (`{"ts": ms, "kind": ..., ...}`), exactly as the
//! gateway wrote them to `$HEARTH_HOME/audit/<log>.jsonl`: the file format is the contract
//! (docs/audit.md), and a client that knows a kind reads its fields by name.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The period a cap applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    /// The gateway's local calendar day.
    Day,
    /// The gateway's local calendar month.
    Month,
}

impl BudgetPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
        }
    }
}

/// What happens once a cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BudgetActionKind {
    /// Further runs are refused until the period ends.
    Stop,
    /// Further runs use the budget's cheaper `model`.
    Switch,
}

impl BudgetActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetActionKind::Stop => "stop",
            BudgetActionKind::Switch => "switch",
        }
    }
}

/// One cap of one `budgets[]` entry (an entry with `daily` and `monthly` is two).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetStatus {
    /// The entry's position in `budgets`.
    pub index: usize,
    /// `*`, `agent:<id>`, an identity (`telegram:123`) or an `identityLinks` name.
    pub scope: String,
    pub period: BudgetPeriod,
    /// The cap, in the prices' currency (USD).
    pub limit: f64,
    /// Spent in the current period.
    pub spent: f64,
    pub action: BudgetActionKind,
    /// For `switch`: the `provider/model` used once the cap is reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `spent >= limit`.
    pub exceeded: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetsStatusResult {
    /// In the order of the config's `budgets`, each entry's day cap before its month cap.
    pub budgets: Vec<BudgetStatus>,
}

/// A cap was reached for the first time in its period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetExceeded {
    pub scope: String,
    pub period: BudgetPeriod,
    pub limit: f64,
    pub spent: f64,
    pub action: BudgetActionKind,
    /// For `switch`: the model used from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditTailParams {
    /// The log: `gateway` (default) or a binding's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// At most this many entries (default 50, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditTailResult {
    pub log: String,
    /// The log's latest entries, oldest first.
    pub entries: Vec<Value>,
    /// Every log there is, sorted.
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditSearchParams {
    /// Text the entry's line contains (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Only entries of this kind (`inbound`, `model.request`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only this log; every log when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Entries at or after this instant (milliseconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Entries before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    /// At most this many entries (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditSearchResult {
    /// Newest first, across logs and their rotated files; each entry carries its `log`.
    pub entries: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_rows_speak_camel_case_and_lowercase_enums() {
        let row = BudgetStatus {
            index: 0,
            scope: "agent:main".into(),
            period: BudgetPeriod::Day,
            limit: 1.0,
            spent: 1.5,
            action: BudgetActionKind::Switch,
            model: Some("p/cheap".into()),
            exceeded: true,
        };
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"index": 0, "scope": "agent:main", "period": "day", "limit": 1.0,
                "spent": 1.5, "action": "switch", "model": "p/cheap", "exceeded": true})
        );
        let params: AuditSearchParams =
            serde_json::from_value(serde_json::json!({"kind": "inbound", "sinceMs": 5})).unwrap();
        assert_eq!(params.since_ms, Some(5));
        assert!(
            serde_json::from_value::<AuditTailParams>(serde_json::json!({"lines": 3})).is_err()
        );
    }
}

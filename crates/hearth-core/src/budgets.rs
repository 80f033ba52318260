//! Spending caps (`budgets`): before each turn, what the scope of every matching cap spent in the
//! current local day or calendar month (the sum of `runs.cost` since the period began, from the
//! store), against the cap.
//!
//! A scope is everything (`*`), one agent (`agent:<id>`) or one person: an identity
//! (`telegram:123`) or an `identityLinks` name, which covers every identity linked with it. A cap
//! that is reached either refuses the turn (`stop`: [`crate::agent::TurnError::Budget`], whose
//! text the person in the channel reads) or makes it use the cap's cheaper model as its primary
//! (`switch`; the fallbacks stay). The first time a cap is found reached in a period, the owner
//! hears of it once: a `budget.exceeded` event (the desktop app shows it), a warning in the log
//! and a `budget` audit record. Periods follow the gateway's time zone, like `usage.summary`.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use hearth_config::{BudgetAction, BudgetConfig, Config};
use hearth_protocol::audit::{BudgetActionKind, BudgetExceeded, BudgetPeriod, BudgetStatus};
use hearth_protocol::events::Event;
use hearth_store::{Spender, StoreError};
use jiff::tz::TimeZone;

use crate::CoreError;
use crate::agent::{TurnError, TurnRequest};
use crate::audit::{AuditEvent, BudgetRecord};
use crate::runtime::Runtime;

/// The caps already announced: (scope, period, start of the period).
#[derive(Debug, Default)]
pub struct Budgets {
    announced: Mutex<HashSet<(String, BudgetPeriod, i64)>>,
}

impl Budgets {
    /// True the first time a cap is reported reached in the period starting at `start_ms`.
    fn first_crossing(&self, scope: &str, period: BudgetPeriod, start_ms: i64) -> bool {
        let mut announced = self
            .announced
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Earlier periods are over: forget them.
        announced.retain(|(_, p, start)| *p != period || *start >= start_ms);
        announced.insert((scope.to_owned(), period, start_ms))
    }
}

/// One cap: a budget entry's daily or monthly limit.
#[derive(Debug, Clone, Copy)]
struct Cap<'a> {
    index: usize,
    budget: &'a BudgetConfig,
    period: BudgetPeriod,
    limit: f64,
}

impl Cap<'_> {
    fn action(&self) -> BudgetActionKind {
        match self.budget.action {
            BudgetAction::Stop => BudgetActionKind::Stop,
            BudgetAction::Switch => BudgetActionKind::Switch,
        }
    }
}

/// Every cap of the config: each entry's day cap, then its month cap.
fn caps(config: &Config) -> impl Iterator<Item = Cap<'_>> {
    config
        .budgets
        .iter()
        .enumerate()
        .flat_map(|(index, budget)| {
            [
                (BudgetPeriod::Day, budget.daily),
                (BudgetPeriod::Month, budget.monthly),
            ]
            .into_iter()
            .filter_map(move |(period, limit)| {
                limit.map(|limit| Cap {
                    index,
                    budget,
                    period,
                    limit,
                })
            })
        })
}

/// Where the current local day and month began, in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    pub day_start_ms: i64,
    pub month_start_ms: i64,
}

impl Periods {
    /// The periods holding `now_ms` in `tz` (a day that starts in a DST gap starts at its first
    /// instant).
    pub fn at(now_ms: i64, tz: &TimeZone) -> Result<Periods, jiff::Error> {
        let today = jiff::Timestamp::from_millisecond(now_ms)?
            .to_zoned(tz.clone())
            .date();
        let start = |date: jiff::civil::Date| -> Result<i64, jiff::Error> {
            Ok(date.to_zoned(tz.clone())?.timestamp().as_millisecond())
        };
        Ok(Periods {
            day_start_ms: start(today)?,
            month_start_ms: start(today.first_of_month())?,
        })
    }

    pub fn start(&self, period: BudgetPeriod) -> i64 {
        match period {
            BudgetPeriod::Day => self.day_start_ms,
            BudgetPeriod::Month => self.month_start_ms,
        }
    }
}

/// The person an identity belongs to: the `identityLinks` name listing it (or the name itself),
/// else the identity.
pub fn person_of(config: &Config, identity: &str) -> String {
    let links = &config.session.identity_links;
    if links.contains_key(identity) {
        return identity.to_owned();
    }
    crate::routing::person_of(identity, links)
}

/// Every form a person's runs may carry as their sender: the person and each linked identity.
pub fn identities_of(config: &Config, person: &str) -> Vec<String> {
    let mut out = vec![person.to_owned()];
    if let Some(ids) = config.session.identity_links.get(person) {
        out.extend(ids.iter().filter(|id| *id != person).cloned());
    }
    out
}

/// Whether a cap's scope covers a turn of `agent_id` answering `sender`.
fn covers(config: &Config, scope: &str, agent_id: &str, sender: Option<&str>) -> bool {
    let scope = scope.trim();
    if scope == "*" {
        return true;
    }
    if let Some(id) = scope.strip_prefix("agent:") {
        return id == agent_id;
    }
    sender.is_some_and(|s| person_of(config, s) == person_of(config, scope))
}

/// What `scope` spent since `since_ms`.
async fn spent(
    rt: &Runtime,
    config: &Config,
    scope: &str,
    since_ms: i64,
) -> Result<f64, StoreError> {
    let scope = scope.trim();
    if scope == "*" {
        return rt.store.spent_since(since_ms, Spender::All).await;
    }
    if let Some(id) = scope.strip_prefix("agent:") {
        return rt.store.spent_since(since_ms, Spender::Agent(id)).await;
    }
    let senders = identities_of(config, &person_of(config, scope));
    rt.store
        .spent_since(since_ms, Spender::Senders(&senders))
        .await
}

/// What a person reads when a `stop` cap refuses their message.
pub fn refusal(period: BudgetPeriod) -> String {
    match period {
        BudgetPeriod::Day => {
            "This assistant's budget for today is used up; it can answer again tomorrow."
        }
        BudgetPeriod::Month => {
            "This assistant's budget for this month is used up; it can answer again next month."
        }
    }
    .to_owned()
}

/// The caps' verdict on a turn, before its models are chosen: `Ok(None)` to go ahead,
/// `Ok(Some(model))` to answer with a cap's cheaper model, or [`TurnError::Budget`].
pub(crate) async fn before_turn(
    rt: &Runtime,
    config: &Config,
    req: &TurnRequest,
) -> Result<Option<String>, TurnError> {
    if config.budgets.is_empty() {
        return Ok(None);
    }
    let sender = req.session.sender();
    let periods = match Periods::at(rt.now_ms(), &TimeZone::system()) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot work out the budget periods; budgets not checked");
            return Ok(None);
        }
    };
    let mut switch_to = None;
    let mut stop = None;
    for cap in caps(config).filter(|c| covers(config, &c.budget.scope, &req.agent.id, sender)) {
        let start = periods.start(cap.period);
        let spent = spent(rt, config, &cap.budget.scope, start).await?;
        if spent < cap.limit {
            continue;
        }
        announce(rt, &cap, spent, start);
        match (cap.budget.action, &cap.budget.model) {
            (BudgetAction::Switch, Some(model)) => {
                switch_to.get_or_insert_with(|| model.clone());
            }
            // A switch without a model (refused by validation) has nothing to switch to.
            _ => {
                stop.get_or_insert(cap.period);
            }
        }
    }
    match stop {
        Some(period) => Err(TurnError::Budget(refusal(period))),
        None => Ok(switch_to),
    }
}

/// Tells the owner, once per period, that a cap is reached.
fn announce(rt: &Runtime, cap: &Cap<'_>, spent: f64, start_ms: i64) {
    let scope = cap.budget.scope.trim();
    if !rt.budgets.first_crossing(scope, cap.period, start_ms) {
        return;
    }
    let action = cap.action();
    tracing::warn!(
        scope,
        period = cap.period.as_str(),
        spent,
        limit = cap.limit,
        action = action.as_str(),
        model = cap.budget.model.as_deref().unwrap_or(""),
        "a budget is reached"
    );
    rt.bus.publish_with(|| {
        Event::BudgetExceeded(BudgetExceeded {
            scope: scope.to_owned(),
            period: cap.period,
            limit: cap.limit,
            spent,
            action,
            model: cap.budget.model.clone(),
        })
    });
    rt.audit.record(
        None,
        AuditEvent::Budget(BudgetRecord {
            scope: scope.to_owned(),
            period: cap.period,
            spent,
            limit: cap.limit,
            action,
        }),
    );
}

/// Every cap with what its scope spent in the current period (`budgets.status`).
pub async fn status(rt: &Runtime, now_ms: i64) -> Result<Vec<BudgetStatus>, CoreError> {
    let live = rt.live();
    let config = &live.config;
    let periods = Periods::at(now_ms, &TimeZone::system())
        .map_err(|e| CoreError::Internal(format!("date arithmetic failed: {e}")))?;
    let mut out = Vec::new();
    for cap in caps(config) {
        let spent = spent(rt, config, &cap.budget.scope, periods.start(cap.period)).await?;
        out.push(BudgetStatus {
            index: cap.index,
            scope: cap.budget.scope.trim().to_owned(),
            period: cap.period,
            limit: cap.limit,
            spent,
            action: cap.action(),
            model: cap.budget.model.clone(),
            exceeded: spent >= cap.limit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> Config {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn days_and_months_start_at_local_midnight() {
        // Paris rules as a POSIX string: no time zone database needed.
        let tz = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        let at = |y, m, d, h| {
            jiff::civil::date(y, m, d)
                .at(h, 0, 0, 0)
                .to_zoned(tz.clone())
                .unwrap()
                .timestamp()
                .as_millisecond()
        };
        let p = Periods::at(at(2025, 3, 30, 12), &tz).unwrap();
        assert_eq!(p.day_start_ms, at(2025, 3, 30, 0));
        assert_eq!(p.month_start_ms, at(2025, 3, 1, 0));
        // 00:30 local is still the previous day in UTC: the local day counts.
        let p = Periods::at(at(2025, 6, 1, 0) + 30 * 60_000, &tz).unwrap();
        assert_eq!(p.day_start_ms, at(2025, 6, 1, 0));
        assert_eq!(p.month_start_ms, at(2025, 6, 1, 0));
        assert_eq!(p.start(BudgetPeriod::Month), p.month_start_ms);
    }

    #[test]
    fn scopes_cover_everything_an_agent_or_a_person_with_their_links() {
        let c = config(serde_json::json!({
            "session": { "identityLinks": { "alice": ["telegram:1", "discord:2"] } }
        }));
        assert!(covers(&c, "*", "main", None));
        assert!(covers(&c, "agent:main", "main", Some("telegram:9")));
        assert!(!covers(&c, "agent:work", "main", Some("telegram:9")));
        assert!(covers(&c, "alice", "main", Some("discord:2")));
        assert!(covers(&c, "alice", "main", Some("alice")));
        assert!(covers(&c, "telegram:1", "main", Some("discord:2")));
        assert!(!covers(&c, "telegram:1", "main", Some("telegram:9")));
        assert!(!covers(&c, "telegram:9", "main", None));
        assert_eq!(person_of(&c, "discord:2"), "alice");
        assert_eq!(person_of(&c, "slack:U1"), "slack:U1");
        assert_eq!(
            identities_of(&c, "alice"),
            ["alice", "telegram:1", "discord:2"]
        );
        assert_eq!(identities_of(&c, "slack:U1"), ["slack:U1"]);
    }

    #[test]
    fn caps_list_each_entry_day_then_month() {
        let c = config(serde_json::json!({
            "budgets": [
                { "scope": "*", "monthly": 50 },
                { "scope": "agent:main", "daily": 1, "monthly": 10, "action": "switch", "model": "p/cheap" }
            ]
        }));
        let listed: Vec<(usize, BudgetPeriod, f64)> =
            caps(&c).map(|c| (c.index, c.period, c.limit)).collect();
        assert_eq!(
            listed,
            [
                (0, BudgetPeriod::Month, 50.0),
                (1, BudgetPeriod::Day, 1.0),
                (1, BudgetPeriod::Month, 10.0)
            ]
        );
    }

    #[test]
    fn a_crossing_is_announced_once_per_period() {
        let budgets = Budgets::default();
        assert!(budgets.first_crossing("*", BudgetPeriod::Day, 100));
        assert!(!budgets.first_crossing("*", BudgetPeriod::Day, 100));
        assert!(budgets.first_crossing("*", BudgetPeriod::Month, 100));
        assert!(budgets.first_crossing("agent:main", BudgetPeriod::Day, 100));
        // The next day: anew.
        assert!(budgets.first_crossing("*", BudgetPeriod::Day, 200));
        assert!(!budgets.first_crossing("*", BudgetPeriod::Month, 100));
    }

    #[test]
    fn refusals_say_which_period_is_used_up() {
        assert!(refusal(BudgetPeriod::Day).contains("budget for today is used up"));
        assert!(refusal(BudgetPeriod::Month).contains("budget for this month is used up"));
    }
}

//! Semantic rules for session resets, sub-agents and budgets (see [`crate::validate`]).

use crate::path::{child_index, child_key};
use crate::{BudgetAction, Config, Issue, ResetConfig, ResetMode};

pub(crate) fn check_session_rules(config: &Config, out: &mut Vec<Issue>) {
    let session = &config.session;
    check_reset(&session.reset, "session.reset", out);
    let by_type = &session.reset_by_type;
    for (name, rule) in [
        ("direct", &by_type.direct),
        ("group", &by_type.group),
        ("thread", &by_type.thread),
    ] {
        if let Some(rule) = rule {
            check_reset(rule, &child_key("session.resetByType", name), out);
        }
    }
    for (i, trigger) in session.reset_triggers.iter().enumerate() {
        if trigger.trim().is_empty() {
            out.push(Issue::error(
                child_index("session.resetTriggers", i),
                "a reset trigger is empty (write the message that starts a new session, e.g. \"/new\")",
            ));
        }
    }
    if session.main_key.trim().is_empty() || session.main_key.contains(char::is_whitespace) {
        out.push(Issue::error(
            "session.mainKey",
            "the main session key must be a non-empty word without spaces (default \"main\")",
        ));
    }
}

fn check_reset(rule: &ResetConfig, path: &str, out: &mut Vec<Issue>) {
    if rule.at_hour > 23 {
        out.push(Issue::error(
            child_key(path, "atHour"),
            format!("`{}` is not an hour (use 0 to 23)", rule.at_hour),
        ));
    }
    if rule.mode == ResetMode::Idle && rule.idle_minutes == 0 {
        out.push(Issue::error(
            child_key(path, "idleMinutes"),
            "an idle reset needs at least 1 minute",
        ));
    }
}

pub(crate) fn check_subagents(config: &Config, out: &mut Vec<Issue>) {
    let limits = &config.agents.defaults.subagents;
    for (name, value) in [
        ("maxChildren", u64::from(limits.max_children)),
        ("maxConcurrent", u64::from(limits.max_concurrent)),
        ("timeoutSeconds", limits.timeout_seconds),
    ] {
        if value == 0 {
            out.push(Issue::error(
                child_key("agents.defaults.subagents", name),
                "must be at least 1 (to forbid sub-agents, deny the `sessions_spawn` tool)",
            ));
        }
    }
    let ids: Vec<&str> = if config.agents.list.is_empty() {
        vec!["main"]
    } else {
        config.agents.list.iter().map(|a| a.id.as_str()).collect()
    };
    for (index, agent) in config.agents.list.iter().enumerate() {
        let Some(sub) = &agent.subagents else {
            continue;
        };
        let path = child_key(
            &child_key(&child_index("agents.list", index), "subagents"),
            "allowAgents",
        );
        for (i, allowed) in sub.allow_agents.iter().enumerate() {
            if allowed != "*" && !ids.contains(&allowed.as_str()) {
                out.push(Issue::error(
                    child_index(&path, i),
                    format!(
                        "no agent `{allowed}` is configured (agents: {}; or \"*\" for any)",
                        ids.join(", ")
                    ),
                ));
            }
        }
    }
}

pub(crate) fn check_budgets(config: &Config, out: &mut Vec<Issue>) {
    for (index, budget) in config.budgets.iter().enumerate() {
        let path = child_index("budgets", index);
        let scope = budget.scope.trim();
        let scope_ok = scope == "*"
            || scope
                .strip_prefix("agent:")
                .is_some_and(|id| !id.is_empty())
            || scope
                .split_once(':')
                .is_some_and(|(c, id)| !c.is_empty() && !id.is_empty())
            || config.session.identity_links.contains_key(scope);
        if !scope_ok {
            out.push(
                Issue::error(
                    child_key(&path, "scope"),
                    format!("`{scope}` is not a budget scope"),
                )
                .with_hint(
                    "use \"*\" (everything), \"agent:<id>\", a sender like \"telegram:123\", or a name from session.identityLinks",
                ),
            );
        }
        if let Some(id) = scope.strip_prefix("agent:")
            && !config.agents.list.is_empty()
            && !config.agents.list.iter().any(|a| a.id == id)
        {
            out.push(Issue::error(
                child_key(&path, "scope"),
                format!("no agent `{id}` is configured (agents.list)"),
            ));
        }
        if budget.daily.is_none() && budget.monthly.is_none() {
            out.push(Issue::error(
                path.clone(),
                "a budget needs `daily` or `monthly` (an amount in USD)",
            ));
        }
        for (name, cap) in [("daily", budget.daily), ("monthly", budget.monthly)] {
            if let Some(cap) = cap
                && !(cap.is_finite() && cap >= 0.0)
            {
                out.push(Issue::error(
                    child_key(&path, name),
                    format!("`{cap}` is not an amount (use a number of dollars, e.g. 2.5)"),
                ));
            }
        }
        match (budget.action, &budget.model) {
            (BudgetAction::Switch, None) => out.push(Issue::error(
                child_key(&path, "model"),
                "`action: \"switch\"` needs the cheaper `model` to switch to (`provider/model`)",
            )),
            (BudgetAction::Switch, Some(model)) => {
                crate::validate::check_model_ref_pub(
                    config,
                    model,
                    &child_key(&path, "model"),
                    out,
                );
            }
            (BudgetAction::Stop, Some(_)) => out.push(Issue::warning(
                child_key(&path, "model"),
                "`model` is only used with `action: \"switch\"`",
            )),
            (BudgetAction::Stop, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BudgetConfig, ResetMode};

    fn shown(config: &Config) -> Vec<String> {
        let mut out = Vec::new();
        check_session_rules(config, &mut out);
        check_subagents(config, &mut out);
        check_budgets(config, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reset_rules_and_budgets_are_checked() {
        let mut config = Config::default();
        config.session.reset.mode = ResetMode::Idle;
        config.session.reset.idle_minutes = 0;
        config.session.reset_by_type.group = Some(ResetConfig {
            mode: ResetMode::Daily,
            at_hour: 24,
            idle_minutes: 5,
        });
        config.budgets = vec![
            BudgetConfig {
                scope: "nobody".into(),
                daily: None,
                monthly: None,
                action: BudgetAction::Switch,
                model: None,
            },
            BudgetConfig {
                scope: "telegram:42".into(),
                daily: Some(-1.0),
                monthly: Some(10.0),
                action: BudgetAction::Stop,
                model: None,
            },
        ];
        config.agents.defaults.subagents.max_children = 0;
        let issues = shown(&config);
        assert_eq!(
            issues,
            vec![
                "session.reset.idleMinutes: an idle reset needs at least 1 minute",
                "session.resetByType.group.atHour: `24` is not an hour (use 0 to 23)",
                "agents.defaults.subagents.maxChildren: must be at least 1 (to forbid sub-agents, deny the `sessions_spawn` tool)",
                "budgets[0].scope: `nobody` is not a budget scope (use \"*\" (everything), \"agent:<id>\", a sender like \"telegram:123\", or a name from session.identityLinks)",
                "budgets[0]: a budget needs `daily` or `monthly` (an amount in USD)",
                "budgets[0].model: `action: \"switch\"` needs the cheaper `model` to switch to (`provider/model`)",
                "budgets[1].daily: `-1` is not an amount (use a number of dollars, e.g. 2.5)",
            ]
        );
        config
            .session
            .identity_links
            .insert("nobody".into(), vec!["telegram:1".into()]);
        assert!(
            !shown(&config)
                .iter()
                .any(|i| i.contains("budgets[0].scope"))
        );
    }
}

//! `hearth usage`: what the runs cost over the last days, grouped one way, and where each budget
//! stands (`usage.summary` and `budgets.status`).

use std::process::ExitCode;

use hearth_protocol::methods::{
    BudgetStatus, Empty, UsageBucket, UsageRow, UsageSummaryParams, UsageSummaryResult, spec,
};
use serde::Serialize;

use crate::cli::{Global, UsageArgs, UsageBy};
use crate::{connect, output};

/// What `--json` prints.
#[derive(Serialize)]
struct UsageReport<'a> {
    summary: &'a UsageSummaryResult,
    budgets: &'a [BudgetStatus],
}

pub(super) async fn run(g: &Global, args: UsageArgs) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    let summary = client
        .call::<spec::UsageSummary>(UsageSummaryParams {
            days: Some(args.days),
        })
        .await?;
    let budgets = client.call::<spec::BudgetsStatus>(Empty {}).await?.budgets;
    client.close().await;
    if g.json {
        output::json(&UsageReport {
            summary: &summary,
            budgets: &budgets,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let t = &summary.totals;
    println!(
        "Last {} day{} (since {}): {} run{}, {} tokens in, {} out, {}",
        args.days,
        if args.days == 1 { "" } else { "s" },
        output::time(summary.from),
        t.runs,
        if t.runs == 1 { "" } else { "s" },
        tokens(t.input_tokens + t.cache_read_tokens + t.cache_write_tokens),
        tokens(t.output_tokens),
        cost(t.cost)
    );
    let (title, buckets) = grouped(&summary, args.by);
    let buckets: Vec<&UsageBucket> = buckets.iter().filter(|b| b.usage.runs > 0).collect();
    println!();
    if buckets.is_empty() {
        println!("No runs in this period.");
    } else {
        print_table(&usage_table(title, &buckets), USAGE_NUMBERS);
    }
    println!();
    if budgets.is_empty() {
        println!("No budgets (add one under `budgets` in the config; see docs/usage.md).");
    } else {
        print_table(&budget_table(&budgets), BUDGET_NUMBERS);
    }
    Ok(ExitCode::SUCCESS)
}

fn grouped(summary: &UsageSummaryResult, by: UsageBy) -> (&'static str, &[UsageBucket]) {
    match by {
        UsageBy::Day => ("DAY", &summary.by_day),
        UsageBy::Agent => ("AGENT", &summary.by_agent),
        UsageBy::Channel => ("CHANNEL", &summary.by_channel),
        UsageBy::Sender => ("SENDER", &summary.by_sender),
        UsageBy::Model => ("MODEL", &summary.by_model),
    }
}

fn usage_table(title: &str, buckets: &[&UsageBucket]) -> Vec<Vec<String>> {
    let mut rows = vec![
        [title, "RUNS", "INPUT", "OUTPUT", "CACHED", "COST"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for b in buckets {
        let u: &UsageRow = &b.usage;
        rows.push(vec![
            b.key.clone(),
            u.runs.to_string(),
            tokens(u.input_tokens),
            tokens(u.output_tokens),
            tokens(u.cache_read_tokens + u.cache_write_tokens),
            cost(u.cost),
        ]);
    }
    rows
}

fn budget_table(budgets: &[BudgetStatus]) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["BUDGET", "PERIOD", "SPENT", "LIMIT", "ACTION", "STATE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for b in budgets {
        let action = match &b.model {
            Some(model) => format!("{} to {model}", b.action.as_str()),
            None => b.action.as_str().to_owned(),
        };
        let state = if b.exceeded {
            "reached".to_owned()
        } else if b.limit > 0.0 {
            format!("{:.0}% used", (b.spent / b.limit * 100.0).min(100.0))
        } else {
            "ok".to_owned()
        };
        rows.push(vec![
            b.scope.clone(),
            if b.period.as_str() == "day" {
                "today".to_owned()
            } else {
                "this month".to_owned()
            },
            cost(Some(b.spent)),
            cost(Some(b.limit)),
            action,
            state,
        ]);
    }
    rows
}

/// Which columns of each table hold figures (right-aligned).
const USAGE_NUMBERS: &[bool] = &[false, true, true, true, true, true];
const BUDGET_NUMBERS: &[bool] = &[false, false, true, true, false, false];

/// Columns two spaces apart; figures right-aligned, text left-aligned.
fn print_table(rows: &[Vec<String>], numbers: &[bool]) {
    for line in table_lines(rows, numbers) {
        println!("{line}");
    }
}

fn table_lines(rows: &[Vec<String>], numbers: &[bool]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if numbers.get(c).copied().unwrap_or(false) {
                        format!("{cell:>w$}", w = widths[c])
                    } else {
                        format!("{cell:<w$}", w = widths[c])
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}

/// `950`, `12.3k`, `4.5M`.
fn tokens(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `$1.23`, `$0.0042` for small amounts, `-` when no price was known.
fn cost(c: Option<f64>) -> String {
    match c {
        None => "-".to_owned(),
        Some(c) if c != 0.0 && c.abs() < 0.01 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use hearth_protocol::methods::{BudgetActionKind, BudgetPeriod};

    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(tokens(950), "950");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(tokens(4_500_000), "4.5M");
        assert_eq!(cost(None), "-");
        assert_eq!(cost(Some(0.0)), "$0.00");
        assert_eq!(cost(Some(0.0042)), "$0.0042");
        assert_eq!(cost(Some(12.5)), "$12.50");
    }

    #[test]
    fn tables_align_their_columns() {
        let bucket = UsageBucket {
            key: "telegram:123".into(),
            usage: UsageRow {
                runs: 12,
                input_tokens: 1500,
                output_tokens: 20,
                cost: Some(0.5),
                ..UsageRow::default()
            },
        };
        let lines = table_lines(&usage_table("SENDER", &[&bucket]), USAGE_NUMBERS);
        assert_eq!(
            lines,
            [
                "SENDER        RUNS  INPUT  OUTPUT  CACHED   COST",
                "telegram:123    12   1.5k      20       0  $0.50",
            ]
        );
        let budget = BudgetStatus {
            index: 0,
            scope: "agent:main".into(),
            period: BudgetPeriod::Day,
            limit: 2.0,
            spent: 2.5,
            action: BudgetActionKind::Switch,
            model: Some("p/cheap".into()),
            exceeded: true,
        };
        let lines = table_lines(&budget_table(&[budget]), BUDGET_NUMBERS);
        assert_eq!(
            lines,
            [
                "BUDGET      PERIOD  SPENT  LIMIT  ACTION             STATE",
                "agent:main  today   $2.50  $2.00  switch to p/cheap  reached"
            ]
        );
    }
}

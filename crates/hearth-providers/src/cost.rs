//! What a call cost, from its token counts and the model's configured prices.

use hearth_config::ModelCost;
use hearth_protocol::transcript::Usage;

/// US dollars for `usage` at `cost` (prices per million tokens); `None` when prices are unknown.
pub fn cost_of(usage: &Usage, cost: Option<&ModelCost>) -> Option<f64> {
    let price = cost?;
    let dollars = usage.input as f64 * price.input
        + usage.output as f64 * price.output
        + usage.cache_read as f64 * price.cache_read
        + usage.cache_write as f64 * price.cache_write;
    Some(dollars / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_per_million_tokens() {
        let usage = Usage {
            input: 1_000,
            output: 500,
            cache_read: 2_000,
            cache_write: 100,
            cost: None,
        };
        let price = ModelCost {
            input: 3.0,
            output: 15.0,
            cache_read: 0.3,
            cache_write: 3.75,
        };
        let cost = cost_of(&usage, Some(&price)).unwrap();
        let expected = (3_000.0 + 7_500.0 + 600.0 + 375.0) / 1_000_000.0;
        assert!((cost - expected).abs() < 1e-12, "{cost}");
        assert_eq!(cost_of(&usage, None), None);
    }
}

//! Built-in defaults for well-known models, used when a provider's `models` list does not
//! describe the model a ref names. A model listed in the config always wins; so does its `cost`.
//!
//! Prices are the vendors' list prices in US dollars per million tokens at the time of writing;
//! they change, which is why the config can override them.

use hearth_config::{InputKind, ModelCost, ModelDef};

struct Known {
    /// The model id, or the start of it: dated snapshots (`claude-sonnet-4-5-20250929`) and
    /// `-latest` aliases match their family.
    id: &'static str,
    context_window: u64,
    max_tokens: u64,
    image: bool,
    reasoning: bool,
    /// input, output, cache read, cache write.
    cost: [f64; 4],
}

const fn known(
    id: &'static str,
    context_window: u64,
    max_tokens: u64,
    image: bool,
    reasoning: bool,
    cost: [f64; 4],
) -> Known {
    Known {
        id,
        context_window,
        max_tokens,
        image,
        reasoning,
        cost,
    }
}

/// Longer ids first where one is the start of another (`gpt-4o-mini` before `gpt-4o`).
const KNOWN: &[Known] = &[
    known(
        "gpt-4o-mini",
        128_000,
        16_384,
        true,
        false,
        [0.15, 0.60, 0.075, 0.0],
    ),
    known(
        "gpt-4o",
        128_000,
        16_384,
        true,
        false,
        [2.50, 10.0, 1.25, 0.0],
    ),
    known(
        "gpt-4.1-nano",
        1_047_576,
        32_768,
        true,
        false,
        [0.10, 0.40, 0.025, 0.0],
    ),
    known(
        "gpt-4.1-mini",
        1_047_576,
        32_768,
        true,
        false,
        [0.40, 1.60, 0.10, 0.0],
    ),
    known(
        "gpt-4.1",
        1_047_576,
        32_768,
        true,
        false,
        [2.0, 8.0, 0.50, 0.0],
    ),
    known(
        "o4-mini",
        200_000,
        100_000,
        true,
        true,
        [1.10, 4.40, 0.275, 0.0],
    ),
    known(
        "o3-mini",
        200_000,
        100_000,
        false,
        true,
        [1.10, 4.40, 0.55, 0.0],
    ),
    known("o3", 200_000, 100_000, true, true, [2.0, 8.0, 0.50, 0.0]),
    known(
        "claude-opus-4",
        200_000,
        32_000,
        true,
        true,
        [15.0, 75.0, 1.50, 18.75],
    ),
    known(
        "claude-sonnet-4",
        200_000,
        64_000,
        true,
        true,
        [3.0, 15.0, 0.30, 3.75],
    ),
    known(
        "claude-haiku-4",
        200_000,
        64_000,
        true,
        true,
        [1.0, 5.0, 0.10, 1.25],
    ),
    known(
        "claude-3-5-haiku",
        200_000,
        8_192,
        true,
        false,
        [0.80, 4.0, 0.08, 1.0],
    ),
    known(
        "gemini-2.5-pro",
        1_048_576,
        65_536,
        true,
        true,
        [1.25, 10.0, 0.31, 0.0],
    ),
    known(
        "gemini-2.5-flash-lite",
        1_048_576,
        65_536,
        true,
        true,
        [0.10, 0.40, 0.025, 0.0],
    ),
    known(
        "gemini-2.5-flash",
        1_048_576,
        65_536,
        true,
        true,
        [0.30, 2.50, 0.075, 0.0],
    ),
    known(
        "gemini-2.0-flash",
        1_048_576,
        8_192,
        true,
        false,
        [0.10, 0.40, 0.025, 0.0],
    ),
];

/// Defaults for `model_id`: the catalog's figures when the model is known, otherwise a
/// conservative 128k window, 4096 output tokens, text only, no price.
pub fn defaults_for(model_id: &str) -> ModelDef {
    // Providers such as OpenRouter prefix the vendor (`anthropic/claude-sonnet-4.5`), and some
    // write versions with dots where others use dashes (`4.5` / `4-5`).
    let bare = model_id
        .rsplit('/')
        .next()
        .unwrap_or(model_id)
        .replace('.', "-");
    match KNOWN
        .iter()
        .find(|k| bare.starts_with(&k.id.replace('.', "-")))
    {
        Some(k) => ModelDef {
            id: model_id.to_owned(),
            name: None,
            reasoning: k.reasoning,
            input: if k.image {
                vec![InputKind::Text, InputKind::Image]
            } else {
                vec![InputKind::Text]
            },
            cost: Some(ModelCost {
                input: k.cost[0],
                output: k.cost[1],
                cache_read: k.cost[2],
                cache_write: k.cost[3],
            }),
            context_window: k.context_window,
            max_tokens: k.max_tokens,
        },
        None => ModelDef {
            id: model_id.to_owned(),
            name: None,
            reasoning: false,
            input: vec![InputKind::Text],
            cost: None,
            context_window: 128_000,
            max_tokens: 4096,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_snapshots_and_prefixed_ids_match() {
        assert_eq!(defaults_for("gpt-4o-mini").cost.unwrap().input, 0.15);
        assert_eq!(defaults_for("gpt-4o-2024-08-06").cost.unwrap().input, 2.50);
        let sonnet = defaults_for("claude-sonnet-4-5-20250929");
        assert_eq!(
            (sonnet.context_window, sonnet.max_tokens),
            (200_000, 64_000)
        );
        assert!(sonnet.input.contains(&InputKind::Image));
        assert_eq!(
            defaults_for("anthropic/claude-sonnet-4.5")
                .cost
                .unwrap()
                .output,
            15.0
        );
        assert_eq!(
            defaults_for("gemini-2.5-flash-lite").cost.unwrap().input,
            0.10
        );
        let unknown = defaults_for("my-local-model");
        assert_eq!(
            (unknown.context_window, unknown.max_tokens, unknown.cost),
            (128_000, 4096, None)
        );
    }
}

//! Ids for tool calls whose API gives none (Ollama; Gemini, which matches results by name and
//! order).
//!
//! The agent loop pairs each tool result with its call by id, and the transcript keeps calls
//! from earlier runs, so an id must not repeat within a process or across restarts: it joins the
//! clock at first use with a counter.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static NEXT: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<u64> = OnceLock::new();

/// A fresh id, `call_<clock>_<counter>` in hex.
pub(crate) fn generate() -> String {
    let epoch = EPOCH.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("call_{epoch:x}_{n:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_do_not_repeat() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with("call_") && b.starts_with("call_"), "{a} {b}");
    }
}

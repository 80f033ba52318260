//! How long a failed MCP server waits before it is started again.
//!
//! The steps grow (1 s, 2 s, 5 s, 10 s, then 30 s for good) so a server that cannot start costs
//! little, and each delay gets up to a fifth more at random so servers that failed together
//! (a network outage) do not all retry in the same instant.

use std::time::Duration;

use rand::Rng;

/// A backoff schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    steps: Vec<Duration>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new([1, 2, 5, 10, 30].map(Duration::from_secs).to_vec())
    }
}

impl Backoff {
    /// A schedule with these steps; the last one repeats. Tests use short steps.
    pub fn new(steps: Vec<Duration>) -> Self {
        let steps = if steps.is_empty() {
            vec![Duration::from_secs(1)]
        } else {
            steps
        };
        Self { steps }
    }

    /// The delay before attempt `failures + 1`, without jitter.
    pub fn base(&self, failures: u32) -> Duration {
        let last = self.steps.len() - 1;
        self.steps[(failures as usize).min(last)]
    }

    /// The delay before attempt `failures + 1`: the step plus up to 20 % jitter.
    pub fn delay(&self, failures: u32) -> Duration {
        let base = self.base(failures);
        let jitter = rand::thread_rng().gen_range(0.0..=0.2);
        base + base.mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_to_a_cap() {
        let b = Backoff::default();
        let secs: Vec<u64> = (0..7).map(|n| b.base(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 5, 10, 30, 30, 30]);
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        let b = Backoff::default();
        for n in 0..50 {
            let d = b.delay(n % 6);
            let base = b.base(n % 6);
            assert!(d >= base && d <= base + base / 5, "{d:?} for {base:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_delay_is_slept_in_full_and_no_longer() {
        let b = Backoff::default();
        let delay = b.delay(2);
        let started = tokio::time::Instant::now();
        tokio::time::sleep(delay).await;
        let slept = started.elapsed();
        assert!(
            slept >= Duration::from_secs(5) && slept <= Duration::from_secs(6),
            "{slept:?}"
        );
    }
}

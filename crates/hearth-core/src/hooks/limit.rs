//! Each mapping's `ratePerMinute`: a token bucket per mapping, in memory. A bucket holds up to a
//! minute's worth of calls and refills continuously, so a sender may burst a minute's calls at
//! once and then only as fast as the rate; a refused call learns how long until the next is
//! accepted (`Retry-After`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::lock;

#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    per_minute: u32,
    tokens: f64,
    at: Instant,
}

impl RateLimits {
    /// Takes one call from `name`'s bucket at `now`; `Err(wait)` when it is empty.
    pub(crate) fn take(&self, name: &str, per_minute: u32, now: Instant) -> Result<(), Duration> {
        let per_minute = per_minute.max(1);
        let capacity = f64::from(per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(name.to_owned()).or_insert(Bucket {
            per_minute,
            tokens: capacity,
            at: now,
        });
        if bucket.per_minute != per_minute {
            // The config changed the rate: the new capacity applies at once.
            bucket.per_minute = per_minute;
            bucket.tokens = bucket.tokens.min(capacity);
        }
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minutes_calls_then_the_rate() {
        let limits = RateLimits::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limits.take("gh", 3, t0), Ok(()));
        }
        let wait = limits.take("gh", 3, t0).unwrap_err();
        assert_eq!(wait.as_millis(), 20_000);
        // Other mappings have buckets of their own.
        assert_eq!(limits.take("stripe", 3, t0), Ok(()));
        // A third of a minute later, one call's worth has come back, and only one.
        let t1 = t0 + Duration::from_secs(20);
        assert_eq!(limits.take("gh", 3, t1), Ok(()));
        let wait = limits.take("gh", 3, t1).unwrap_err();
        assert!(wait > Duration::from_secs(19) && wait <= Duration::from_secs(20));
        // Idle time never saves up more than a minute's worth.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limits.take("gh", 3, t2), Ok(()));
        }
        assert!(limits.take("gh", 3, t2).is_err());
    }

    #[test]
    fn a_lower_rate_applies_at_once() {
        let limits = RateLimits::default();
        let t0 = Instant::now();
        assert_eq!(limits.take("gh", 60, t0), Ok(()));
        assert_eq!(limits.take("gh", 1, t0), Ok(()));
        assert_eq!(limits.take("gh", 1, t0).unwrap_err().as_millis(), 60_000);
    }
}

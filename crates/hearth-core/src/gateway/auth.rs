//! Who may call the gateway: token checks, failed-attempt limiting and browser Origin checks.
//!
//! Every call except `/health` and the Control UI's static page must authenticate. Failed
//! attempts are counted per client address; after `maxAttempts` within `windowMs` the address is
//! locked out for `lockoutMs` and gets `429` with `Retry-After`, even with the right token.
//!
//! A browser page from another origin must not drive the gateway (CVE-2026-25253 made OpenClaw's
//! UI hand its token to an attacker's socket). Requests that carry an `Origin` header are
//! accepted only from the gateway's own loopback origin, from `gateway.controlUi.allowedOrigins`,
//! or, on a non-loopback bind, from an IP-literal origin equal to the `Host` the browser
//! used. DNS names are never trusted by their looks: a rebinding attack points one at 127.0.0.1.

use crate::util::lock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hearth_config::RateLimitConfig;

/// Failed-attempt bookkeeping per client address.
#[derive(Debug)]
pub struct AuthLimiter {
    config: Mutex<RateLimitConfig>,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

#[derive(Debug, Default)]
struct Entry {
    failures: Vec<Instant>,
    locked_until: Option<Instant>,
}

impl AuthLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config: Mutex::new(config),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn set_config(&self, config: RateLimitConfig) {
        *lock(&self.config) = config;
    }

    /// `Some(wait)` while `ip` is locked out.
    pub fn locked(&self, ip: IpAddr) -> Option<Duration> {
        self.locked_at(ip, Instant::now())
    }

    fn locked_at(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let entries = lock(&self.entries);
        let until = entries.get(&ip)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failure; answers the lockout if this failure started one.
    pub fn record_failure(&self, ip: IpAddr) -> Option<Duration> {
        self.record_failure_at(ip, Instant::now())
    }

    fn record_failure_at(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let config = lock(&self.config).clone();
        let window = Duration::from_millis(config.window_ms);
        let lockout = Duration::from_millis(config.lockout_ms);
        let mut entries = lock(&self.entries);
        if entries.len() > 10_000 {
            entries.retain(|_, e| e.locked_until.is_some_and(|u| u > now));
        }
        let entry = entries.entry(ip).or_default();
        entry.failures.retain(|t| now.duration_since(*t) < window);
        entry.failures.push(now);
        if entry.failures.len() >= config.max_attempts.max(1) as usize {
            entry.failures.clear();
            entry.locked_until = Some(now + lockout);
            tracing::warn!(client = %ip, lockout_ms = config.lockout_ms, "too many failed auth attempts; client locked out");
            return Some(lockout);
        }
        None
    }

    /// Clears an address's failures after a success.
    pub fn record_success(&self, ip: IpAddr) {
        let mut entries = lock(&self.entries);
        if entries.get(&ip).is_some_and(|e| e.locked_until.is_none()) {
            entries.remove(&ip);
        }
    }
}

/// The token in an `Authorization: Bearer` header.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether a browser `Origin` may call this gateway.
pub fn origin_allowed(
    origin: &str,
    host_header: Option<&str>,
    port: u16,
    loopback_bind: bool,
    allowed: &[String],
) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let (host, origin_port) = split_host_port(rest);
    if origin_port != Some(port) {
        return false;
    }
    let is_loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if is_loopback {
        return true;
    }
    // On a LAN bind a browser reaches us at our IP: same-origin with Host, and an IP literal.
    !loopback_bind
        && host.parse::<IpAddr>().is_ok()
        && host_header.is_some_and(|h| h.eq_ignore_ascii_case(rest))
}

fn split_host_port(s: &str) -> (&str, Option<u16>) {
    if let Some((host, after)) = s.strip_prefix('[').and_then(|v6| v6.split_once(']')) {
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host, port);
    }
    match s.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max: u32) -> RateLimitConfig {
        RateLimitConfig {
            max_attempts: max,
            window_ms: 60_000,
            lockout_ms: 300_000,
        }
    }

    #[test]
    fn lockout_after_max_attempts_then_expires() {
        let l = AuthLimiter::new(cfg(3));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(l.record_failure_at(ip, t0).is_none());
        assert!(l.record_failure_at(ip, t0).is_none());
        assert_eq!(l.record_failure_at(ip, t0), Some(Duration::from_secs(300)));
        assert!(l.locked_at(ip, t0 + Duration::from_secs(1)).is_some());
        assert!(l.locked_at(ip, t0 + Duration::from_secs(301)).is_none());
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(l.locked_at(other, t0).is_none());
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let l = AuthLimiter::new(cfg(2));
        let ip: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        assert!(l.record_failure_at(ip, t0).is_none());
        assert!(
            l.record_failure_at(ip, t0 + Duration::from_secs(61))
                .is_none()
        );
    }

    #[test]
    fn origins() {
        let none: Vec<String> = vec![];
        assert!(origin_allowed(
            "http://127.0.0.1:18789",
            None,
            18789,
            true,
            &none
        ));
        assert!(origin_allowed(
            "http://localhost:18789",
            None,
            18789,
            true,
            &none
        ));
        assert!(origin_allowed(
            "http://[::1]:18789",
            None,
            18789,
            true,
            &none
        ));
        assert!(!origin_allowed(
            "http://127.0.0.1:3000",
            None,
            18789,
            true,
            &none
        ));
        assert!(!origin_allowed(
            "https://evil.example",
            None,
            18789,
            true,
            &none
        ));
        // DNS rebinding: a name that resolves to us is still a foreign origin.
        assert!(!origin_allowed(
            "http://evil.example:18789",
            Some("evil.example:18789"),
            18789,
            false,
            &none
        ));
        assert!(origin_allowed(
            "http://192.168.1.5:18789",
            Some("192.168.1.5:18789"),
            18789,
            false,
            &none
        ));
        assert!(!origin_allowed(
            "http://192.168.1.5:18789",
            Some("192.168.1.5:18789"),
            18789,
            true,
            &none
        ));
        let allowed = vec!["https://hearth.example.org".to_owned()];
        assert!(origin_allowed(
            "https://hearth.example.org",
            None,
            18789,
            true,
            &allowed
        ));
        assert!(!origin_allowed("null", None, 18789, true, &none));
    }

    #[test]
    fn bearer_parsing() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}

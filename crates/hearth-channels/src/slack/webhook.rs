//! Checking that an Events API request comes from Slack
//! (<https://api.slack.com/authentication/verifying-requests-from-slack>).
//!
//! Slack signs `v0:<X-Slack-Request-Timestamp>:<raw body>` with HMAC-SHA256 keyed by the app's
//! signing secret and sends `v0=<hex>` in `X-Slack-Signature`. A request older than five minutes
//! is refused too, so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now.
const MAX_SKEW_SECS: i64 = 5 * 60;

/// Why a request was refused (said in the 401 body; nothing secret in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    MissingHeaders,
    Stale,
    BadSignature,
}

impl Refusal {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Refusal::MissingHeaders => "missing X-Slack-Signature or X-Slack-Request-Timestamp",
            Refusal::Stale => "the request timestamp is more than five minutes away",
            Refusal::BadSignature => "the signature does not match",
        }
    }
}

/// Checks the signature of `body` against `secret`, with `now` in Unix seconds.
pub(super) fn verify(
    secret: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return Err(Refusal::MissingHeaders);
    };
    let sent_at: i64 = timestamp.trim().parse().map_err(|_| Refusal::Stale)?;
    if (now - sent_at).abs() > MAX_SKEW_SECS {
        return Err(Refusal::Stale);
    }
    let expected = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(Refusal::BadSignature)?;
    // `verify_slice` compares in constant time, so timing reveals nothing about the secret.
    mac(secret, timestamp.trim(), body)
        .ok_or(Refusal::BadSignature)?
        .verify_slice(&expected)
        .map_err(|_| Refusal::BadSignature)
}

/// The keyed hash over Slack's base string; `None` never happens (HMAC takes any key length).
fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    Some(mac)
}

/// The signature Slack would send, for tests.
#[cfg(test)]
pub(super) fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, &timestamp.to_string(), body)
        .expect("any key length")
        .finalize()
        .into_bytes();
    format!("v0={}", hex::encode(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timestamp: &str, signature: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "X-Slack-Request-Timestamp",
            http::HeaderValue::from_str(timestamp).expect("header"),
        );
        headers.insert(
            "X-Slack-Signature",
            http::HeaderValue::from_str(signature).expect("header"),
        );
        headers
    }

    #[test]
    fn slacks_documented_example_verifies() {
        // The worked example of Slack's "Verifying requests from Slack" page.
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        let at = 1_531_420_618;
        assert_eq!(sign(secret, at, body), signature);
        assert_eq!(
            verify(secret, &headers("1531420618", signature), body, at + 10),
            Ok(())
        );
    }

    #[test]
    fn forged_stale_and_unsigned_requests_are_refused() {
        let body = br#"{"type":"event_callback"}"#;
        let good = sign("secret", 1_000_000, body);
        assert_eq!(
            verify("other", &headers("1000000", &good), body, 1_000_000),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify("secret", &headers("1000000", &good), b"{}", 1_000_000),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify("secret", &headers("1000000", &good), body, 1_000_000 + 301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify("secret", &headers("1000000", "v0=zz"), body, 1_000_000),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify("secret", &http::HeaderMap::new(), body, 1_000_000),
            Err(Refusal::MissingHeaders)
        );
    }
}

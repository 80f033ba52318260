//! Webhook signatures: an HMAC-SHA256 of the exact request body under a secret shared with the
//! sender, compared in constant time.
//!
//! - GitHub style: `X-Hub-Signature-256: sha256=<hex of HMAC(secret, body)>`.
//! - Stripe style: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, where each `v1`
//!   is the HMAC of `<t>.<body>`; any `v1` may match (secrets being rolled), and `t` must be
//!   within the tolerance of now, so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::util::constant_time_eq;

/// Why a signature was refused. The messages are safe to return to the sender: they never
/// contain the secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request has no signature header")]
    Missing,
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signature's timestamp is {0} s away from now (more than the tolerance)")]
    Stale(i64),
}

fn mac(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn matches_hex(expected: &[u8], given_hex: &str) -> bool {
    match hex::decode(given_hex.trim()) {
        Ok(given) => !expected.is_empty() && constant_time_eq(expected, &given),
        Err(_) => false,
    }
}

/// Checks a GitHub-style `X-Hub-Signature-256` header.
pub fn verify_github(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed("expected `sha256=<hex>`"))?;
    if matches_hex(&mac(secret, &[body]), hex) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks a Stripe-style `Stripe-Signature` header at `now_s` (Unix seconds), accepting
/// timestamps up to `tolerance_s` away.
pub fn verify_stripe(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.trim()),
            Some(("v1", sig)) => signatures.push(sig.trim()),
            // `v0` (test mode) and future schemes are not trusted.
            Some(_) => {}
            None => return Err(SignatureError::Malformed("expected `key=value` items")),
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed("no `t=` timestamp"))?;
    let seconds: i64 = t
        .parse()
        .map_err(|_| SignatureError::Malformed("`t=` is not a number"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no `v1=` signature"));
    }
    let expected = mac(secret, &[t.as_bytes(), b".", body]);
    if !signatures.iter().any(|s| matches_hex(&expected, s)) {
        return Err(SignatureError::Mismatch);
    }
    let skew = now_s.saturating_sub(seconds);
    if skew.abs() > tolerance_s {
        return Err(SignatureError::Stale(skew));
    }
    Ok(())
}

/// The `X-Hub-Signature-256` value GitHub sends with `body` (for tests and for callers that
/// sign like GitHub).
pub fn sign_github(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, &[body])))
}

/// The `Stripe-Signature` value Stripe sends with `body` at `timestamp` (Unix seconds).
pub fn sign_stripe(secret: &[u8], body: &[u8], timestamp: i64) -> String {
    let t = timestamp.to_string();
    let v1 = hex::encode(mac(secret, &[t.as_bytes(), b".", body]));
    format!("t={t},v1={v1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's documented example.
    const GH_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_signatures() {
        assert_eq!(
            verify_github(GH_SECRET, b"Hello, World!", Some(GH_SIG)),
            Ok(())
        );
        assert_eq!(
            verify_github(GH_SECRET, b"Hello, World?", Some(GH_SIG)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(b"another secret", b"Hello, World!", Some(GH_SIG)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(GH_SECRET, b"Hello, World!", None),
            Err(SignatureError::Missing)
        );
        assert!(matches!(
            verify_github(GH_SECRET, b"Hello, World!", Some("sha1=abc")),
            Err(SignatureError::Malformed(_))
        ));
        assert_eq!(
            verify_github(GH_SECRET, b"Hello, World!", Some("sha256=zz")),
            Err(SignatureError::Mismatch)
        );
    }

    const STRIPE_SECRET: &[u8] = b"whsec_test";
    const STRIPE_BODY: &[u8] = br#"{"id":"evt_1"}"#;
    const STRIPE_V1: &str = "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925";

    #[test]
    fn stripe_signatures_and_their_timestamps() {
        let header = format!("t=1700000000,v1=deadbeef,v1={STRIPE_V1},v0=ignored");
        let check = |body: &[u8], header: Option<&str>, now: i64| {
            verify_stripe(STRIPE_SECRET, body, header, now, 300)
        };
        assert_eq!(check(STRIPE_BODY, Some(&header), 1_700_000_100), Ok(()));
        assert_eq!(
            check(STRIPE_BODY, Some(&header), 1_700_000_301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            check(br#"{"id":"evt_2"}"#, Some(&header), 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = format!("t=1700000500,v1={STRIPE_V1}");
        assert_eq!(
            check(STRIPE_BODY, Some(&moved), 1_700_000_500),
            Err(SignatureError::Mismatch)
        );
        for bad in ["v1=abc", "t=soon,v1=abc", "t=1700000000", "garbage"] {
            assert!(
                matches!(
                    check(STRIPE_BODY, Some(bad), 1_700_000_000),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(check(STRIPE_BODY, None, 0), Err(SignatureError::Missing));
    }

    #[test]
    fn signing_matches_the_senders() {
        assert_eq!(sign_github(GH_SECRET, b"Hello, World!"), GH_SIG);
        assert_eq!(
            sign_stripe(STRIPE_SECRET, STRIPE_BODY, 1_700_000_000),
            format!("t=1700000000,v1={STRIPE_V1}")
        );
    }

    #[test]
    fn refusals_never_show_the_secret_or_the_expected_signature() {
        let err = verify_github(GH_SECRET, b"x", Some("sha256=00")).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("Secret") && !shown.contains("757107"),
            "{shown}"
        );
    }
}

//! Webhooks (issue #7, in progress): [`signature`] checks the HMAC signatures senders put on
//! their requests, in GitHub's and Stripe's styles.

pub mod signature;

//! Holder crate for the end-to-end tests in `integration/`.

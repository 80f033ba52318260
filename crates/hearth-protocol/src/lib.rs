//! The shapes that cross a boundary in Hearth.
//!
//! - [`frame`]: the WebSocket frames, in OpenClaw's shape (`req` / `res` / `event`).
//! - [`methods`]: every gateway method with its params and result types, as one closed table.
//! - [`events`]: every event the gateway pushes, with its payload type.
//! - [`transcript`]: the provider-neutral conversation model (messages, content blocks, usage)
//!   that providers produce, the store persists and clients read back.
//!
//! This crate holds data and nothing else (serde + schemars), so clients, the core and the
//! documentation all derive from the same types. [`schema::protocol_schema`] renders them as one
//! JSON Schema document.

pub mod agents;
pub mod audit;
pub mod channels;
pub mod cron;
pub mod events;
pub mod frame;
pub mod methods;
pub mod schema;
pub mod transcript;

/// The protocol version this build speaks. A client announces `minProtocol..=maxProtocol` in
/// `connect`; the gateway refuses a range that does not contain this number.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame accepted before a connection has authenticated.
pub const MAX_PREAUTH_FRAME_BYTES: usize = 64 * 1024;

/// Largest frame accepted after authentication.
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;

/// Interval of the `tick` event that lets clients detect a dead connection.
pub const TICK_INTERVAL_MS: u64 = 30_000;

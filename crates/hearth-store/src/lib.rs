//! Hearth's durable state: sessions, their transcripts and the runs that wrote them, in one
//! SQLite file.
//!
//! The gateway (`hearth-core`) is the only writer. Per turn it does at most one read
//! ([`Store::transcript`]) and one write transaction ([`Store::commit_turn`]), so the schema is
//! indexed for exactly those paths. Transcript messages are stored as the whole
//! [`hearth_protocol::transcript::Message`] in JSON, so the protocol can grow fields without a
//! migration. Clients never see these types directly: [`SessionRecord::to_info`] turns a record
//! into the protocol's [`hearth_protocol::methods::SessionInfo`].
//!
//! Besides the turn path, the Control UI reads runs back: the most recent ones and per-run
//! figures for usage summaries ([`Store::recent_runs`], [`Store::usage_between`]).
//!
//! Scheduled jobs keep their definitions and every fire here too ([`Store::claim_fire`]): a
//! fire is claimed by inserting its (job, scheduled instant) row before it runs, so it runs at
//! most once across restarts and gateways sharing the file.
//!
//! Queries are plain runtime queries (no `query!` macros), so building needs no database.

mod channels;
mod compactions;
mod cron;
mod error;
mod hooks;
mod model;
mod sessions;
mod store;
mod turns;
mod usage;
mod writer;

pub use channels::{
    ApprovedRow, InboundRow, NewOutbound, OutboundRow, PairingOutcome, PairingRow, QueueCounts,
};
pub use compactions::{CompactionRecord, NewCompaction, SessionContext, TranscriptEntry};
pub use cron::{Claim, CronJobRow, CronProbe, FireEnd, FireRow, FireStatus};
pub use error::StoreError;
pub use hooks::{HookRunEnd, HookRunRow};
pub use model::{NewSession, RunRecord, RunStatus, SessionFilter, SessionRecord};
pub use store::Store;
pub use usage::{RunUsage, Spender};

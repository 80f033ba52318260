//! Hearth's typed configuration, `hearth.json`: JSON5 text with OpenClaw's key names.
//!
//! The pipeline ([`parse_str`], [`load_file`]) is a chain of pure steps, each usable alone:
//! [`parse_document`] (JSON5 to a `serde_json::Value`), [`interpolate`] (`${ENV}` references),
//! [`migrate`] (older versions), [`check_structure`] (the document against [`schema`], every
//! mismatch with its path and a suggestion), typed deserialization, and [`validate`] (rules
//! the schema cannot express). Problems are [`Issue`]s, collected rather than stopping at the
//! first.
//!
//! Around it: editing the raw document by path ([`get_path`], [`set_path`], [`unset_path`]) or
//! by merge patch ([`merge_patch`]), writing it back safely ([`write_atomic`], or
//! [`write_text_atomic`] for text that must keep its comments), showing it without secrets ([`redacted`],
//! [`literal_secrets`]) and telling which changes need a restart ([`restart_required`]).
//! The only I/O is in [`load_file`] and the writers.

mod automation;
mod channels;
mod error;
mod file;
mod interpolate;
mod merge;
mod migrate;
mod path;
mod pipeline;
mod redact;
mod reload;
mod schema;
mod structure;
mod suggest;
pub mod types;
mod validate;
mod validate_hooks;
mod validate_usage;

pub use automation::{
    ActiveHours, CronConfig, DeliveryTarget, HeartbeatConfig, HookAction, HookMapping,
    HookSignature, HooksConfig, SignatureStyle, parse_interval,
};
pub use channels::{ChannelAccount, DEFAULT_ACCOUNT};
pub use error::{ConfigError, Issue, Severity};
pub use file::{Loaded, content_hash, load_file, write_atomic, write_text_atomic};
pub use interpolate::interpolate;
pub use merge::merge_patch;
pub use migrate::{MigrationStep, migrate, move_setting};
pub use path::{get_path, parse_value_arg, set_path, unset_path};
pub use pipeline::{
    Parsed, default_document, from_document, parse_document, parse_str, process_env,
};
pub use redact::{REDACTED, literal_secrets, redacted};
pub use reload::restart_required;
pub use schema::schema;
pub use structure::check_structure;
pub use types::*;
pub use validate::{ROUTABLE_CHANNELS, sanitize_name, validate};
pub use validate_hooks::{TemplatePart, parse_template};

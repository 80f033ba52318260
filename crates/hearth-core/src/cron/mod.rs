//! Proactive runs: when scheduled jobs fire. [`schedule`] turns a job's schedule (a cron
//! expression, an `every` interval or a one-shot `at` time) and its time zone into the instants
//! it fires at, with daylight-saving changes handled so a skipped or repeated local hour fires
//! once. [`job`] checks a job's definition (`hearth_protocol::cron::CronJobSpec`) as a whole.

pub mod job;
pub mod schedule;

pub use job::{CheckedJob, check};
pub use schedule::{CronExpr, Schedule, ScheduleError, parse_interval};

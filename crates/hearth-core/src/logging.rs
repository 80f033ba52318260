//! Logging: human-readable lines on the terminal, JSON lines in `$HEARTH_HOME/logs/`.
//!
//! `HEARTH_LOG` (same syntax as `RUST_LOG`) overrides the configured levels. Secrets are never
//! logged: the types that hold them redact their `Debug` output, and call sites log ids and
//! sizes, not contents.

use std::io::IsTerminal;

use hearth_config::LoggingConfig;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::{CoreError, StateDir};

/// Lines waiting for the log file writer.
const LOG_QUEUE_LINES: usize = 4096;

/// Keeps the file writer flushing; drop it last.
#[derive(Debug)]
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

fn filter(spec: &str) -> EnvFilter {
    let spec = std::env::var("HEARTH_LOG").unwrap_or_else(|_| spec.to_owned());
    EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber. `console: false` keeps the terminal quiet (background runs
/// write to the file only).
pub fn init(home: &StateDir, config: &LoggingConfig, console: bool) -> Result<LogGuard, CoreError> {
    let console_layer = console.then(|| {
        let spec = config.console_level.as_deref().unwrap_or(&config.level);
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .with_filter(filter(spec))
    });
    let (file_layer, guard) = if config.file {
        let appender = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("hearth")
            .filename_suffix("log")
            .max_log_files(config.max_files.max(1) as usize)
            .build(home.logs())
            .map_err(|e| {
                CoreError::Internal(format!(
                    "cannot open the log directory {}: {e}",
                    home.logs().display()
                ))
            })?;
        // The default queue holds 128,000 lines, and its slots are initialised up front: about
        // 4 MB resident before the first line. A few thousand lines absorb any burst the
        // writer thread cannot keep up with; past that, lines are dropped rather than the
        // gateway blocked.
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .lossy(true)
            .finish(appender);
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter(&config.level));
        (Some(layer), Some(guard))
    } else {
        (None, None)
    };
    // A second init (tests, a restart inside one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(console_layer)
        .with(file_layer)
        .try_init();
    Ok(LogGuard { _file: guard })
}

use tracing_subscriber::Layer as _;

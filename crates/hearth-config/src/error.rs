//! The crate's one error type and the [`Issue`] every validation step reports.
//!
//! Validation never stops at the first problem: each step collects `Issue`s with the dotted
//! path of the setting, and [`ConfigError::Invalid`] carries all of them, so a user fixes the
//! whole file in one pass. `Issue` is serialisable because `hearth config validate --json` and
//! the Control UI show the same list.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How bad an [`Issue`] is: errors refuse the file, warnings are reported and the file loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a configuration, located by its dotted path (`agents.list[0].id`,
/// `models.providers["my.provider"].baseUrl`; empty for the document as a whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub path: String,
    pub message: String,
    /// What to do about it, when there is something better to say than the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub severity: Severity,
}

impl Issue {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            hint: None,
            severity: Severity::Error,
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            hint: None,
            severity: Severity::Warning,
        }
    }

    /// The same issue with a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same issue with a hint, if there is one.
    #[must_use]
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `path: message (hint)`; warnings start with `warning: ` so a mixed list stays readable.
impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        let path = if self.path.is_empty() {
            "(top level)"
        } else {
            self.path.as_str()
        };
        write!(f, "{path}: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong loading, checking or writing the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot access {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not JSON5. `line` and `column` start at 1.
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// The document parsed but breaks rules; `issues` holds every error and warning found.
    #[error("{}", InvalidDisplay(issues))]
    Invalid { issues: Vec<Issue> },
    #[error(
        "the configuration has version {found} but this Hearth reads versions up to {supported}: \
         it was written by a newer Hearth; upgrade Hearth or restore a backup"
    )]
    TooNew { found: u32, supported: u32 },
    /// The file changed on disk between reading it and writing it back.
    #[error(
        "the configuration file changed since it was read (expected hash {expected}, found \
         {actual}); reload it and apply the change again"
    )]
    Conflict { expected: String, actual: String },
    /// A settings path (`hearth config get|set|unset`) is malformed or does not fit the document.
    #[error("config path `{path}`: {message}")]
    Path { path: String, message: String },
}

impl ConfigError {
    /// The issues of an `Invalid` error; empty for every other kind.
    pub fn issues(&self) -> &[Issue] {
        match self {
            ConfigError::Invalid { issues } => issues,
            _ => &[],
        }
    }
}

struct InvalidDisplay<'a>(&'a [Issue]);

impl fmt::Display for InvalidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.0.iter().filter(|issue| issue.is_error()).count();
        let noun = if errors == 1 { "error" } else { "errors" };
        write!(f, "invalid configuration ({errors} {noun}):")?;
        for issue in self.0 {
            write!(f, "\n{issue}")?;
        }
        Ok(())
    }
}

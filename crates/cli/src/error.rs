//! The one error type of the command line: what went wrong, the parameter it concerns,
//! and (in scripts) the line.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// 1-based script line, when running `-f`.
    pub line: Option<usize>,
    /// The command as typed (`add filter`), once known.
    pub command: Option<String>,
    /// The parameter tag the error is about.
    pub param: Option<String>,
    pub message: String,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            line: None,
            command: None,
            param: None,
            message: message.into(),
        }
    }

    pub fn param(tag: &str, message: impl Into<String>) -> CliError {
        CliError {
            param: Some(tag.to_string()),
            ..CliError::new(message)
        }
    }

    pub fn at_line(mut self, line: usize) -> CliError {
        self.line.get_or_insert(line);
        self
    }

    pub fn in_command(mut self, command: &str) -> CliError {
        self.command.get_or_insert_with(|| command.to_string());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.line {
            write!(f, "line {l}: ")?;
        }
        if let Some(c) = &self.command {
            write!(f, "{c}: ")?;
        }
        if let Some(p) = &self.param {
            write!(f, "parameter '{p}': ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<policy::StoreError> for CliError {
    fn from(e: policy::StoreError) -> CliError {
        CliError::new(e.to_string())
    }
}

impl From<policy::ValidationError> for CliError {
    fn from(e: policy::ValidationError) -> CliError {
        CliError::new(e.to_string())
    }
}

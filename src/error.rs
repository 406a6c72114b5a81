//! The top-level report type of the binary and its exit-code scheme.
//!
//! Every subcommand returns `Result<(), Report>`; `cli::main` prints the report as
//! `error: …` followed by `caused by: …` lines and exits with its code.

use std::fmt;
use std::process::ExitCode;

/// Exit codes shared by every subcommand (style guide section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: the operation failed (I/O, protocol, local error).
    Failure = 1,
    /// 2: usage or environment (bad flags, console without a terminal).
    Usage = 2,
    /// 3: refused because of `--readonly`.
    Readonly = 3,
    /// 4: the remote side reported an error (retort, `_error` box, FAILURE, RESP error).
    Remote = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error as the binary reports it: a message, its causes and an exit code.
#[derive(Debug)]
pub struct Report {
    /// What failed, lower case, naming the thing.
    pub message: String,
    /// Underlying causes, outermost first.
    pub causes: Vec<String>,
    /// How the process exits.
    pub exit: Exit,
}

impl Report {
    /// A failure (exit 1) with a message.
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Exit::Failure, message)
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// Refused by `--readonly` (exit 3).
    pub fn readonly(action: &str) -> Self {
        Self::new(
            Exit::Readonly,
            format!("{action}: refused, tidepool runs with --readonly"),
        )
    }

    /// The remote side reported an error (exit 4).
    pub fn remote(message: impl Into<String>) -> Self {
        Self::new(Exit::Remote, message)
    }

    /// A report with an explicit exit code.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            causes: Vec::new(),
            exit,
        }
    }

    /// Builds a report from any error, recording its `source()` chain as causes.
    pub fn from_error(exit: Exit, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut report = Self::new(exit, err.to_string());
        let mut source = err.source();
        while let Some(cause) = source {
            report.causes.push(cause.to_string());
            source = cause.source();
        }
        report
    }

    /// Adds an outer context line: the message becomes `context: message`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        for cause in &self.causes {
            write!(f, "\ncaused by: {cause}")?;
        }
        Ok(())
    }
}

impl From<std::io::Error> for Report {
    fn from(e: std::io::Error) -> Self {
        Self::from_error(Exit::Failure, &e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_prints_causes_on_their_own_lines() {
        let inner = std::io::Error::other("disk on fire");
        let report = Report::from_error(Exit::Failure, &inner).context("pool \"events\"");
        assert_eq!(report.to_string(), "error: pool \"events\": disk on fire");
        assert_eq!(report.exit, Exit::Failure);
    }

    #[test]
    fn exit_codes_follow_the_style_guide() {
        assert_eq!(Exit::Ok as u8, 0);
        assert_eq!(Exit::Failure as u8, 1);
        assert_eq!(Exit::Usage as u8, 2);
        assert_eq!(Exit::Readonly as u8, 3);
        assert_eq!(Exit::Remote as u8, 4);
    }
}

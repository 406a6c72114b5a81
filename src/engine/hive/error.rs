//! wrpme/quasardb error codes (hive spec section 3) and the engine's error types.
//!
//! `ErrorCode` discriminants are the published numbers; `HiveError` is what every
//! `Hive` operation fails with (a remote failure as data); `Error` covers the
//! engine's own start-up and transport failures.

use std::fmt;

/// Discriminants are the published wrpme/quasardb numbers (hive spec section 3).
#[repr(u32)]
#[non_exhaustive]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ErrorCode {
    Ok = 0,
    System = 1,
    Internal = 2,
    NoMemory = 3,
    InvalidProtocol = 4,
    HostNotFound = 5,
    InvalidOption = 6,
    AliasTooLong = 7,
    AliasNotFound = 8,
    AliasAlreadyExists = 9,
    Timeout = 10,
    BufferTooSmall = 11,
    InvalidCommand = 12,
    InvalidInput = 13,
    ConnectionRefused = 14,
    ConnectionReset = 15,
    UnexpectedReply = 16,
    NotImplemented = 17,
    UnstableHive = 18,
    ProtocolError = 19,
    OutdatedTopology = 20,
    WrongPeer = 21,
    InvalidVersion = 22,
    TryAgain = 23,
    InvalidArgument = 24,
    OutOfBounds = 25,
    Conflict = 26,
    NotConnected = 27,
    InvalidHandle = 28,
    ReservedAlias = 29,
    UnmatchedContent = 30,
    InvalidIterator = 31,
    PrefixTooShort = 32,
    Skipped = 33,
    IncompatibleType = 34,
    ContainerEmpty = 35,
    ContainerFull = 36,
    ElementNotFound = 37,
    ElementAlreadyExists = 38,
    Overflow = 39,
    Underflow = 40,
    TagAlreadySet = 41,
    TagNotSet = 42,
    EntryTooLarge = 43,
    TransactionPartialFailure = 44,
    ResourceLocked = 45,
}

/// Every code in numeric order; index = discriminant.
const ALL: [(ErrorCode, &str, &str); 46] = [
    (ErrorCode::Ok, "ok", "Success."),
    (ErrorCode::System, "system", "Operating system error."),
    (ErrorCode::Internal, "internal", "Internal error."),
    (ErrorCode::NoMemory, "no_memory", "Not enough memory."),
    (
        ErrorCode::InvalidProtocol,
        "invalid_protocol",
        "The requested protocol is invalid.",
    ),
    (
        ErrorCode::HostNotFound,
        "host_not_found",
        "The host name could not be resolved.",
    ),
    (
        ErrorCode::InvalidOption,
        "invalid_option",
        "The option is invalid.",
    ),
    (
        ErrorCode::AliasTooLong,
        "alias_too_long",
        "The alias is longer than 4096 bytes.",
    ),
    (
        ErrorCode::AliasNotFound,
        "alias_not_found",
        "The entry does not exist.",
    ),
    (
        ErrorCode::AliasAlreadyExists,
        "alias_already_exists",
        "The entry already exists.",
    ),
    (ErrorCode::Timeout, "timeout", "The operation timed out."),
    (
        ErrorCode::BufferTooSmall,
        "buffer_too_small",
        "The buffer is too small.",
    ),
    (
        ErrorCode::InvalidCommand,
        "invalid_command",
        "The command is invalid.",
    ),
    (
        ErrorCode::InvalidInput,
        "invalid_input",
        "The alias or the content is empty.",
    ),
    (
        ErrorCode::ConnectionRefused,
        "connection_refused",
        "The connection was refused by the remote host.",
    ),
    (
        ErrorCode::ConnectionReset,
        "connection_reset",
        "The connection was reset.",
    ),
    (
        ErrorCode::UnexpectedReply,
        "unexpected_reply",
        "The reply has an unexpected shape.",
    ),
    (
        ErrorCode::NotImplemented,
        "not_implemented",
        "Not implemented.",
    ),
    (
        ErrorCode::UnstableHive,
        "unstable_hive",
        "The hive is unstable: the ring cannot be walked.",
    ),
    (
        ErrorCode::ProtocolError,
        "protocol_error",
        "The message is malformed.",
    ),
    (
        ErrorCode::OutdatedTopology,
        "outdated_topology",
        "The topology changed.",
    ),
    (
        ErrorCode::WrongPeer,
        "wrong_peer",
        "The request was sent to the wrong node.",
    ),
    (
        ErrorCode::InvalidVersion,
        "invalid_version",
        "The protocol version does not match.",
    ),
    (
        ErrorCode::TryAgain,
        "try_again",
        "Transient failure, try again.",
    ),
    (
        ErrorCode::InvalidArgument,
        "invalid_argument",
        "An argument is invalid.",
    ),
    (
        ErrorCode::OutOfBounds,
        "out_of_bounds",
        "A value is out of range.",
    ),
    (
        ErrorCode::Conflict,
        "conflict",
        "A concurrent operation conflicted.",
    ),
    (ErrorCode::NotConnected, "not_connected", "No connection."),
    (
        ErrorCode::InvalidHandle,
        "invalid_handle",
        "The handle is invalid.",
    ),
    (
        ErrorCode::ReservedAlias,
        "reserved_alias",
        "The alias is reserved.",
    ),
    (
        ErrorCode::UnmatchedContent,
        "unmatched_content",
        "The comparand did not match the content.",
    ),
    (
        ErrorCode::InvalidIterator,
        "invalid_iterator",
        "The iterator or cursor is stale or foreign.",
    ),
    (
        ErrorCode::PrefixTooShort,
        "prefix_too_short",
        "The prefix is too short.",
    ),
    (
        ErrorCode::Skipped,
        "skipped",
        "The batch operation was skipped.",
    ),
    (
        ErrorCode::IncompatibleType,
        "incompatible_type",
        "The entry has an incompatible type.",
    ),
    (
        ErrorCode::ContainerEmpty,
        "container_empty",
        "The container is empty.",
    ),
    (
        ErrorCode::ContainerFull,
        "container_full",
        "The container is full.",
    ),
    (
        ErrorCode::ElementNotFound,
        "element_not_found",
        "The element does not exist.",
    ),
    (
        ErrorCode::ElementAlreadyExists,
        "element_already_exists",
        "The element already exists.",
    ),
    (ErrorCode::Overflow, "overflow", "Arithmetic overflow."),
    (ErrorCode::Underflow, "underflow", "Arithmetic underflow."),
    (
        ErrorCode::TagAlreadySet,
        "tag_already_set",
        "The tag is already set.",
    ),
    (ErrorCode::TagNotSet, "tag_not_set", "The tag is not set."),
    (
        ErrorCode::EntryTooLarge,
        "entry_too_large",
        "The content is larger than max-entry-bytes.",
    ),
    (
        ErrorCode::TransactionPartialFailure,
        "transaction_partial_failure",
        "The batch partially failed.",
    ),
    (
        ErrorCode::ResourceLocked,
        "resource_locked",
        "The resource is locked.",
    ),
];

impl ErrorCode {
    /// The wrpme name, e.g. `alias_not_found`.
    pub fn as_str(self) -> &'static str {
        ALL[self as usize].1
    }

    /// A one-sentence description.
    pub fn message(self) -> &'static str {
        ALL[self as usize].2
    }

    /// The code with this number, if published.
    pub fn from_u32(v: u32) -> Option<Self> {
        ALL.get(usize::try_from(v).ok()?).map(|e| e.0)
    }

    /// The code with this wrpme name.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter().find(|e| e.1 == name).map(|e| e.0)
    }

    /// The published number.
    pub fn number(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.number())
    }
}

/// A failed hive operation: a wrpme code plus free-text detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct HiveError {
    /// The wrpme code.
    pub code: ErrorCode,
    /// Context (alias, backend text), possibly empty.
    pub detail: String,
}

impl fmt::Display for HiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.detail)
        }
    }
}

impl HiveError {
    /// An error with a detail text.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// An error without detail.
    pub fn code(code: ErrorCode) -> Self {
        Self::new(code, "")
    }

    /// The RESP error line body: `ERR <name>[ <detail>]`.
    pub fn resp_text(&self) -> String {
        if self.detail.is_empty() {
            format!("ERR {}", self.code.as_str())
        } else {
            let detail: String = self
                .detail
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            format!("ERR {} {}", self.code.as_str(), detail)
        }
    }

    /// Parses a RESP error text (`ERR alias_not_found …`) back into a code.
    pub fn from_resp_text(text: &str) -> Option<Self> {
        let mut words = text.splitn(3, ' ');
        let first = words.next()?;
        let (name, rest) = if first == "ERR" {
            (words.next()?, words.next().unwrap_or(""))
        } else {
            (first, words.next().unwrap_or(""))
        };
        let code = ErrorCode::from_name(name)?;
        Some(Self::new(code, rest))
    }
}

/// Engine failures that are not a wrpme reply: start-up, storage and transport.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory or redb file could not be opened.
    #[error("hive store {path}: {source}")]
    Open {
        /// The file or directory.
        path: String,
        /// The redb or I/O failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The file has an unknown schema version.
    #[error("hive store {path}: schema version {found}, expected {expected}")]
    Schema {
        /// The file.
        path: String,
        /// What the file says.
        found: String,
        /// What this build writes.
        expected: u64,
    },
    /// A target string could not be parsed.
    #[error("hive target {target:?}: {why}")]
    Target {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        why: String,
    },
    /// Connecting to a Redis or RESP target failed.
    #[error("hive target {target}: {source}")]
    Connect {
        /// The target.
        target: String,
        /// The mapped wrpme error.
        #[source]
        source: HiveError,
    },
    /// Server I/O (bind, TLS set-up).
    #[error("hive server {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants_match_table_positions() {
        for (i, (code, name, _)) in ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{name}");
            assert_eq!(ErrorCode::from_name(name), Some(*code));
        }
        assert_eq!(ErrorCode::AliasNotFound as u32, 8);
        assert_eq!(ErrorCode::EntryTooLarge.as_str(), "entry_too_large");
        assert_eq!(ErrorCode::from_u32(46), None);
    }

    #[test]
    fn resp_text_round_trips() {
        let e = HiveError::new(ErrorCode::Internal, "boom\r\nx");
        assert_eq!(e.resp_text(), "ERR internal boom  x");
        let back = HiveError::from_resp_text(&e.resp_text()).unwrap();
        assert_eq!(back.code, ErrorCode::Internal);
        assert_eq!(
            HiveError::from_resp_text("ERR alias_not_found")
                .unwrap()
                .code,
            ErrorCode::AliasNotFound
        );
        assert!(HiveError::from_resp_text("ERR syntax error").is_none());
    }
}

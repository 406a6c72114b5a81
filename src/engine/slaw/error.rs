//! Typed errors of the slaw engine. Every decode error names the byte offset
//! (from the start of the outermost input) and what was wrong; the validation
//! rules are the checklist of plasma spec §1.10.

/// Errors of the slaw engine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ends before a slaw it announces.
    #[error("offset {offset}: truncated {what}: needs {need} bytes, {have} available")]
    Truncated {
        /// Where the incomplete item starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
        /// Bytes the item needs (saturated at `u64::MAX`).
        need: u64,
        /// Bytes that were there.
        have: usize,
    },
    /// A length field that cannot be right (zero, too small, or larger than any input).
    #[error("offset {offset}: bad length in {what}: {len} octs")]
    BadLength {
        /// Where the header holding the length starts.
        offset: usize,
        /// What the length belongs to.
        what: &'static str,
        /// The length as stated.
        len: u64,
    },
    /// The input is not a whole number of 8-byte octs.
    #[error("offset {offset}: misaligned: {len} bytes is not a whole number of octs")]
    Misaligned {
        /// Where the misaligned data starts.
        offset: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// Something the spec forbids (reserved kind, bad bsize, cons count ≠ 2, …).
    #[error("offset {offset}: corrupt slaw: {what} (SLAW_CORRUPT_SLAW)")]
    Corrupt {
        /// Where the offending slaw starts.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A protein whose layout does not add up.
    #[error("offset {offset}: corrupt protein: {what} (SLAW_CORRUPT_PROTEIN)")]
    CorruptProtein {
        /// Where the protein starts.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A string that is not UTF-8.
    #[error("offset {offset}: string is not valid UTF-8 (byte {bad} of the text)")]
    BadUtf8 {
        /// Where the string slaw starts.
        offset: usize,
        /// Index in the text of the first invalid byte.
        bad: usize,
    },
    /// Containers nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    #[error("offset {offset}: nesting deeper than {max} levels")]
    TooDeep {
        /// Where the slaw that went too deep starts.
        offset: usize,
        /// The cap.
        max: usize,
    },
    /// Bytes left over after the slaw that should have filled the input.
    #[error("offset {offset}: {extra} trailing bytes after the slaw")]
    Trailing {
        /// Where the extra bytes start.
        offset: usize,
        /// How many.
        extra: usize,
    },
    /// The bytes are not a protein in either byte order.
    #[error("offset {offset}: not a protein (header {header:#018x}) (SLAW_NOT_A_PROTEIN)")]
    NotAProtein {
        /// Where the supposed protein starts.
        offset: usize,
        /// The first oct read little-endian.
        header: u64,
    },
    /// A binary slaw file header that is wrong (spec §2).
    #[error("offset {offset}: bad slaw file header: {what} (SLAW_WRONG_FORMAT)")]
    BadFileHeader {
        /// Offset of the bad field.
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// Version-1 data that could not be read (spec §4).
    #[error("offset {offset}: bad slaw v1 data: {what}")]
    V1 {
        /// Where the v1 slaw starts.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// YAML text that is not valid YAML or not a slaw in libPlasma's dialect.
    #[error("line {line}, column {col}: {msg}")]
    Yaml {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        msg: String,
    },
}

impl Error {
    /// The libPlasma retort name closest to this error, for stderr reports.
    pub fn retort_name(&self) -> &'static str {
        match self {
            Error::CorruptProtein { .. } => "SLAW_CORRUPT_PROTEIN",
            Error::NotAProtein { .. } => "SLAW_NOT_A_PROTEIN",
            Error::BadFileHeader { .. } => "SLAW_WRONG_FORMAT",
            Error::Yaml { .. } => "SLAW_PARSING_BADNESS",
            Error::Truncated { .. } => "SLAW_END_OF_FILE",
            _ => "SLAW_CORRUPT_SLAW",
        }
    }

    pub(crate) fn shift(self, by: usize) -> Error {
        match self {
            Error::Truncated {
                offset,
                what,
                need,
                have,
            } => Error::Truncated {
                offset: offset + by,
                what,
                need,
                have,
            },
            Error::BadLength { offset, what, len } => Error::BadLength {
                offset: offset + by,
                what,
                len,
            },
            Error::Misaligned { offset, len } => Error::Misaligned {
                offset: offset + by,
                len,
            },
            Error::Corrupt { offset, what } => Error::Corrupt {
                offset: offset + by,
                what,
            },
            Error::CorruptProtein { offset, what } => Error::CorruptProtein {
                offset: offset + by,
                what,
            },
            Error::BadUtf8 { offset, bad } => Error::BadUtf8 {
                offset: offset + by,
                bad,
            },
            Error::TooDeep { offset, max } => Error::TooDeep {
                offset: offset + by,
                max,
            },
            Error::Trailing { offset, extra } => Error::Trailing {
                offset: offset + by,
                extra,
            },
            Error::NotAProtein { offset, header } => Error::NotAProtein {
                offset: offset + by,
                header,
            },
            Error::BadFileHeader { offset, what } => Error::BadFileHeader {
                offset: offset + by,
                what,
            },
            Error::V1 { offset, what } => Error::V1 {
                offset: offset + by,
                what,
            },
            e @ Error::Yaml { .. } => e,
        }
    }
}

//! Slaw: the binary encoding of every protein (plasma spec §1-4).
//!
//! Pure code (no I/O, no tokio): the pool, pool TCP and hive engines build on it.
//!
//! | file | layer | spec |
//! |---|---|---|
//! | `value.rs` | owned tree: [`Slaw`], [`Protein`], numerics | §1 |
//! | `codec.rs` | v2 validation (both byte orders) and encoding | §1, §1.10 |
//! | `view.rs` | zero-copy [`SlawView`] / [`ProteinView`] over validated bytes | §1 |
//! | `v1.rs` | slaw version 1 reading | §4 |
//! | `file.rs` | binary slaw files (8-byte header, both byte orders) | §2 |
//! | `yaml.rs` | libPlasma's YAML dialect, parse and emit | §3 |
//! | `json.rs` | JSON export for scripts | (tidepool's own mapping) |
//! | `error.rs` | [`Error`]: typed, with byte offsets | §1.10 |
//!
//! # API
//!
//! ```
//! use tidepool::engine::slaw::{self, Protein, Slaw};
//!
//! let p = Protein::new(
//!     Slaw::strings(["sensor", "temp"]),
//!     Slaw::map([("celsius", Slaw::f64(21.5)), ("id", Slaw::i32(7))]),
//! )
//! .with_rude(b"raw".to_vec());
//! let bytes = slaw::encode_protein(&p); // v2, little-endian
//! // Zero-copy: validate untrusted bytes first, then read without a tree.
//! let view = slaw::validate_protein(&bytes)?;
//! assert_eq!(view.ingest("id").and_then(|v| v.as_i64()), Some(7));
//! // Owned tree, either byte order.
//! assert_eq!(slaw::decode_protein(&bytes)?, p);
//! // YAML in libPlasma's dialect, both ways.
//! let text = slaw::protein_to_yaml(&p);
//! assert_eq!(slaw::from_yaml(&text)?, Slaw::protein(p));
//! # Ok::<(), slaw::Error>(())
//! ```
//!
//! Bare slawx: [`encode`], [`encode_into`] (either [`Endian`]), [`decode`],
//! [`decode_prefix`], [`validate`], [`SlawView::new`]. Stream framing:
//! [`protein_frame_len`]. Files: [`file::read`], [`file::write`]. Legacy:
//! [`v1::decode_file_body`].
//!
//! Decoding never panics and never allocates by an unchecked length: every length
//! is checked against the bytes present, containers nest at most [`MAX_DEPTH`]
//! levels, and errors name the byte offset.

pub mod codec;
pub mod dump;
pub mod error;
pub mod file;
pub mod json;
pub mod sample;
pub mod v1;
pub mod value;
pub mod view;
pub mod yaml;

pub use codec::{
    decode, decode_prefix, decode_protein, decode_protein_slaw, encode, encode_into,
    encode_protein, encode_protein_into, protein_endian, protein_frame_len, validate,
    validate_prefix, Endian,
};
pub use error::Error;
pub use value::{Component, NumData, NumFormat, NumType, Numeric, Protein, Shape, Slaw};
pub use view::{validate_protein, Children, Kind, ProteinView, SlawView};
pub use yaml::{from_yaml, from_yaml_docs, protein_to_yaml, to_yaml, to_yaml_docs, EmitOptions};

/// Deepest nesting of containers and proteins accepted from untrusted input.
/// libPlasma has no explicit cap; real proteins nest a handful of levels.
pub const MAX_DEPTH: usize = 128;

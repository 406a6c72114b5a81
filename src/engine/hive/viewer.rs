//! Value format detection for the console's viewer (hive spec section 9), pure.
//!
//! Auto mode: slaw if the slaw magic matches, else JSON if it parses, else UTF-8
//! if valid, else hex. A pickle (wrpme.Client entries) is recognised by its
//! protocol header and only labelled: the hive never unpickles anything.

/// What a value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A slaw (binary slaw v2 header).
    Slaw,
    /// A Python pickle of this protocol (2–5).
    Pickle(u8),
    /// JSON text.
    Json,
    /// UTF-8 text.
    Utf8,
    /// Anything else.
    Binary,
}

impl Format {
    /// A short label for the metadata line.
    pub fn label(self) -> String {
        match self {
            Format::Slaw => "slaw".into(),
            Format::Pickle(p) => format!("pickle p{p}"),
            Format::Json => "json".into(),
            Format::Utf8 => "utf-8".into(),
            Format::Binary => "binary".into(),
        }
    }
}

/// The binary slaw v2 file/protein magic (`0xffffffff` then version bytes).
const SLAW_MAGIC: [u8; 4] = [0xff, 0xff, 0x0b, 0x10];

/// Detects the format of `value` (only the first 64 KiB are looked at).
pub fn detect(value: &[u8]) -> Format {
    if let [0x80, p @ 2..=5, ..] = value {
        return Format::Pickle(*p);
    }
    if value.starts_with(&SLAW_MAGIC) {
        return Format::Slaw;
    }
    let head = &value[..value.len().min(64 * 1024)];
    if head.len() == value.len() && serde_json::from_slice::<serde_json::Value>(value).is_ok() {
        return Format::Json;
    }
    match std::str::from_utf8(head) {
        Ok(_) => Format::Utf8,
        // a cut in the middle of a multi-byte character is still text
        Err(e) if e.valid_up_to() + 4 > head.len() && head.len() < value.len() => Format::Utf8,
        Err(_) => Format::Binary,
    }
}

/// If `alias` is `<id>-slice_count` (the seed's slicing convention), the id.
pub fn slice_base(alias: &[u8]) -> Option<&[u8]> {
    alias
        .strip_suffix(b"-slice_count")
        .filter(|b| !b.is_empty())
}

/// The aliases of the slices of a document sliced under `id`: `id0`, `id1`, …
pub fn slice_aliases(id: &[u8], count: u64) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..count).map(move |i| {
        let mut a = id.to_vec();
        a.extend_from_slice(i.to_string().as_bytes());
        a
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(detect(b"\x80\x04\x95abc"), Format::Pickle(4));
        assert_eq!(detect(b"{\"a\":1}"), Format::Json);
        assert_eq!(detect(b"hello"), Format::Utf8);
        assert_eq!(detect(&[0xfe, 0x00, 0x99]), Format::Binary);
        assert_eq!(slice_base(b"abc-slice_count"), Some(&b"abc"[..]));
        let s: Vec<_> = slice_aliases(b"x", 2).collect();
        assert_eq!(s, vec![b"x0".to_vec(), b"x1".to_vec()]);
    }
}

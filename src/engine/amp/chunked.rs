//! Opt-in big values (amp spec section 3.8): a value longer than 65535 bytes
//! is split into pieces under keys `name`, `name.2`, `name.3`, … in one box.
//! Twisted has no such type, so both peers must agree to use it; by default
//! nothing here is applied and boxes stay byte-compatible with Twisted.

use bytes::Bytes;

use super::codec::{AmpBox, MAX_VALUE_LENGTH};

/// Splits `value` under `key` into `box_`: the first piece under `key`, the
/// following ones under `key.2`, `key.3`, …
pub fn put(box_: &mut AmpBox, key: &str, value: Bytes) {
    if value.len() <= MAX_VALUE_LENGTH {
        box_.insert(Bytes::copy_from_slice(key.as_bytes()), value);
        return;
    }
    let mut n = 1;
    let mut start = 0;
    while start < value.len() {
        let end = (start + MAX_VALUE_LENGTH).min(value.len());
        let k = if n == 1 {
            key.to_string()
        } else {
            format!("{key}.{n}")
        };
        box_.insert(Bytes::from(k), value.slice(start..end));
        start = end;
        n += 1;
    }
}

/// Reassembles the value of `key` from `key`, `key.2`, … (stopping at the
/// first missing piece); `None` when `key` itself is absent.
pub fn get(box_: &AmpBox, key: &str) -> Option<Bytes> {
    let first = box_.get(key.as_bytes())?.clone();
    if box_.get(format!("{key}.2").as_bytes()).is_none() {
        return Some(first);
    }
    let mut out = first.to_vec();
    let mut n = 2;
    while let Some(piece) = box_.get(format!("{key}.{n}").as_bytes()) {
        out.extend_from_slice(piece);
        n += 1;
    }
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_values_split_and_join() {
        let value = Bytes::from((0..200_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let mut b = AmpBox::new();
        put(&mut b, "blob", value.clone());
        assert_eq!(b.len(), 4);
        assert!(b.check().is_ok());
        assert_eq!(get(&b, "blob").unwrap(), value);
        let mut small = AmpBox::new();
        put(&mut small, "x", Bytes::from_static(b"1"));
        assert_eq!(small.len(), 1);
        assert_eq!(get(&small, "x").unwrap().as_ref(), b"1");
        assert!(get(&small, "y").is_none());
    }
}

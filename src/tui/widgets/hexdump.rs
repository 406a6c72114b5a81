//! Hex view lines: offset, 16 bytes, printable ASCII column (console spec 3.2).

/// One hex line for the 16 (or fewer) bytes at `offset`.
pub fn line(bytes: &[u8], offset: usize) -> String {
    let end = bytes.len().min(offset.saturating_add(16));
    let chunk = bytes.get(offset..end).unwrap_or(&[]);
    let mut hex = String::with_capacity(50);
    for i in 0..16 {
        if i == 8 {
            hex.push(' ');
        }
        match chunk.get(i) {
            Some(b) => hex.push_str(&format!("{b:02x} ")),
            None => hex.push_str("   "),
        }
    }
    let ascii: String = chunk
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{offset:08x}  {hex} |{ascii}|")
}

/// All hex lines of `bytes`.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    (0..bytes.len().div_ceil(16))
        .map(|i| line(bytes, i * 16))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_line_layout() {
        let l = line(b"ABC\x00\x1b", 0);
        assert_eq!(
            l,
            "00000000  41 42 43 00 1b                                    |ABC..|"
        );
        assert_eq!(lines(&[0u8; 17]).len(), 2);
        assert!(lines(&[]).is_empty());
    }
}

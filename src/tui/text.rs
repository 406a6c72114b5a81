//! Untrusted text (console spec section 8): descrips, ingests, keys, values, member
//! names and error descriptions come from the network or from files other programs
//! wrote. Everything an engine hands the console passes through [`sanitize`] before it
//! can reach the terminal, so no escape sequence is ever interpreted and display
//! widths stay exact.

use unicode_width::UnicodeWidthStr;

/// Escapes C0/C1 control characters and DEL as `\xNN`, turns tabs into a space and
/// leaves everything else. Allocation-free when nothing needs escaping is not a goal:
/// summaries are computed once per protein on arrival.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_char(&mut out, c);
    }
    out
}

/// Like [`sanitize`] for bytes that may not be UTF-8: invalid sequences become `\xNN`.
pub fn sanitize_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn push_char(out: &mut String, c: char) {
    let cp = c as u32;
    if c == '\t' {
        out.push(' ');
    } else if cp < 0x20 || cp == 0x7f || (0x80..0xa0).contains(&cp) {
        out.push_str(&format!("\\x{cp:02x}"));
    } else if matches!(cp, 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0xfeff) {
        // zero-width and bidi controls reorder or hide text on screen
        out.push_str(&format!("\\u{{{cp:04x}}}"));
    } else {
        out.push(c);
    }
}

/// Display width of `s` (terminal columns).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts `s` to at most `max` columns at a display-width boundary, ending in `…` when
/// something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Pads or truncates `s` to exactly `w` columns (left aligned).
pub fn fit(s: &str, w: usize) -> String {
    let t = truncate(s, w);
    let pad = w.saturating_sub(width(&t));
    format!("{t}{}", " ".repeat(pad))
}

/// Pads or truncates `s` to exactly `w` columns (right aligned).
pub fn fit_right(s: &str, w: usize) -> String {
    let t = truncate(s, w);
    let pad = w.saturating_sub(width(&t));
    format!("{}{t}", " ".repeat(pad))
}

/// Counts in SI units: `950`, `1.2k`, `3.4M`.
pub fn si(n: f64) -> String {
    let a = n.abs();
    if a < 1000.0 {
        if n.fract() == 0.0 {
            format!("{n:.0}")
        } else {
            format!("{n:.1}")
        }
    } else if a < 1e6 {
        format!("{:.1}k", n / 1e3)
    } else if a < 1e9 {
        format!("{:.1}M", n / 1e6)
    } else {
        format!("{:.1}G", n / 1e9)
    }
}

/// Bytes in IEC units: `512 B`, `3.4 MiB`.
pub fn iec(n: u64) -> String {
    const U: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", U[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escape_sequences_are_neutralised() {
        assert_eq!(sanitize("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(sanitize("bell\x07 del\x7f"), "bell\\x07 del\\x7f");
        assert_eq!(sanitize("c1\u{9b}31m"), "c1\\x9b31m");
        assert_eq!(sanitize("tab\there"), "tab here");
        assert_eq!(sanitize("line\nbreak\r"), "line\\x0abreak\\x0d");
        assert_eq!(sanitize("rtl\u{202e}x"), "rtl\\u{202e}x");
        assert_eq!(sanitize("héllo 世界"), "héllo 世界");
    }

    #[test]
    fn invalid_utf8_is_escaped() {
        assert_eq!(sanitize_bytes(b"ok\xff\xfe!"), "ok\\xff\\xfe!");
        assert_eq!(sanitize_bytes(b"\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
    }

    #[test]
    fn truncation_respects_display_width() {
        assert_eq!(truncate("世界世界", 5), "世界…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(fit("世", 3), "世 ");
        assert_eq!(fit_right("7", 3), "  7");
    }

    #[test]
    fn units() {
        assert_eq!(si(950.0), "950");
        assert_eq!(si(1234.0), "1.2k");
        assert_eq!(iec(3 * 1024 * 1024 + 400_000), "3.4 MiB");
        assert_eq!(iec(12), "12 B");
    }

    proptest! {
        #[test]
        fn sanitized_text_has_no_controls(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = sanitize_bytes(&bytes);
            prop_assert!(!s.chars().any(|c| c.is_control()));
            let s2 = sanitize(&String::from_utf8_lossy(&bytes));
            prop_assert!(!s2.chars().any(|c| c.is_control()));
        }
    }
}

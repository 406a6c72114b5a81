//! Annotated hex dump of validated slaw bytes: one line per oct, each header oct
//! labelled with what it is (plasma spec §1 field names). Used by
//! `tidepool slaw decode --hex` and suitable for the console's hex view.

use std::fmt::Write as _;

use super::codec::{num_head, oct, Endian, PROTEIN_VERY_RUDE, PROTEIN_VERY_RUDE_MASK};
use super::view::{Kind, SlawView};

/// Appends the annotated dump of `view` to `out`; `offset` is where the view's
/// first byte sits in the input, for the offset column.
pub fn dump(view: &SlawView<'_>, offset: usize, out: &mut String) {
    walk(view, offset, 0, "", out);
}

/// A dump line for `bytes` (up to 8) at `offset` with a note.
pub fn line(out: &mut String, offset: usize, bytes: &[u8], depth: usize, note: &str) {
    let _ = write!(out, "{offset:08x} ");
    for i in 0..8 {
        match bytes.get(i) {
            Some(b) => {
                let _ = write!(out, " {b:02x}");
            }
            None => out.push_str("   "),
        }
    }
    out.push_str("  ");
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push_str(note);
    out.push('\n');
}

fn printable(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '.'
            }
        })
        .collect()
}

fn rest(
    view: &SlawView<'_>,
    from: usize,
    offset: usize,
    depth: usize,
    what: &str,
    out: &mut String,
) {
    let b = view.bytes();
    let mut p = from;
    while p < b.len() {
        let chunk = &b[p..(p + 8).min(b.len())];
        let note = if what == "text" {
            format!("  \"{}\"", printable(chunk))
        } else {
            format!("  {what}")
        };
        line(out, offset + p, chunk, depth, &note);
        p += 8;
    }
}

fn walk(view: &SlawView<'_>, offset: usize, depth: usize, label: &str, out: &mut String) {
    let b = view.bytes();
    let e = view.endian();
    let head = &b[..8.min(b.len())];
    let octs = b.len() / 8;
    match view.kind() {
        Kind::Nil => line(out, offset, head, depth, &format!("{label}nil")),
        Kind::Bool => line(
            out,
            offset,
            head,
            depth,
            &format!("{label}boolean {}", view.as_bool().unwrap_or(false)),
        ),
        Kind::String => {
            let text = view.str_bytes().unwrap_or_default();
            let shown = String::from_utf8_lossy(text);
            if octs == 1 {
                line(
                    out,
                    offset,
                    head,
                    depth,
                    &format!("{label}wee string {shown:?}"),
                );
            } else {
                line(
                    out,
                    offset,
                    head,
                    depth,
                    &format!("{label}full string, {} bytes, {octs} octs", text.len()),
                );
                rest(view, 8, offset, depth, "text", out);
            }
        }
        Kind::Num | Kind::Array => {
            let h = oct(b, 0, e).unwrap_or(0);
            let desc = match num_head(h, 0) {
                Ok(nh) => {
                    let f = nh.format;
                    let mut d = String::new();
                    if f.complex {
                        d.push_str("complex ");
                    }
                    match f.shape {
                        super::Shape::Scalar => {}
                        super::Shape::Vector(n) => d.push_str(&format!("v{n} ")),
                        super::Shape::Multivector(n) => d.push_str(&format!("mv{n} ")),
                    }
                    d.push_str(f.ty.tag());
                    if nh.array {
                        format!("array of {} {d}, {octs} octs", nh.breadth)
                    } else {
                        let v = super::yaml::to_yaml_docs(
                            &[view.to_slaw()],
                            &super::EmitOptions {
                                directives: false,
                                tag_numbers: false,
                                ..Default::default()
                            },
                        );
                        let v = v
                            .trim_start_matches("--- ")
                            .trim_end_matches("...\n")
                            .trim();
                        format!("{d} {v}")
                    }
                }
                Err(_) => "numeric".into(),
            };
            line(out, offset, head, depth, &format!("{label}{desc}"));
            rest(view, 8, offset, depth, "numeric data", out);
        }
        Kind::List | Kind::Map | Kind::Cons => {
            let what = match view.kind() {
                Kind::List => "list",
                Kind::Map => "map",
                _ => "cons",
            };
            let n = view.len();
            line(
                out,
                offset,
                head,
                depth,
                &format!(
                    "{label}{what}, {n} {}, {octs} octs",
                    if what == "map" { "pairs" } else { "items" }
                ),
            );
            let h = oct(b, 0, e).unwrap_or(0);
            let mut p = 8;
            if (h >> 56) & 0xf == 15 {
                line(
                    out,
                    offset + 8,
                    &b[8..16.min(b.len())],
                    depth,
                    "  count oct",
                );
                p = 16;
            }
            for (i, c) in view.children().enumerate() {
                let lab = match (what, i) {
                    ("cons", 0) => "car: ".to_string(),
                    ("cons", _) => "cdr: ".to_string(),
                    _ => format!("[{i}] "),
                };
                walk(&c, offset + p, depth + 1, &lab, out);
                p += c.bytes().len();
            }
        }
        Kind::Nonstd => {
            line(
                out,
                offset,
                head,
                depth,
                &format!("{label}nonstandard protein, {octs} octs"),
            );
            rest(view, 8, offset, depth, "opaque", out);
        }
        Kind::Protein => {
            let order = match e {
                Endian::Little => "little-endian",
                Endian::Big => "big-endian",
            };
            line(
                out,
                offset,
                head,
                depth,
                &format!("{label}protein ({order}), {octs} octs"),
            );
            let Some(pv) = view.as_protein() else {
                return;
            };
            let flags = oct(b, 8, e).unwrap_or(0);
            let mut f = Vec::new();
            if pv.descrips().is_some() {
                f.push("descrips".to_string());
            }
            if pv.ingests().is_some() {
                f.push("ingests".to_string());
            }
            let rude = pv.rude().len();
            if flags & PROTEIN_VERY_RUDE != 0 {
                f.push(format!(
                    "rude {} bytes after the body",
                    flags & PROTEIN_VERY_RUDE_MASK
                ));
            } else {
                f.push(format!("wee rude {rude} bytes"));
            }
            line(
                out,
                offset + 8,
                &b[8..16.min(b.len())],
                depth,
                &format!("  flags: {}", f.join(", ")),
            );
            let mut p = 16;
            for (lab, part) in [("descrips: ", pv.descrips()), ("ingests: ", pv.ingests())] {
                if let Some(v) = part {
                    walk(&v, offset + p, depth + 1, lab, out);
                    p += v.bytes().len();
                }
            }
            rest(view, p, offset, depth, "rude data", out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::slaw::{codec, Protein, Slaw};

    #[test]
    fn every_oct_gets_a_line() {
        let p = Protein::new(
            Slaw::strings(["hello", "a longer descrip"]),
            Slaw::map([("k", Slaw::f64(1.5))]),
        )
        .with_rude(vec![7u8; 12]);
        let b = codec::encode_protein(&p);
        let v = SlawView::new(&b, Endian::Little).expect("valid");
        let mut out = String::new();
        dump(&v, 0, &mut out);
        assert_eq!(out.lines().count(), b.len() / 8, "{out}");
        assert!(
            out.contains("flags: descrips, ingests, rude 12 bytes"),
            "{out}"
        );
        assert!(out.contains("wee string \"hello\""), "{out}");
    }
}

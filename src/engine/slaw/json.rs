//! JSON export of slawx for scripts (tidepool's own mapping; libPlasma has no
//! JSON form). One slaw becomes one line of JSON. The mapping, also in
//! docs/slaw.md:
//!
//! | slaw | JSON |
//! |---|---|
//! | nil, boolean, string | `null`, `true`/`false`, string |
//! | string that is not UTF-8 | `{"badutf8": "<base64>"}` |
//! | integer with \|v\| ≤ 2^53 | number |
//! | integer beyond 2^53 | decimal string (`"18446744073709551615"`), so no reader rounds it |
//! | float | number; NaN and infinities as `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | complex | `{"re": x, "im": y}` |
//! | vector, multivector | array of components |
//! | numeric array | array of elements |
//! | list | array |
//! | map | object in wire order; a non-string key becomes its compact JSON text; a repeated key keeps its first value |
//! | cons | `{"car": a, "cdr": d}` |
//! | protein | `{"descrips": …, "ingests": …, "rude_data": "<base64>"}` (parts present only) |
//! | nonstandard protein | `{"nonstd": "<base64>"}` |

use base64::Engine as _;

use super::value::{Component, NumData, NumFormat, Numeric, Shape, Slaw};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const EXACT: u64 = 1 << 53;

/// The slaw as one line of JSON.
pub fn to_json(s: &Slaw) -> String {
    let mut out = String::new();
    write(s, &mut out, 0);
    out
}

fn string(s: &str, out: &mut String) {
    // serde_json's string escaping cannot fail for a &str.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn write(s: &Slaw, out: &mut String, depth: usize) {
    if depth > super::MAX_DEPTH {
        out.push_str("null");
        return;
    }
    match s {
        Slaw::Nil => out.push_str("null"),
        Slaw::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Slaw::String(t) => string(t, out),
        Slaw::BadUtf8(b) => {
            out.push_str("{\"badutf8\":");
            string(&B64.encode(b), out);
            out.push('}');
        }
        Slaw::Num(n) => element(n.format, &n.data, 0, out),
        Slaw::Array(n) => array(n, out),
        Slaw::List(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(it, out, depth + 1);
            }
            out.push(']');
        }
        Slaw::Map(pairs) => {
            out.push('{');
            let mut seen: Vec<String> = Vec::new();
            for (k, v) in pairs {
                let key = match k {
                    Slaw::String(t) => t.clone(),
                    other => to_json(other),
                };
                if seen.contains(&key) {
                    continue;
                }
                if !seen.is_empty() {
                    out.push(',');
                }
                string(&key, out);
                out.push(':');
                write(v, out, depth + 1);
                seen.push(key);
            }
            out.push('}');
        }
        Slaw::Cons(a, d) => {
            out.push_str("{\"car\":");
            write(a, out, depth + 1);
            out.push_str(",\"cdr\":");
            write(d, out, depth + 1);
            out.push('}');
        }
        Slaw::Protein(p) => {
            out.push('{');
            let mut first = true;
            let mut sep = |out: &mut String| {
                if !first {
                    out.push(',');
                }
                first = false;
            };
            if let Some(d) = &p.descrips {
                sep(out);
                out.push_str("\"descrips\":");
                write(d, out, depth + 1);
            }
            if let Some(i) = &p.ingests {
                sep(out);
                out.push_str("\"ingests\":");
                write(i, out, depth + 1);
            }
            if !p.rude.is_empty() {
                sep(out);
                out.push_str("\"rude_data\":");
                string(&B64.encode(&p.rude), out);
            }
            out.push('}');
        }
        Slaw::Nonstd(b) => {
            out.push_str("{\"nonstd\":");
            string(&B64.encode(b), out);
            out.push('}');
        }
    }
}

fn array(n: &Numeric, out: &mut String) {
    let per = n.format.components().max(1);
    out.push('[');
    for i in 0..n.breadth() {
        if i > 0 {
            out.push(',');
        }
        element(n.format, &n.data, i * per, out);
    }
    out.push(']');
}

fn element(f: NumFormat, d: &NumData, at: usize, out: &mut String) {
    let complex = |i: usize, out: &mut String| {
        if f.complex {
            out.push_str("{\"re\":");
            component(d.get(at + 2 * i), out);
            out.push_str(",\"im\":");
            component(d.get(at + 2 * i + 1), out);
            out.push('}');
        } else {
            component(d.get(at + i), out);
        }
    };
    match f.shape {
        Shape::Scalar => complex(0, out),
        Shape::Vector(k) => {
            out.push('[');
            for i in 0..k as usize {
                if i > 0 {
                    out.push(',');
                }
                complex(i, out);
            }
            out.push(']');
        }
        Shape::Multivector(_) => {
            out.push('[');
            for i in 0..f.shape.components() {
                if i > 0 {
                    out.push(',');
                }
                component(d.get(at + i), out);
            }
            out.push(']');
        }
    }
}

fn component(c: Option<Component>, out: &mut String) {
    match c {
        Some(Component::Int(v)) if v.unsigned_abs() <= EXACT => out.push_str(&v.to_string()),
        Some(Component::Int(v)) => out.push_str(&format!("\"{v}\"")),
        Some(Component::Unt(v)) if v <= EXACT => out.push_str(&v.to_string()),
        Some(Component::Unt(v)) => out.push_str(&format!("\"{v}\"")),
        Some(Component::F32(v)) => float(f64::from(v), Some(v), out),
        Some(Component::Float(v)) => float(v, None, out),
        None => out.push_str("null"),
    }
}

fn float(v: f64, narrow: Option<f32>, out: &mut String) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        // Shortest text that reads back to the same bits; JSON accepts Rust's
        // `1e300` style exponents.
        let t = match narrow {
            Some(f) => format!("{f:?}"),
            None => format!("{v:?}"),
        };
        out.push_str(&t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::slaw::Protein;

    #[test]
    fn mapping_is_as_documented() {
        let s = Slaw::map([
            ("big", Slaw::u64(u64::MAX)),
            ("small", Slaw::i64(-5)),
            ("f", Slaw::f32(0.5)),
            ("nan", Slaw::f64(f64::NAN)),
        ]);
        assert_eq!(
            to_json(&s),
            r#"{"big":"18446744073709551615","small":-5,"f":0.5,"nan":"NaN"}"#
        );
        let p = Protein::new(Slaw::strings(["a"]), Slaw::map([(Slaw::i32(1), Slaw::Nil)]))
            .with_rude(vec![1, 2, 3]);
        assert_eq!(
            to_json(&Slaw::protein(p)),
            r#"{"descrips":["a"],"ingests":{"1":null},"rude_data":"AQID"}"#
        );
        let v: serde_json::Value =
            serde_json::from_str(&to_json(&Slaw::cons(Slaw::str("k"), Slaw::f64(1e300))))
                .expect("valid JSON");
        assert_eq!(v["car"], "k");
    }
}

//! Sample proteins shared by the benchmarks (`tidepool bench slaw`,
//! benches/slaw.rs), tests and demo data: the "typical" protein and a
//! 64 KiB one.

use super::value::{NumData, NumFormat, NumType, Numeric, Protein, Shape, Slaw};

fn ingests(extra: Option<(&str, Slaw)>) -> Slaw {
    let mut pairs = vec![
        ("id", Slaw::i64(4_711)),
        ("name", Slaw::str("north-east gate sensor")),
        ("celsius", Slaw::f64(21.375)),
        ("ok", Slaw::Bool(true)),
        ("count", Slaw::u32(65_000)),
        (
            "pos",
            Slaw::Num(Numeric {
                format: NumFormat {
                    ty: NumType::F64,
                    complex: false,
                    shape: Shape::Vector(3),
                },
                data: NumData::F64(vec![1.5, -2.25, 3.0]),
            }),
        ),
        ("tags", Slaw::strings(["hvac", "calibrated"])),
        ("ratio", Slaw::f32(0.75)),
        ("note", Slaw::Nil),
        (
            "raw",
            Slaw::array(NumData::I8(vec![1, -2, 3, -4, 5, -6, 7, -8])),
        ),
    ];
    if let Some(e) = extra {
        pairs.push(e);
    }
    Slaw::map(pairs)
}

/// The typical protein: 3 descrips, a 10-entry ingests map of mixed types and
/// 1 KiB of rude data (about 1.5 KiB encoded).
pub fn typical_protein() -> Protein {
    Protein::new(
        Slaw::strings(["sensor", "temperature", "building-7/floor-3"]),
        ingests(None),
    )
    .with_rude((0..1024u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// A protein of about 64 KiB: the typical descrips and ingests plus a 7,000
/// element float64 `samples` array (56 KiB) and 8 KiB of rude data.
pub fn large_protein() -> Protein {
    let samples: Vec<f64> = (0..7_000).map(|i| f64::from(i) * 0.5).collect();
    Protein::new(
        Slaw::strings(["sensor", "waveform", "building-7/floor-3"]),
        ingests(Some(("samples", Slaw::array(NumData::F64(samples))))),
    )
    .with_rude((0..8192u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

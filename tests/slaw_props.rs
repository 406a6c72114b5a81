//! Property tests of the slaw engine: random trees round-trip through binary (both
//! byte orders) and YAML; arbitrary and truncated bytes never panic and never
//! decode as something they are not. This is also the bounded, always-run
//! counterpart of fuzz/fuzz_targets/slaw_decode.rs.

use proptest::collection::vec;
use proptest::prelude::*;
use tidepool::engine::slaw::{
    self, file, Endian, NumData, NumFormat, NumType, Numeric, Protein, Shape, Slaw,
};

fn bytes_of(s: &Slaw, e: Endian) -> Vec<u8> {
    let mut out = Vec::new();
    slaw::encode_into(s, e, &mut out);
    out
}

fn data(ty: NumType, n: usize, nan: bool) -> BoxedStrategy<NumData> {
    let f64s = if nan {
        any::<f64>().boxed()
    } else {
        prop_oneof![
            prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY)
        ]
        .boxed()
    };
    let f32s = if nan {
        any::<f32>().boxed()
    } else {
        (prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO).boxed()
    };
    match ty {
        NumType::I8 => vec(any::<i8>(), n).prop_map(NumData::I8).boxed(),
        NumType::I16 => vec(any::<i16>(), n).prop_map(NumData::I16).boxed(),
        NumType::I32 => vec(any::<i32>(), n).prop_map(NumData::I32).boxed(),
        NumType::I64 => vec(any::<i64>(), n).prop_map(NumData::I64).boxed(),
        NumType::U8 => vec(any::<u8>(), n).prop_map(NumData::U8).boxed(),
        NumType::U16 => vec(any::<u16>(), n).prop_map(NumData::U16).boxed(),
        NumType::U32 => vec(any::<u32>(), n).prop_map(NumData::U32).boxed(),
        NumType::U64 => vec(any::<u64>(), n).prop_map(NumData::U64).boxed(),
        NumType::F32 => vec(f32s, n).prop_map(NumData::F32).boxed(),
        NumType::F64 => vec(f64s, n).prop_map(NumData::F64).boxed(),
    }
}

fn format() -> impl Strategy<Value = NumFormat> {
    (
        prop::sample::select(NumType::ALL.to_vec()),
        any::<bool>(),
        prop_oneof![
            Just(Shape::Scalar),
            (2u8..=4).prop_map(Shape::Vector),
            (2u8..=5).prop_map(Shape::Multivector)
        ],
    )
        .prop_map(|(ty, complex, shape)| NumFormat {
            ty,
            complex: complex && !matches!(shape, Shape::Multivector(_)),
            shape,
        })
}

fn numeric(nan: bool) -> impl Strategy<Value = Slaw> {
    (format(), any::<bool>(), 0usize..4).prop_flat_map(move |(f, array, breadth)| {
        let n = f.components() * if array { breadth } else { 1 };
        data(f.ty, n, nan).prop_map(move |d| {
            let num = Numeric { format: f, data: d };
            if array {
                Slaw::Array(num)
            } else {
                Slaw::Num(num)
            }
        })
    })
}

fn leaf(nan: bool) -> impl Strategy<Value = Slaw> {
    prop_oneof![
        Just(Slaw::Nil),
        any::<bool>().prop_map(Slaw::Bool),
        any::<String>().prop_map(Slaw::String),
        "[a-z]{0,12}".prop_map(Slaw::String),
        vec(any::<u8>(), 0..12).prop_map(|b| match String::from_utf8(b) {
            Ok(s) => Slaw::String(s),
            Err(e) => Slaw::BadUtf8(e.into_bytes()),
        }),
        numeric(nan),
    ]
}

fn tree(nan: bool) -> impl Strategy<Value = Slaw> {
    leaf(nan).prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Slaw::List),
            vec((inner.clone(), inner.clone()), 0..5).prop_map(Slaw::map),
            (inner.clone(), inner.clone()).prop_map(|(a, d)| Slaw::cons(a, d)),
            (
                proptest::option::of(inner.clone()),
                proptest::option::of(inner),
                vec(any::<u8>(), 0..20)
            )
                .prop_map(|(descrips, ingests, rude)| Slaw::protein(Protein {
                    descrips,
                    ingests,
                    rude
                })),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn binary_round_trips_in_both_byte_orders(s in tree(true)) {
        let le = bytes_of(&s, Endian::Little);
        let be = bytes_of(&s, Endian::Big);
        prop_assert_eq!(le.len(), be.len());
        let from_le = slaw::decode(&le, Endian::Little).expect("le decodes");
        let from_be = slaw::decode(&be, Endian::Big).expect("be decodes");
        prop_assert_eq!(bytes_of(&from_le, Endian::Little), le.clone());
        prop_assert_eq!(bytes_of(&from_be, Endian::Little), le);
        prop_assert_eq!(bytes_of(&from_be, Endian::Big), be);
    }

    #[test]
    fn values_without_nan_round_trip_exactly(s in tree(false)) {
        let b = bytes_of(&s, Endian::Little);
        prop_assert_eq!(slaw::decode(&b, Endian::Little).expect("decodes"), s);
    }

    #[test]
    fn yaml_round_trips(s in tree(false)) {
        let text = slaw::to_yaml(&s);
        let back = slaw::from_yaml(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(bytes_of(&back, Endian::Little), bytes_of(&s, Endian::Little), "{}", text);
    }

    #[test]
    fn proteins_view_and_decode_agree(d in tree(true), i in tree(true), rude in vec(any::<u8>(), 0..40)) {
        let p = Protein { descrips: Some(d), ingests: Some(i), rude };
        for e in [Endian::Little, Endian::Big] {
            let mut b = Vec::new();
            slaw::encode_protein_into(&p, e, &mut b);
            let v = slaw::validate_protein(&b).expect("validates");
            prop_assert_eq!(v.endian(), e);
            prop_assert_eq!(v.rude(), &p.rude[..]);
            let owned = slaw::decode_protein(&b).expect("decodes");
            prop_assert_eq!(slaw::encode_protein(&owned), slaw::encode_protein(&v.to_protein()));
        }
    }

    #[test]
    fn every_strict_prefix_is_an_error(s in tree(true)) {
        let b = bytes_of(&s, Endian::Little);
        for k in 0..b.len() {
            prop_assert!(slaw::decode(&b[..k], Endian::Little).is_err(), "prefix {} decoded", k);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in vec(any::<u8>(), 0..256)) {
        for e in [Endian::Little, Endian::Big] {
            if let Ok(s) = slaw::decode(&b, e) {
                // Non-canonical input (non-zero padding, long forms) may re-encode
                // differently, but always to something valid.
                prop_assert!(slaw::decode(&bytes_of(&s, e), e).is_ok());
            }
            if let Ok(v) = slaw::SlawView::new(&b, e) {
                let _ = v.to_slaw();
            }
            let _ = slaw::v1::decode_stream(&b, e);
        }
        let _ = slaw::validate_protein(&b);
        let _ = slaw::decode_protein(&b);
        let mut with_header = file::header_bytes(Endian::Little).to_vec();
        with_header.extend_from_slice(&b);
        let _ = file::read(&with_header);
        with_header[4] = 1;
        let _ = file::read(&with_header);
    }

    #[test]
    fn mutated_encodings_never_panic(s in tree(true), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut b = bytes_of(&s, Endian::Little);
        if !b.is_empty() {
            let i = at.index(b.len());
            b[i] = byte;
        }
        if let Ok(d) = slaw::decode(&b, Endian::Little) {
            prop_assert!(slaw::decode(&bytes_of(&d, Endian::Little), Endian::Little).is_ok());
        }
        let _ = slaw::validate_protein(&b);
    }

    #[test]
    fn arbitrary_text_never_panics_the_yaml_reader(t in "\\PC{0,120}") {
        let _ = slaw::from_yaml_docs(&t);
    }
}

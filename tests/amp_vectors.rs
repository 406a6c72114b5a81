//! Twisted's bytes (tests/vectors/amp/amp.tsv, copied unchanged from the
//! shared vectors) matched both ways: decode then re-encode, and build the
//! same boxes from typed values with our protocol layer.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tidepool::engine::amp::catalog::Catalog;
use tidepool::engine::amp::codec::{decode_all, AmpBox};
use tidepool::engine::amp::protocol::{Incoming, Outcome, Peer, Request};
use tidepool::engine::amp::responder::{decode_request, outcome_for, AppError, Canned};
use tidepool::engine::amp::types::{
    self, ArgType, DateTime, Decimal, Field, Integer, Record, Value,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn vectors() -> HashMap<String, Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/amp/amp.tsv");
    let text = std::fs::read_to_string(path).expect("vectors file");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_string(), hex(cols[cols.len() - 1]))
        })
        .collect()
}

fn catalog() -> Catalog {
    Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/interop.toml"))
        .expect("schema")
}

fn one_box(bytes: &[u8]) -> AmpBox {
    let mut boxes = decode_all(bytes).expect("decodes");
    assert_eq!(boxes.len(), 1);
    boxes.remove(0)
}

#[test]
fn every_box_vector_round_trips_byte_for_byte() {
    let v = vectors();
    assert_eq!(v.len(), 65, "all 65 vectors present");
    let mut n = 0;
    for (name, bytes) in &v {
        if name.starts_with("arg_") {
            continue;
        }
        let b = one_box(bytes);
        assert_eq!(b.to_bytes().unwrap().as_ref(), &bytes[..], "{name}");
        n += 1;
    }
    assert!(n >= 25);
}

fn int(v: i64) -> Value {
    Value::Integer(Integer::from(v))
}

fn dt(text: &str) -> Value {
    Value::DateTime(DateTime::parse(text.as_bytes()).unwrap())
}

fn dec(text: &str) -> Value {
    Value::Decimal(Decimal::parse(text).unwrap())
}

fn rec(pairs: &[(&str, Value)]) -> Record {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn argument_vectors_encode_and_decode() {
    let v = vectors();
    let unicode = || ArgType::Unicode;
    let list = |t| ArgType::ListOf(Box::new(t));
    let row = ArgType::AmpList(vec![
        Field::new("name", ArgType::Unicode),
        Field::new("value", ArgType::Integer),
    ]);
    let xy = ArgType::AmpList(vec![
        Field::new("x", ArgType::Integer),
        Field::optional("y", ArgType::Integer),
    ]);
    let u = |s: &str| Value::Unicode(s.to_string());
    let cases: Vec<(&str, ArgType, Value)> = vec![
        ("arg_integer_0", ArgType::Integer, int(0)),
        ("arg_integer_neg42", ArgType::Integer, int(-42)),
        (
            "arg_integer_big_neg",
            ArgType::Integer,
            Value::Integer(Integer::parse("-1180591620717411303424").unwrap()),
        ),
        ("arg_float_0_1", ArgType::Float, Value::Float(0.1)),
        ("arg_float_100", ArgType::Float, Value::Float(100.0)),
        ("arg_float_1e15", ArgType::Float, Value::Float(1e15)),
        ("arg_float_1e16", ArgType::Float, Value::Float(1e16)),
        ("arg_float_1e300", ArgType::Float, Value::Float(1e300)),
        ("arg_float_0_0001", ArgType::Float, Value::Float(0.0001)),
        ("arg_float_1e_minus05", ArgType::Float, Value::Float(1e-5)),
        ("arg_float_neg_zero", ArgType::Float, Value::Float(-0.0)),
        ("arg_float_inf", ArgType::Float, Value::Float(f64::INFINITY)),
        (
            "arg_float_neg_inf",
            ArgType::Float,
            Value::Float(f64::NEG_INFINITY),
        ),
        ("arg_float_max", ArgType::Float, Value::Float(f64::MAX)),
        (
            "arg_float_min_subnormal",
            ArgType::Float,
            Value::Float(5e-324),
        ),
        ("arg_boolean_true", ArgType::Boolean, Value::Boolean(true)),
        ("arg_boolean_false", ArgType::Boolean, Value::Boolean(false)),
        (
            "arg_string_bytes",
            ArgType::String,
            Value::Bytes(Bytes::from_static(&[0, 0xff])),
        ),
        ("arg_unicode", unicode(), u("h\u{e9}llo \u{2603}")),
        ("arg_decimal_1_50", ArgType::Decimal, dec("1.50")),
        ("arg_decimal_neg_1_50e3", ArgType::Decimal, dec("-1.50E+3")),
        ("arg_decimal_1e2", ArgType::Decimal, dec("1E+2")),
        ("arg_decimal_1e_minus7", ArgType::Decimal, dec("0.0000001")),
        ("arg_decimal_0_000001", ArgType::Decimal, dec("0.000001")),
        ("arg_decimal_neg_zero", ArgType::Decimal, dec("-0")),
        ("arg_decimal_nan", ArgType::Decimal, dec("NaN")),
        ("arg_decimal_neg_snan", ArgType::Decimal, dec("-sNaN")),
        ("arg_decimal_inf", ArgType::Decimal, dec("Infinity")),
        ("arg_decimal_neg_inf", ArgType::Decimal, dec("-Infinity")),
        (
            "arg_datetime_utc",
            ArgType::DateTime,
            dt("2000-01-01T00:00:00.000000+00:00"),
        ),
        (
            "arg_datetime_plus0530",
            ArgType::DateTime,
            dt("1999-12-31T23:59:59.000000+05:30"),
        ),
        (
            "arg_datetime_minus0500_us",
            ArgType::DateTime,
            dt("2024-02-29T12:30:45.123456-05:00"),
        ),
        (
            "arg_path",
            ArgType::Path,
            Value::Path("/srv/data/x.txt".into()),
        ),
        (
            "arg_listof_integer",
            list(ArgType::Integer),
            Value::List(vec![int(1), int(22), int(333)]),
        ),
        (
            "arg_listof_unicode",
            list(ArgType::Unicode),
            Value::List(vec![u("a"), u("\u{e9}"), u("")]),
        ),
        (
            "arg_listof_boolean",
            list(ArgType::Boolean),
            Value::List(vec![Value::Boolean(true), Value::Boolean(false)]),
        ),
        (
            "arg_amplist_one",
            row.clone(),
            Value::Records(vec![rec(&[("name", u("a")), ("value", int(1))])]),
        ),
        (
            "arg_amplist_two",
            row.clone(),
            Value::Records(vec![
                rec(&[("name", u("a")), ("value", int(1))]),
                rec(&[("name", u("b")), ("value", int(41))]),
            ]),
        ),
        (
            "arg_amplist_optional_omitted",
            xy,
            Value::Records(vec![rec(&[("x", int(1))])]),
        ),
    ];
    for (name, ty, value) in cases {
        let bytes = &v[name];
        assert_eq!(
            types::encode(&ty, &value).unwrap().as_ref(),
            &bytes[..],
            "encode {name}"
        );
        assert_eq!(
            types::decode(&ty, &Bytes::copy_from_slice(bytes)).unwrap(),
            value,
            "decode {name}"
        );
    }
    // NaN never equals itself: compare the bytes and the class.
    let nan = &v["arg_float_nan"];
    assert_eq!(
        types::encode(&ArgType::Float, &Value::Float(f64::NAN))
            .unwrap()
            .as_ref(),
        &nan[..]
    );
    assert!(matches!(
        types::decode(&ArgType::Float, &Bytes::copy_from_slice(nan)).unwrap(),
        Value::Float(x) if x.is_nan()
    ));
}

/// Builds the request our caller side sends for `command` with `args`, as the
/// first call on a connection (tag 1).
fn request(cat: &Catalog, command: &str, args: &Record) -> Vec<u8> {
    let c = cat.get(command).unwrap();
    let fields = types::encode_fields(&c.arguments, args).unwrap();
    let mut peer: Peer<()> = Peer::new();
    let (b, _) = peer.call(command, fields, c.requires_answer, Duration::ZERO, None, ());
    b.to_bytes().unwrap().to_vec()
}

fn as_request(bytes: &[u8]) -> Request {
    let mut peer: Peer<()> = Peer::new();
    match peer.receive(one_box(bytes)).unwrap() {
        Incoming::Request(r) => r,
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn typed_requests_match_twisted_requests() {
    let v = vectors();
    let cat = catalog();
    let u = |s: &str| Value::Unicode(s.to_string());
    assert_eq!(
        request(&cat, "Sum", &rec(&[("a", int(13)), ("b", int(81))])),
        v["v01_sum_request"]
    );
    assert_eq!(
        request(&cat, "Echo", &rec(&[("text", u("h\u{e9}llo \u{2603}"))])),
        v["v02_echo_request"]
    );
    assert_eq!(
        request(
            &cat,
            "Divide",
            &rec(&[("numerator", int(7)), ("denominator", int(0))])
        ),
        v["v03_divide_request"]
    );
    let rows = Value::Records(vec![
        rec(&[("name", u("a")), ("value", int(1))]),
        rec(&[("name", u("b")), ("value", int(41))]),
    ]);
    assert_eq!(
        request(&cat, "Tabulate", &rec(&[("rows", rows)])),
        v["v05_tabulate_request"]
    );
    let types6 = rec(&[
        (
            "i",
            Value::Integer(Integer::parse("-1180591620717411303424").unwrap()),
        ),
        ("x", Value::Float(f64::NAN)),
        ("flag", Value::Boolean(false)),
        ("d", dec("-1.50E+3")),
        ("when", dt("2024-02-29T12:30:45.123456-00:00")),
        ("raw", Value::Bytes(Bytes::from_static(&[0, 0xff]))),
    ]);
    assert_eq!(request(&cat, "Types", &types6), v["v06_types_request"]);
    let types7 = rec(&[
        ("i", int(0)),
        ("x", Value::Float(f64::NEG_INFINITY)),
        ("flag", Value::Boolean(true)),
        ("d", dec("NaN")),
        ("when", dt("1999-12-31T23:59:59.000000+05:30")),
        ("raw", Value::Bytes(Bytes::new())),
        ("note", u("\u{fc}")),
    ]);
    assert_eq!(request(&cat, "Types", &types7), v["v07_types_request"]);
    assert_eq!(
        request(&cat, "Log", &rec(&[("message", u("hi"))])),
        v["v08_log_no_answer"]
    );
    assert_eq!(
        request(&cat, "Shutdown", &Record::new()),
        v["v09_shutdown_request"]
    );
    assert_eq!(
        request(&cat, "Ask", &rec(&[("name", u("rust"))])),
        v["v11_ask_request"]
    );
    assert_eq!(
        request(&cat, "ClientGreet", &rec(&[("name", u("rust"))])),
        v["v11_callback_request"]
    );
}

fn reply_bytes(req: &Request, outcome: Outcome) -> (Vec<u8>, bool) {
    let r = req.reply(outcome);
    (r.send.unwrap().to_bytes().unwrap().to_vec(), r.close)
}

#[test]
fn responder_answers_match_twisted_answers() {
    let v = vectors();
    let cat = catalog();
    let u = |s: &str| Value::Unicode(s.to_string());
    let answer = |name: &str, result: Result<Record, AppError>| {
        let req = as_request(&v[name]);
        let (command, _) = decode_request(&cat, &req).unwrap();
        reply_bytes(&req, outcome_for(command, result))
    };
    assert_eq!(
        answer("v01_sum_request", Ok(rec(&[("total", int(94))]))),
        (v["v01_sum_answer"].clone(), false)
    );
    assert_eq!(
        answer(
            "v02_echo_request",
            Ok(rec(&[("text", u("h\u{e9}llo \u{2603}"))]))
        ),
        (v["v02_echo_answer"].clone(), false)
    );
    assert_eq!(
        answer(
            "v03_divide_request",
            Err(AppError::new("ZERO_DIVISION", "division by zero"))
        ),
        (v["v03_divide_error"].clone(), false)
    );
    assert_eq!(
        answer(
            "v05_tabulate_request",
            Ok(rec(&[
                ("names", Value::List(vec![u("a"), u("b")])),
                ("total", int(42))
            ]))
        ),
        (v["v05_tabulate_answer"].clone(), false)
    );
    assert_eq!(
        answer(
            "v09_shutdown_request",
            Err(AppError::new("FATAL_SHUTDOWN", "asked to shut down"))
        ),
        (v["v09_fatal_error"].clone(), true)
    );
    assert_eq!(
        answer(
            "v11_callback_request",
            Ok(rec(&[("greeting", u("hello rust"))]))
        ),
        (v["v11_callback_answer"].clone(), false)
    );
    assert_eq!(
        answer(
            "v11_ask_request",
            Ok(rec(&[("reply", u("client said: hello rust"))]))
        ),
        (v["v11_ask_answer"].clone(), false)
    );
    // Types echoes every value: the canned responder echoes same-named args.
    let canned = Canned::new(cat.clone());
    for (req, ans) in [
        ("v06_types_request", "v06_types_answer"),
        ("v07_types_request", "v07_types_answer"),
    ] {
        let r = as_request(&v[req]);
        assert_eq!(reply_bytes(&r, canned.outcome(&r)), (v[ans].clone(), false));
    }
    // Unknown command: UNHANDLED, connection kept.
    let r = as_request(&v["v04_unknown_request"]);
    assert_eq!(
        reply_bytes(&r, canned.outcome(&r)),
        (v["v04_unhandled_error"].clone(), false)
    );
    // Missing required argument: UNKNOWN, connection closed.
    let r = as_request(&v["v10_sum_missing_arg_request"]);
    assert_eq!(
        reply_bytes(&r, canned.outcome(&r)),
        (v["v10_unknown_error"].clone(), true)
    );
    // Fire-and-forget: nothing is sent.
    let r = as_request(&v["v08_log_no_answer"]);
    assert_eq!(r.reply(canned.outcome(&r)).send, None);
}

#[test]
fn answers_decode_by_schema() {
    let v = vectors();
    let cat = catalog();
    let mut peer: Peer<()> = Peer::new();
    let (_, tag) = peer.call("Types", AmpBox::new(), true, Duration::ZERO, None, ());
    assert_eq!(tag.unwrap().as_ref(), b"1");
    match peer.receive(one_box(&v["v07_types_answer"])).unwrap() {
        Incoming::Answer { fields, .. } => {
            let rec = types::decode_fields(&cat.get("Types").unwrap().response, &fields).unwrap();
            assert_eq!(rec["note"], Value::Unicode("\u{fc}".into()));
            assert_eq!(rec["d"], dec("NaN"));
            assert_eq!(rec["x"], Value::Float(f64::NEG_INFINITY));
        }
        other => panic!("{other:?}"),
    }
}

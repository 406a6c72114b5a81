//! Criterion benches of the AMP engine's pieces: box encode/decode, typed
//! argument encoding, and calls over an in-memory pipe (client and server
//! tasks of `engine::amp::io`).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tidepool::engine::amp::catalog::Catalog;
use tidepool::engine::amp::codec::{AmpBox, BoxCodec};
use tidepool::engine::amp::io::{self, NoCommands};
use tidepool::engine::amp::responder::Canned;
use tidepool::engine::amp::types::{
    self, ArgType, DateTime, Decimal, Field, Integer, Record, Value,
};
use tidepool::net::transport::{memory_pair, Peer};
use tokio_util::codec::Decoder;

fn sum_request() -> AmpBox {
    AmpBox::new()
        .with(&b"_ask"[..], &b"1a"[..])
        .with(&b"_command"[..], &b"Sum"[..])
        .with(&b"a"[..], &b"13"[..])
        .with(&b"b"[..], &b"81"[..])
}

fn codec(c: &mut Criterion) {
    let b = sum_request();
    let wire = b.to_bytes().unwrap();
    let mut g = c.benchmark_group("amp_codec");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_sum_request", |bench| {
        let mut out = BytesMut::with_capacity(64);
        bench.iter(|| {
            out.clear();
            b.encode(&mut out).unwrap();
        })
    });
    g.bench_function("decode_sum_request", |bench| {
        let mut codec = BoxCodec::default();
        bench.iter(|| {
            let mut buf = BytesMut::from(&wire[..]);
            codec.decode(&mut buf).unwrap().unwrap()
        })
    });
    let mut stream = BytesMut::new();
    for _ in 0..1000 {
        stream.extend_from_slice(&wire);
    }
    let stream = stream.freeze();
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("decode_1000_boxes_in_one_read", |bench| {
        let mut codec = BoxCodec::default();
        bench.iter(|| {
            let mut buf = BytesMut::from(&stream[..]);
            let mut n = 0;
            while let Some(_b) = codec.decode(&mut buf).unwrap() {
                n += 1;
            }
            assert_eq!(n, 1000);
        })
    });
    g.finish();
}

fn typed(c: &mut Criterion) {
    let fields = vec![
        Field::new("i", ArgType::Integer),
        Field::new("x", ArgType::Float),
        Field::new("flag", ArgType::Boolean),
        Field::new("d", ArgType::Decimal),
        Field::new("when", ArgType::DateTime),
        Field::new("raw", ArgType::String),
    ];
    let record: Record = [
        (
            "i",
            Value::Integer(Integer::parse("-1180591620717411303424").unwrap()),
        ),
        ("x", Value::Float(0.1)),
        ("flag", Value::Boolean(true)),
        ("d", Value::Decimal(Decimal::parse("-1.50E+3").unwrap())),
        (
            "when",
            Value::DateTime(DateTime::parse_text("2024-02-29T12:30:45.123456Z").unwrap()),
        ),
        ("raw", Value::Bytes(Bytes::from_static(&[0, 0xff]))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let encoded = types::encode_fields(&fields, &record).unwrap();
    let mut g = c.benchmark_group("amp_types");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_types_record", |b| {
        b.iter(|| types::encode_fields(&fields, &record).unwrap())
    });
    g.bench_function("decode_types_record", |b| {
        b.iter(|| types::decode_fields(&fields, &encoded).unwrap())
    });
    g.bench_function("format_float", |b| {
        b.iter(|| types::format_float(std::hint::black_box(f64::MAX)))
    });
    g.finish();
}

fn memory_calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let catalog = Catalog::from_toml(
        r#"[[command]]
           name = "Sum"
           arguments = [{ name = "a", type = "integer" }, { name = "b", type = "integer" }]
           response = [{ name = "total", type = "integer" }]
           canned = { total = 94 }"#,
        "bench",
    )
    .unwrap();
    let client = rt.block_on(async {
        let (a, b) = memory_pair(1 << 20);
        let (client, fut) = io::spawn_parts(
            a,
            Peer::Memory("client".into()),
            Arc::new(NoCommands),
            io::Options::default(),
            None,
            false,
            true,
        );
        tokio::spawn(fut);
        let (_server, fut) = io::spawn_parts(
            b,
            Peer::Memory("server".into()),
            Arc::new(Canned::new(catalog)),
            io::Options::default(),
            None,
            false,
            false,
        );
        tokio::spawn(fut);
        client
    });
    let args = AmpBox::new()
        .with(&b"a"[..], &b"13"[..])
        .with(&b"b"[..], &b"81"[..]);
    let mut g = c.benchmark_group("amp_memory_pipe");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sequential_call", |b| {
        b.iter(|| rt.block_on(client.call("Sum", args.clone())).unwrap())
    });
    g.throughput(Throughput::Elements(256));
    g.bench_function("pipelined_256_calls", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut pending = Vec::with_capacity(256);
                for _ in 0..256 {
                    pending.push(
                        client
                            .start_call("Sum", args.clone(), true, Default::default())
                            .await
                            .unwrap(),
                    );
                }
                for p in pending {
                    p.await.unwrap();
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, codec, typed, memory_calls);
criterion_main!(benches);

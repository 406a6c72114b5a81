//! simpy.io pieces: message encode/decode, JSON parse/emit, and one call over
//! an in-memory connection (engine overhead without the kernel's loopback).

use std::sync::Arc;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio_util::codec::{Decoder, Encoder};

use tidepool::engine::simpyio::codec::{Kind, Message, MessageCodec};
use tidepool::engine::simpyio::{io, mock, Call, Json, Service};
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{memory_pair, Peer};

fn request() -> Message {
    Message {
        kind: Kind::Request,
        id: Json::from(1234),
        content: Call::new(
            "greet",
            vec![
                Json::str("rust"),
                Json::Float(2.5),
                Json::str("h\u{e9} \u{2603}"),
            ],
        )
        .to_content(),
    }
}

fn codec(c: &mut Criterion) {
    let msg = request();
    let text = msg.to_text();
    let mut g = c.benchmark_group("simpyio_codec");
    g.throughput(Throughput::Bytes(text.len() as u64 + 4));
    g.bench_function("encode_request", |b| {
        let mut codec = MessageCodec::default();
        let mut buf = BytesMut::with_capacity(256);
        b.iter(|| {
            codec.encode(&msg, &mut buf).unwrap();
            buf.clear();
        })
    });
    let mut wire = BytesMut::new();
    MessageCodec::default().encode(&msg, &mut wire).unwrap();
    g.bench_function("decode_request", |b| {
        let mut codec = MessageCodec::default();
        b.iter(|| {
            let mut buf = wire.clone();
            codec.decode(&mut buf).unwrap().unwrap()
        })
    });
    let big = Json::parse(&format!(
        "{{\"items\": [{}], \"name\": \"x\"}}",
        (0..200)
            .map(|i| format!("{{\"id\": {i}, \"v\": {i}.5, \"ok\": true, \"s\": \"item {i}\"}}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .unwrap();
    let big_text = big.to_text();
    g.throughput(Throughput::Bytes(big_text.len() as u64));
    g.bench_function("json_parse_10k", |b| {
        b.iter(|| Json::parse(&big_text).unwrap())
    });
    g.bench_function("json_emit_10k", |b| b.iter(|| big.to_text()));
    g.finish();
}

fn call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async {
        let (a, b) = memory_pair(1 << 16);
        let sd = Shutdown::new();
        tokio::spawn(io::serve_connection(
            b,
            Peer::Memory("bench".into()),
            Arc::new(mock::server()),
            io::Options::default(),
            sd.clone(),
        ));
        let (client, _task) = io::start(
            a,
            Peer::Memory("bench".into()),
            Arc::new(Service::new()),
            io::Options::default(),
            sd,
        );
        client
    });
    let mut g = c.benchmark_group("simpyio_call");
    g.throughput(Throughput::Elements(1));
    g.bench_function("echo_in_memory_sequential", |b| {
        b.iter(|| {
            rt.block_on(client.call_args("echo", vec![Json::from(1)]))
                .unwrap()
        })
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("echo_in_memory_64_pipelined", |b| {
        b.iter(|| {
            rt.block_on(futures::future::join_all(
                (0..64).map(|i| client.call_args("echo", vec![Json::from(i)])),
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, codec, call);
criterion_main!(benches);

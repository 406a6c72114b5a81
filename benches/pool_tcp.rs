//! Criterion benches of the pool TCP engine: message codec (encode and decode of
//! a DEPOSIT request) and loopback round trips (deposit, nth) through
//! tidepool's client and server.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tidepool::engine::pool::{CreateOptions, Pools};
use tidepool::engine::pool_tcp::codec::{Arg, Codec, Message, Mode, Outbound};
use tidepool::engine::pool_tcp::io::{serve, Client, ClientOptions, ServerConfig};
use tidepool::engine::pool_tcp::protocol::op;
use tidepool::engine::slaw::{self, Protein, Slaw};
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{Listener, LocalAddr};
use tokio_util::codec::{Decoder, Encoder};

fn protein() -> Bytes {
    let p = Protein::new(
        Slaw::strings(["bench", "sensor"]),
        Slaw::map([("seq", Slaw::i64(1)), ("value", Slaw::f64(21.5))]),
    )
    .with_rude(vec![7u8; 64]);
    Bytes::from(slaw::encode_protein(&p))
}

fn codec(c: &mut Criterion) {
    let msg = Message::new(op::DEPOSIT, vec![Arg::Protein(protein())]);
    let bytes = msg.to_bytes();
    let mut g = c.benchmark_group("pool_tcp_codec");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode_deposit", |b| {
        let mut codec = Codec::new(Mode::Messages);
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            codec
                .encode(Outbound::Message(msg.clone()), &mut out)
                .unwrap();
        })
    });
    // The slaw-tree encoder the direct one replaced, for the ratio in one run.
    g.bench_function("encode_deposit_via_slaw_tree", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            msg.clone().encode_tree_into(&mut out);
        })
    });
    let reply = Message::new(
        op::RESULT,
        vec![Arg::Protein(protein()), Arg::Float(1.5e9), Arg::Int(0)],
    );
    g.bench_function("encode_nth_reply", |b| {
        let mut codec = Codec::new(Mode::Messages);
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            codec
                .encode(Outbound::Message(reply.clone()), &mut out)
                .unwrap();
        })
    });
    g.bench_function("encode_nth_reply_via_slaw_tree", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            reply.clone().encode_tree_into(&mut out);
        })
    });
    let reply_bytes = reply.to_bytes();
    g.bench_function("decode_nth_reply", |b| {
        let mut codec = Codec::new(Mode::Messages);
        b.iter(|| {
            let mut buf = BytesMut::from(&reply_bytes[..]);
            codec.decode(&mut buf).unwrap().unwrap()
        })
    });
    g.bench_function("decode_deposit", |b| {
        let mut codec = Codec::new(Mode::Messages);
        b.iter(|| {
            let mut buf = BytesMut::from(&bytes[..]);
            codec.decode(&mut buf).unwrap().unwrap()
        })
    });
    g.finish();
}

fn loopback(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pools = Pools::new(dir.path());
    pools
        .create(
            "bench",
            &CreateOptions {
                size: 64 << 20,
                ..Default::default()
            },
        )
        .unwrap();
    let shutdown = Shutdown::new();
    let mut client = rt.block_on(async {
        let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let LocalAddr::Tcp(addr) = listener.local_addr().unwrap() else {
            unreachable!("tcp listener")
        };
        shutdown.spawn(serve(listener, shutdown.clone(), ServerConfig::new(pools)));
        let uri = format!("tcp://{addr}/bench").parse().unwrap();
        let mut c = Client::connect(&uri, &ClientOptions::default())
            .await
            .unwrap();
        c.participate("bench", None).await.unwrap().unwrap();
        c
    });
    let p = protein();
    let mut g = c.benchmark_group("pool_tcp_loopback");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("deposit_round_trip", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    client.deposit(p.clone()).await.unwrap().unwrap();
                }
                t.elapsed()
            })
        })
    });
    g.bench_function("nth_round_trip", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    client.nth(0).await.unwrap().unwrap();
                }
                t.elapsed()
            })
        })
    });
    g.finish();
    shutdown.trigger();
}

criterion_group!(benches, codec, loopback);
criterion_main!(benches);

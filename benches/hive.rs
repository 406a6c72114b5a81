//! Criterion benches of the hive's pieces (hive spec section 10): RESP request
//! decoding, reply encoding, cache-hit reads and transient writes through the
//! group-commit writer. `tidepool bench hive` measures the whole server against
//! redis-server.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tidepool::engine::hive::codec::{encode_reply, request_bytes, Reply, RequestDecoder};
use tidepool::engine::hive::store::{Config, Store};
use tidepool::engine::hive::{Backend, Expiry, Hive};
use tokio_util::codec::Decoder;

fn codec(c: &mut Criterion) {
    let mut pipeline = Vec::new();
    for i in 0..1_000 {
        pipeline.extend_from_slice(&request_bytes(&[
            Bytes::from_static(b"SET"),
            Bytes::from(format!("key:{i:012}")),
            Bytes::from_static(b"xxx"),
        ]));
    }
    let mut g = c.benchmark_group("hive_codec");
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("decode_1000_set_requests", |b| {
        b.iter(|| {
            let mut d = RequestDecoder::default();
            let mut buf = BytesMut::from(&pipeline[..]);
            let mut n = 0;
            while let Ok(Some(_)) = d.decode(&mut buf) {
                n += 1;
            }
            assert_eq!(n, 1_000);
        })
    });
    let reply = Reply::Bulk(Bytes::from(vec![b'v'; 64]));
    g.bench_function("encode_1000_bulk_replies", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(100_000);
            for _ in 0..1_000 {
                encode_reply(&reply, 2, &mut out);
            }
            out
        })
    });
    g.finish();
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let h = rt.block_on(async {
        let h = Backend::Embedded(Store::open(Config::transient()).expect("store"));
        for i in 0..500 {
            h.update(
                format!("k{i}").as_bytes(),
                Bytes::from_static(b"xxx"),
                Expiry::Never,
            )
            .await
            .expect("seed");
        }
        h
    });
    let mut g = c.benchmark_group("hive_store");
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("get_1000_cache_hits", |b| {
        b.iter(|| {
            rt.block_on(async {
                for i in 0..1_000 {
                    h.get(format!("k{}", i % 500).as_bytes())
                        .await
                        .expect("hit");
                }
            })
        })
    });
    g.bench_function("update_1000_transient_concurrent", |b| {
        b.iter(|| {
            rt.block_on(async {
                let writes = (0..1_000).map(|i| {
                    let h = h.clone();
                    async move {
                        h.update(
                            format!("k{}", i % 500).as_bytes(),
                            Bytes::from_static(b"yyy"),
                            Expiry::Never,
                        )
                        .await
                    }
                });
                for r in futures::future::join_all(writes).await {
                    r.expect("update");
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, codec, store);
criterion_main!(benches);

//! Criterion benchmark of the slaw engine: encode, full decode and zero-copy
//! validate+view of the typical and the 64 KiB sample proteins, with memcpy of
//! the same bytes as the ceiling. Throughput is in proteins (elements).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tidepool::engine::slaw::{self, sample, Endian};

fn bench(c: &mut Criterion) {
    for (name, p) in [
        ("typical", sample::typical_protein()),
        ("64KiB", sample::large_protein()),
    ] {
        let bytes = slaw::encode_protein(&p);
        let mut g = c.benchmark_group(format!("slaw/{name}"));
        g.throughput(Throughput::Elements(1));
        let mut buf = Vec::with_capacity(bytes.len());
        g.bench_function("encode", |b| {
            b.iter(|| {
                buf.clear();
                slaw::encode_protein_into(black_box(&p), Endian::Little, &mut buf);
                black_box(&buf);
            })
        });
        g.bench_function("decode", |b| {
            b.iter(|| black_box(slaw::decode_protein(black_box(&bytes)).ok()))
        });
        g.bench_function("validate_view", |b| {
            b.iter(|| {
                if let Ok(v) = slaw::validate_protein(black_box(&bytes)) {
                    let first = v.descrips().and_then(|d| d.children().next());
                    black_box((
                        first.and_then(|s| s.as_str()),
                        v.ingest("id"),
                        v.rude().len(),
                    ));
                }
            })
        });
        let mut dst = vec![0u8; bytes.len()];
        g.bench_function("memcpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&bytes));
                black_box(&dst);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Criterion benches of local mmap pools: single and batched deposits of 256 B
//! and 4 KiB proteins (System V semaphore lock), and nth reads.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tidepool::cli::bench::pool::protein_of_size;
use tidepool::engine::pool::{CreateOptions, Pools};

fn deposit(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pools = Pools::new(tmp.path());
    let mut g = c.benchmark_group("pool_deposit");
    for bytes in [256usize, 4096] {
        let name = format!("d{bytes}");
        pools
            .create(
                &name,
                &CreateOptions {
                    size: 64 << 20,
                    toc_capacity: 1024,
                    ..Default::default()
                },
            )
            .expect("create");
        let mut p = pools.open(&name).expect("open");
        let prot = protein_of_size(bytes);
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("single", bytes), &prot, |b, prot| {
            b.iter(|| p.deposit(prot, 0.0).expect("deposit"))
        });
        let batch: Vec<&[u8]> = (0..64).map(|_| prot.as_slice()).collect();
        g.throughput(Throughput::Elements(64));
        g.bench_with_input(BenchmarkId::new("batch64", bytes), &batch, |b, batch| {
            b.iter(|| p.deposit_batch(batch, 0.0).expect("deposit"))
        });
        drop(p);
        pools.dispose(&name).expect("dispose");
    }
    g.finish();
}

fn nth(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pools = Pools::new(tmp.path());
    pools
        .create(
            "r",
            &CreateOptions {
                size: 16 << 20,
                toc_capacity: 1024,
                ..Default::default()
            },
        )
        .expect("create");
    let mut p = pools.open("r").expect("open");
    let prot = protein_of_size(256);
    for _ in 0..20_000 {
        p.deposit(&prot, 0.0).expect("deposit");
    }
    let (o, n) = p.index_range().expect("range").expect("not empty");
    let mut g = c.benchmark_group("pool_nth");
    g.throughput(Throughput::Elements(1));
    let mut i = o;
    g.bench_function("sequential_256", |b| {
        b.iter(|| {
            i = if i >= n { o } else { i + 1 };
            p.nth(i).expect("nth")
        })
    });
    let mut buf = Vec::new();
    g.bench_function("sequential_256_into", |b| {
        b.iter(|| {
            i = if i >= n { o } else { i + 1 };
            p.nth_into(i, &mut buf).expect("nth_into")
        })
    });
    let mut r = pools.open("r").expect("open");
    let mut k = 0i64;
    g.bench_function("strided_256", |b| {
        b.iter(|| {
            k = (k + 7919) % (n - o + 1);
            r.nth(o + k).expect("nth")
        })
    });
    g.finish();
    drop((p, r));
    pools.dispose("r").expect("dispose");
}

criterion_group!(benches, deposit, nth);
criterion_main!(benches);

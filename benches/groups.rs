//! Criterion benches of the groups engine's pieces: frame encode/decode at
//! 100 B and 1 KiB, the daemon core's fan-out to N members, and join/leave
//! churn through the core (no sockets; `tidepool bench groups` covers the
//! end-to-end path).

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tidepool::engine::groups::codec::{FrameCodec, Hello, Name, Role, AGREED_MESS};
use tidepool::engine::groups::protocol::{self, DaemonCore, Limits};
use tokio_util::codec::Decoder;

fn n(s: &str) -> Name {
    Name::new(s).expect("valid name")
}

fn hello(name: &str) -> Hello {
    Hello {
        version: (5, 0, 1),
        membership: true,
        priority: 0,
        name: Bytes::copy_from_slice(name.as_bytes()),
    }
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("groups_codec");
    for size in [100usize, 1024] {
        let frame = protocol::multicast_request(
            &n("#pa#localhost"),
            AGREED_MESS,
            vec![n("grp")],
            0,
            Bytes::from(vec![1u8; size]),
        )
        .expect("valid request");
        let bytes = frame.to_bytes();
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("encode", size), &frame, |b, f| {
            let mut out = BytesMut::with_capacity(2048);
            b.iter(|| {
                out.clear();
                f.encode(&mut out);
            })
        });
        g.bench_with_input(
            BenchmarkId::new("decode_classify", size),
            &bytes,
            |b, bytes| {
                let mut codec = FrameCodec::new(Role::Client);
                b.iter(|| {
                    let mut buf = BytesMut::from(&bytes[..]);
                    let f = codec.decode(&mut buf).expect("valid").expect("whole");
                    protocol::classify(f).expect("regular")
                })
            },
        );
    }
    g.finish();
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("groups_core_fanout");
    for members in [1u64, 4, 16] {
        let mut core = DaemonCore::new("localhost", 1, 2, Limits::default()).expect("name");
        let mut out = Vec::new();
        core.admit(0, &hello("sender"), 0).expect("admit");
        for m in 1..=members {
            let name = format!("m{m}");
            core.admit(m, &hello(&name), 0).expect("admit");
            core.handle(
                m,
                protocol::join_request(&n(&format!("#{name}#localhost")), &n("g")),
                &mut out,
            )
            .expect("join");
        }
        let frame = protocol::multicast_request(
            &n("#sender#localhost"),
            AGREED_MESS,
            vec![n("g")],
            0,
            Bytes::from(vec![0u8; 100]),
        )
        .expect("valid");
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("multicast_100B", members), |b| {
            b.iter(|| {
                out.clear();
                core.handle(0, frame.clone(), &mut out).expect("multicast");
            })
        });
    }
    g.finish();
}

fn churn(c: &mut Criterion) {
    let mut g = c.benchmark_group("groups_core_churn");
    let mut core = DaemonCore::new("localhost", 1, 2, Limits::default()).expect("name");
    let mut out = Vec::new();
    core.admit(1, &hello("watcher"), 0).expect("admit");
    core.admit(2, &hello("churner"), 0).expect("admit");
    core.handle(
        1,
        protocol::join_request(&n("#watcher#localhost"), &n("g")),
        &mut out,
    )
    .expect("join");
    let join = protocol::join_request(&n("#churner#localhost"), &n("g"));
    let leave = protocol::leave_request(&n("#churner#localhost"), &n("g"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("join_leave_cycle", |b| {
        b.iter(|| {
            out.clear();
            core.handle(2, join.clone(), &mut out).expect("join");
            core.handle(2, leave.clone(), &mut out).expect("leave");
        })
    });
    g.finish();
}

criterion_group!(benches, codec, fanout, churn);
criterion_main!(benches);

//! The simpy.io engine's unchanged client and server over a seeded simulated
//! network (tests/sim): random latencies, held links (a partition that heals
//! without losing bytes), refused connects across a partition, a server crash
//! and restart, abrupt closes mid-frame and slow readers. A failing run prints
//! its seed; `SIM_SEED=<seed>` replays it exactly.

mod sim;

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tidepool::engine::simpyio::{io, mock, Call, Error, Json, Reply};
use tidepool::net::shutdown::Shutdown;

const PORT: u16 = 7002;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn server_host(sim: &mut turmoil::Sim<'_>, name: &'static str) {
    sim.host(name, || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        let service = Arc::new(mock::server());
        let shutdown = Shutdown::new();
        loop {
            let (s, addr) = listener.accept().await?;
            let (stream, peer) = sim::stream(s, &addr.to_string());
            tokio::spawn(io::serve_connection(
                stream,
                peer,
                service.clone(),
                io::Options::default(),
                shutdown.clone(),
            ));
        }
    });
}

async fn connect(host: &str, timeout: Option<Duration>) -> std::io::Result<io::Client> {
    let s = turmoil::net::TcpStream::connect((host, PORT)).await?;
    let (stream, peer) = sim::stream(s, host);
    let opts = io::Options {
        call_timeout: timeout,
        ..io::Options::default()
    };
    let (client, _task) = io::start(
        stream,
        peer,
        Arc::new(mock::client()),
        opts,
        Shutdown::new(),
    );
    Ok(client)
}

fn show(r: &Result<Reply, Error>) -> String {
    match r {
        Ok(Reply::Success(v)) => format!("ok {v}"),
        Ok(Reply::Failure(t)) => format!("failure {t}"),
        Err(e) => format!("error {e}"),
    }
}

#[test]
fn pipelined_calls_under_random_latency_are_all_answered() {
    sim::run_seeds(
        "pipelined_calls_under_random_latency_are_all_answered",
        |seed, trace| {
            let mut sim = sim::builder(seed, ms(1), ms(40)).build();
            server_host(&mut sim, "server");
            for (n, name) in ["c1", "c2", "c3"].into_iter().enumerate() {
                let trace = trace.clone();
                sim.client(name, async move {
                    let client = connect("server", None).await?;
                    let mut rng =
                        StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(n as u64));
                    let mut calls = Vec::new();
                    let mut want = Vec::new();
                    for i in 0..25i64 {
                        let (call, expect) = match rng.random_range(0..4) {
                            0 => (Call::new("echo", vec![i.into()]), Json::from(i)),
                            1 => (
                                Call::new("add", vec![i.into(), 1.into()]),
                                Json::from(i + 1),
                            ),
                            2 => (
                                Call::new(
                                    "delay",
                                    vec![Json::Float(rng.random_range(0.0..0.2)), i.into()],
                                ),
                                Json::from(i),
                            ),
                            _ => (
                                Call::new("callback", vec![name.into()]),
                                Json::Str(format!("client said: hello {name}")),
                            ),
                        };
                        let c = client.clone();
                        calls.push(async move { c.call(call).await });
                        want.push(expect);
                    }
                    let results = futures::future::join_all(calls).await;
                    for (i, (r, w)) in results.iter().zip(want).enumerate() {
                        trace.log(format!("{name} call {i}: {}", show(r)));
                        assert_eq!(r.as_ref().ok(), Some(&Reply::Success(w)), "{name} call {i}");
                    }
                    Ok(())
                });
            }
            sim.run()
        },
    );
}

#[test]
fn held_link_times_out_then_heals_and_late_reply_is_dropped() {
    sim::run_seeds(
        "held_link_times_out_then_heals_and_late_reply_is_dropped",
        |seed, trace| {
            let mut sim = sim::builder(seed, ms(1), ms(20)).build();
            server_host(&mut sim, "server");
            let trace = trace.clone();
            sim.client("client", async move {
                let client = connect("server", Some(Duration::from_secs(1))).await?;
                let r = client.call_args("echo", vec!["before".into()]).await;
                trace.log(format!("before hold: {}", show(&r)));
                assert!(matches!(r, Ok(Reply::Success(_))));
                turmoil::hold("client", "server");
                let r = client.call_args("echo", vec!["held".into()]).await;
                trace.log(format!("while held: {}", show(&r)));
                assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
                turmoil::release("client", "server");
                tokio::time::sleep(Duration::from_secs(2)).await;
                let r = client.call_args("echo", vec!["after".into()]).await;
                trace.log(format!("after release: {}", show(&r)));
                assert_eq!(r.ok(), Some(Reply::Success(Json::str("after"))));
                Ok(())
            });
            sim.run()
        },
    );
}

#[test]
fn connect_across_a_partition_fails_then_succeeds_after_repair() {
    sim::run_seeds(
        "connect_across_a_partition_fails_then_succeeds_after_repair",
        |seed, trace| {
            let mut sim = sim::builder(seed, ms(1), ms(20)).build();
            server_host(&mut sim, "server");
            let trace = trace.clone();
            sim.client("client", async move {
                turmoil::partition("client", "server");
                let first =
                    tokio::time::timeout(Duration::from_secs(5), connect("server", None)).await;
                let failed = !matches!(first, Ok(Ok(_)));
                trace.log(format!("connect while partitioned failed: {failed}"));
                assert!(failed);
                turmoil::repair("client", "server");
                let client = connect("server", None).await?;
                let r = client.call_args("math/mul", vec![6.into(), 7.into()]).await;
                trace.log(format!("after repair: {}", show(&r)));
                assert_eq!(r.ok(), Some(Reply::Success(Json::Int(42))));
                Ok(())
            });
            sim.run()
        },
    );
}

#[test]
fn server_crash_fails_pending_calls_and_a_restart_serves_again() {
    sim::run_seeds(
        "server_crash_fails_pending_calls_and_a_restart_serves_again",
        |seed, trace| {
            let mut sim = sim::builder(seed, ms(1), ms(20)).build();
            server_host(&mut sim, "server");
            let t = trace.clone();
            sim.client("client", async move {
                let client = connect("server", Some(Duration::from_secs(5))).await?;
                let r = client
                    .call_args("delay", vec![30.into(), "never".into()])
                    .await;
                t.log(format!("pending call: {}", show(&r)));
                assert!(
                    matches!(r, Err(Error::Closed { .. }) | Err(Error::Timeout { .. })),
                    "{r:?}"
                );
                // reconnect until the restarted server accepts
                let mut attempts = 0;
                let client = loop {
                    attempts += 1;
                    match connect("server", Some(Duration::from_secs(5))).await {
                        Ok(c) => break c,
                        Err(e) if attempts < 40 => {
                            t.log(format!("reconnect {attempts}: {}", e.kind()));
                            tokio::time::sleep(ms(500)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                let r = client.call_args("echo", vec!["back".into()]).await;
                t.log(format!("after restart: {}", show(&r)));
                assert_eq!(r.ok(), Some(Reply::Success(Json::str("back"))));
                Ok(())
            });
            while sim.elapsed() < Duration::from_secs(1) {
                sim.step()?;
            }
            sim.crash("server");
            trace.log_at(sim.elapsed(), "server crashed");
            while sim.elapsed() < Duration::from_secs(3) {
                if sim.step()? {
                    return Ok(());
                }
            }
            sim.bounce("server");
            trace.log_at(sim.elapsed(), "server restarted");
            sim.run()
        },
    );
}

#[test]
fn slow_reader_and_abrupt_close_do_not_affect_other_clients() {
    sim::run_seeds(
        "slow_reader_and_abrupt_close_do_not_affect_other_clients",
        |seed, trace| {
            let mut sim = sim::builder(seed, ms(1), ms(10)).build();
            server_host(&mut sim, "server");
            const N: usize = 150;
            let t = trace.clone();
            sim.client("slow", async move {
                let s = turmoil::net::TcpStream::connect(("server", PORT)).await?;
                let (mut rd, mut wr) = tokio::io::split(s);
                let pad = "p".repeat(2000);
                let writer = tokio::spawn(async move {
                    for i in 0..N {
                        let text = format!("[0, {i}, [\"echo\", [\"{pad}\"], {{}}]]");
                        let mut f = (text.len() as u32).to_be_bytes().to_vec();
                        f.extend_from_slice(text.as_bytes());
                        wr.write_all(&f).await?;
                    }
                    std::io::Result::Ok(wr)
                });
                let mut got = Vec::new();
                let mut buf = vec![0u8; 1024];
                let want_len: usize = (0..N)
                    .map(|i| 4 + format!("[1, {i}, \"{}\"]", "p".repeat(2000)).len())
                    .sum();
                while got.len() < want_len {
                    let n = rd.read(&mut buf).await?;
                    assert!(n > 0, "server closed on the slow reader");
                    got.extend_from_slice(&buf[..n]);
                    tokio::time::sleep(ms(5)).await;
                }
                let _ = writer.await;
                let mut at = 0;
                for i in 0..N {
                    let len = u32::from_be_bytes([got[at], got[at + 1], got[at + 2], got[at + 3]])
                        as usize;
                    let text = std::str::from_utf8(&got[at + 4..at + 4 + len])?;
                    assert!(
                        text.starts_with(&format!("[1, {i}, ")),
                        "reply {i}: {}",
                        &text[..20]
                    );
                    at += 4 + len;
                }
                t.log(format!("slow reader got all {N} replies in order"));
                Ok(())
            });
            let t = trace.clone();
            sim.client("rude", async move {
                let mut s = turmoil::net::TcpStream::connect(("server", PORT)).await?;
                s.write_all(&[0, 0, 0, 40, b'[', b'0']).await?;
                drop(s);
                t.log("rude client closed mid-frame");
                Ok(())
            });
            let t = trace.clone();
            sim.client("fast", async move {
                tokio::time::sleep(ms(50)).await;
                let client = connect("server", None).await?;
                for i in 0..30i64 {
                    let r = client.call_args("add", vec![i.into(), i.into()]).await;
                    assert_eq!(r.ok(), Some(Reply::Success(Json::from(2 * i))));
                }
                t.log("fast client: 30 calls answered");
                Ok(())
            });
            sim.run()
        },
    );
}

#[test]
fn server_closing_mid_reply_fails_the_pending_call() {
    sim::run_seeds(
        "server_closing_mid_reply_fails_the_pending_call",
        |seed, trace| {
            let mut sim = sim::builder(seed, ms(1), ms(20)).build();
            sim.host("broken", || async {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
                loop {
                    let (mut s, _) = listener.accept().await?;
                    let mut head = [0u8; 4];
                    s.read_exact(&mut head).await?;
                    let mut body = vec![0u8; u32::from_be_bytes(head) as usize];
                    s.read_exact(&mut body).await?;
                    s.write_all(&[0, 0, 0, 12, b'[', b'1', b',']).await?;
                    drop(s);
                }
            });
            let t = trace.clone();
            sim.client("client", async move {
                let client = connect("broken", Some(Duration::from_secs(10))).await?;
                let r = client.call_args("echo", vec![1.into()]).await;
                t.log(format!("call: {}", show(&r)));
                assert!(matches!(r, Err(Error::Closed { .. })), "{r:?}");
                Ok(())
            });
            sim.run()
        },
    );
}

//! Loopback tests of the pool TCP engine: tidepool client ↔ tidepool server on
//! 127.0.0.1 port 0, plain and TLS (CA generated at test time), awaits woken by
//! other clients, shutdown with clients attached, malformed input.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tidepool::engine::pool::{CreateOptions, Pools};
use tidepool::engine::pool_tcp::codec::{Codec, Inbound, Mode, Outbound, GREETING};
use tidepool::engine::pool_tcp::io::{serve, Client, ClientOptions, PoolUri, ServerConfig};
use tidepool::engine::pool_tcp::protocol::{op, retort};
use tidepool::engine::pool_tcp::{Error, Retort};
use tidepool::engine::slaw::{self, Protein, Slaw};
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{Listener, LocalAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);

struct Server {
    dir: tempfile::TempDir,
    shutdown: Shutdown,
    port: u16,
}

impl Server {
    fn uri(&self, scheme: &str, pool: &str) -> PoolUri {
        format!("{scheme}://127.0.0.1:{}/{pool}", self.port)
            .parse()
            .unwrap()
    }
    fn pools(&self) -> Pools {
        Pools::new(self.dir.path())
    }
}

async fn start(tls: Option<Arc<rustls::ServerConfig>>, require_tls: bool) -> Server {
    start_idle(tls, require_tls, Some(Duration::from_secs(600))).await
}

async fn start_idle(
    tls: Option<Arc<rustls::ServerConfig>>,
    require_tls: bool,
    idle: Option<Duration>,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = match listener.local_addr().unwrap() {
        LocalAddr::Tcp(a) => a.port(),
        other => panic!("{other:?}"),
    };
    let mut cfg = ServerConfig::new(Pools::new(dir.path()));
    cfg.tls = tls;
    cfg.require_tls = require_tls;
    cfg.max_message_bytes = 1 << 20;
    cfg.idle_timeout = idle;
    let shutdown = Shutdown::new();
    shutdown.spawn(serve(listener, shutdown.clone(), cfg));
    Server {
        dir,
        shutdown,
        port,
    }
}

fn protein(n: i64) -> Bytes {
    let p = Protein::new(
        Slaw::strings(["test", if n % 2 == 0 { "even" } else { "odd" }]),
        Slaw::map([("n", Slaw::i64(n))]),
    );
    Bytes::from(slaw::encode_protein(&p))
}

fn opts() -> Slaw {
    Slaw::map([("size", Slaw::u64(1 << 20))])
}

async fn hose(s: &Server, scheme: &str, pool: &str, o: &ClientOptions) -> Client {
    let mut c = Client::connect(&s.uri(scheme, pool), o).await.unwrap();
    c.participate(pool, None).await.unwrap().unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_op_round_trips() {
    tokio::time::timeout(T, async {
        let s = start(None, false).await;
        let o = ClientOptions::default();
        let uri = s.uri("tcp", "a/b");
        // CREATE, LIST, PARTICIPATE_CREATINGLY
        let c = Client::connect(&uri, &o).await.unwrap();
        assert_eq!(c.pv, 3);
        assert!(c.mask & (1 << op::DEPOSIT) != 0);
        assert!(c.mask & (1 << op::STARTTLS) == 0);
        assert_eq!(c.create("a/b", &opts()).await.unwrap(), Ok(0));
        let c = Client::connect(&uri, &o).await.unwrap();
        assert_eq!(
            c.create("a/b", &opts()).await.unwrap(),
            Err(Retort(retort::POOL_EXISTS))
        );
        let mut c = Client::connect(&uri, &o).await.unwrap();
        assert_eq!(
            c.participate("made", Some(&opts())).await.unwrap(),
            Ok(retort::POOL_CREATED)
        );
        let names = Client::connect(&uri, &o)
            .await
            .unwrap()
            .list()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(names, vec!["a/b".to_string(), "made".to_string()]);

        let mut h = hose(&s, "tcp", "a/b", &o).await;
        assert_eq!(
            h.newest_index().await.unwrap(),
            Err(Retort(retort::POOL_NO_SUCH_PROTEIN))
        );
        for n in 0..5 {
            let (idx, ts) = h.deposit(protein(n)).await.unwrap().unwrap();
            assert_eq!(idx, n);
            assert!(ts > 0.0);
        }
        assert_eq!(h.oldest_index().await.unwrap(), Ok(0));
        assert_eq!(h.newest_index().await.unwrap(), Ok(4));
        let f = h.nth(3).await.unwrap().unwrap();
        assert_eq!(f.protein, protein(3));
        assert_eq!(
            h.nth(99).await.unwrap().unwrap_err(),
            Retort(retort::POOL_NO_SUCH_PROTEIN)
        );
        assert_eq!(h.next(2).await.unwrap().unwrap().index, 2);
        assert_eq!(h.prev(2).await.unwrap().unwrap().index, 1);
        assert_eq!(
            h.probe_frwd(0, Slaw::str("odd"))
                .await
                .unwrap()
                .unwrap()
                .index,
            1
        );
        assert_eq!(
            h.probe_back(4, Slaw::str("odd"))
                .await
                .unwrap()
                .unwrap()
                .index,
            3
        );
        assert_eq!(
            h.probe_frwd(0, Slaw::str("nope"))
                .await
                .unwrap()
                .unwrap_err(),
            Retort(retort::POOL_NO_SUCH_PROTEIN)
        );
        // The hose sits after the last NEXT/PROBE result: awaiting returns what follows.
        h.next(4).await.unwrap().unwrap();
        assert_eq!(
            h.await_next(Some(0.0)).await.unwrap().unwrap_err(),
            Retort(retort::POOL_AWAIT_TIMEDOUT)
        );
        let info = h.info().await.unwrap().unwrap();
        assert_eq!(info.ingest("type").and_then(Slaw::as_str), Some("mmap"));
        let t = h.nth(2).await.unwrap().unwrap().timestamp;
        assert_eq!(h.index_lookup(t, 0).await.unwrap(), Ok(2));
        h.set_hose_name("h", "test", 1).await.unwrap();
        let fancy = h.fancy_await(0, Slaw::str("even")).await.unwrap().unwrap();
        assert_eq!(fancy.index, 0);
        assert_eq!(
            h.change_options(&Slaw::map([("frozen", Slaw::bool(true))]))
                .await
                .unwrap(),
            Ok(0)
        );
        assert_eq!(
            h.deposit(protein(9)).await.unwrap().unwrap_err(),
            Retort(-200710)
        );
        assert_eq!(h.withdraw().await.unwrap(), Ok(0));

        // RENAME, DISPOSE
        let r = Client::connect(&uri, &o)
            .await
            .unwrap()
            .rename("made", "renamed")
            .await
            .unwrap();
        assert_eq!(r, Ok(0));
        let d = Client::connect(&uri, &o)
            .await
            .unwrap()
            .dispose("renamed")
            .await
            .unwrap();
        assert_eq!(d, Ok(0));
        let d = Client::connect(&uri, &o)
            .await
            .unwrap()
            .dispose("renamed")
            .await
            .unwrap();
        assert_eq!(d, Err(Retort(retort::POOL_NO_SUCH_POOL)));
        let mut c = Client::connect(&uri, &o).await.unwrap();
        assert_eq!(
            c.participate("missing", None).await.unwrap(),
            Err(Retort(retort::POOL_NO_SUCH_POOL))
        );
        s.shutdown.trigger();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_awaiters_wake_on_a_third_clients_deposit() {
    tokio::time::timeout(T, async {
        let s = start(None, false).await;
        s.pools()
            .create(
                "p",
                &CreateOptions {
                    size: 1 << 20,
                    ..Default::default()
                },
            )
            .unwrap();
        let o = ClientOptions::default();
        let mut waiters = Vec::new();
        for _ in 0..2 {
            let mut h = hose(&s, "tcp", "p", &o).await;
            waiters.push(tokio::spawn(async move {
                h.await_next(None).await.unwrap().unwrap()
            }));
        }
        let mut fancy = hose(&s, "tcp", "p", &o).await;
        let fancy = tokio::spawn(async move { fancy.fancy_await(0, Slaw::str("odd")).await });
        let mut d = hose(&s, "tcp", "p", &o).await;
        // Awaiters may not be parked yet: keep depositing until both wake.
        let mut n = 0;
        while waiters.iter().any(|w| !w.is_finished()) || !fancy.is_finished() {
            d.deposit(protein(n)).await.unwrap().unwrap();
            n += 1;
            assert!(n < 10_000);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for w in waiters {
            let f = w.await.unwrap();
            assert!(f.index >= 0);
        }
        let f = fancy.await.unwrap().unwrap().unwrap();
        assert_eq!(f.index % 2, 1);
        // A local deposit (same as a libPlasma process) wakes a network awaiter.
        let mut h = hose(&s, "tcp", "p", &o).await;
        let w = tokio::spawn(async move { h.await_next(Some(30.0)).await });
        let mut local = s.pools().open("p").unwrap();
        while !w.is_finished() {
            local
                .deposit(&protein(1000), tidepool::engine::pool::store::now_seconds())
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(w.await.unwrap().unwrap().is_ok());
        s.shutdown.trigger();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_awaiter_is_interrupted_by_the_next_request() {
    tokio::time::timeout(T, async {
        let s = start(None, false).await;
        s.pools().create("m", &CreateOptions::default()).unwrap();
        let mut h = hose(&s, "tcp", "m", &ClientOptions::default()).await;
        h.send(op::MULTI_ADD_AWAITER, vec![]).await.unwrap();
        h.send(op::NEWEST_INDEX, vec![]).await.unwrap();
        let woken = h.recv().await.unwrap();
        assert_eq!(
            woken.arg(0).and_then(|a| a.as_i64()),
            Some(retort::POOL_NO_SUCH_PROTEIN)
        );
        let newest = h.recv().await.unwrap();
        assert_eq!(
            newest.arg(1).and_then(|a| a.as_i64()),
            Some(retort::POOL_NO_SUCH_PROTEIN)
        );
        // And an uninterrupted one gets the next deposit.
        h.send(op::MULTI_ADD_AWAITER, vec![]).await.unwrap();
        let mut local = s.pools().open("m").unwrap();
        local.deposit(&protein(5), 1.0).unwrap();
        let got = h.recv().await.unwrap();
        assert_eq!(got.arg(0).and_then(|a| a.as_i64()), Some(0));
        assert_eq!(got.arg(3).and_then(|a| a.as_i64()), Some(0));
        s.shutdown.trigger();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_handle_lists_creates_and_deposits() {
    use tidepool::engine::pool_tcp::handle::{Event, RemoteHandle, Status};
    tokio::time::timeout(T, async {
        let s = start(None, false).await;
        let (h, mut events) = RemoteHandle::spawn(
            s.uri("tcp", ""),
            ClientOptions::default(),
            Duration::from_millis(50),
        );
        h.create("made/here", opts()).unwrap();
        assert!(matches!(events.recv().await, Some(Event::Created { .. })));
        h.deposit("made/here", protein(1).to_vec()).unwrap();
        assert!(matches!(
            events.recv().await,
            Some(Event::Deposited { index: 0, .. })
        ));
        h.dispose("nope").unwrap();
        assert!(matches!(
            events.recv().await,
            Some(Event::Refused {
                retort: Retort(retort::POOL_NO_SUCH_POOL),
                ..
            })
        ));
        let mut snap = h.snapshot();
        loop {
            let done = snap
                .borrow()
                .pools
                .iter()
                .any(|p| p.name == "made/here" && p.newest == Some(0) && p.size > 0);
            if done {
                break;
            }
            snap.changed().await.unwrap();
        }
        assert_eq!(*h.status().borrow(), Status::Connected);
        s.shutdown.trigger();
        assert!(s.shutdown.drain(Duration::from_secs(10)).await);
        let mut status = h.status();
        loop {
            if matches!(*status.borrow(), Status::Down { .. }) {
                break;
            }
            status.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_tail_reads_like_a_local_one() {
    tokio::time::timeout(T, async {
        let s = start(None, false).await;
        s.pools().create("t", &CreateOptions::default()).unwrap();
        let mut local = s.pools().open("t").unwrap();
        for n in 0..3 {
            local.deposit(&protein(n), 1.0 + n as f64).unwrap();
        }
        let mut tail = tidepool::engine::pool_tcp::handle::spawn_tail(
            s.uri("tcp", "t"),
            ClientOptions::default(),
            tidepool::engine::pool::io::From::Oldest,
            16,
            true,
        );
        for n in 0..3 {
            match tail.next().await {
                Some(tidepool::engine::pool::io::TailItem::Protein(e)) => {
                    assert_eq!(e.index, n);
                    assert_eq!(e.protein, protein(n).to_vec());
                }
                other => panic!("{other:?}"),
            }
        }
        local.deposit(&protein(3), 9.0).unwrap();
        match tail.next().await {
            Some(tidepool::engine::pool::io::TailItem::Protein(e)) => assert_eq!(e.index, 3),
            other => panic!("{other:?}"),
        }
        s.shutdown.trigger();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_attached_clients() {
    tokio::time::timeout(T, async {
        let s = start(None, false).await;
        s.pools().create("p", &CreateOptions::default()).unwrap();
        let o = ClientOptions::default();
        let mut idle = hose(&s, "tcp", "p", &o).await;
        let mut waiting = hose(&s, "tcp", "p", &o).await;
        let w = tokio::spawn(async move { waiting.await_next(None).await });
        s.shutdown.trigger();
        assert!(s.shutdown.drain(Duration::from_secs(10)).await);
        assert!(matches!(
            w.await.unwrap(),
            Err(Error::Closed { .. } | Error::Transport { .. })
        ));
        assert!(idle.newest_index().await.is_err());
    })
    .await
    .unwrap();
}

fn test_pki() -> (
    Arc<rustls::ServerConfig>,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let server = tidepool::net::tls::server_config_from_der(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        None,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    (server, dir, ca_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_sessions_verify_against_a_test_ca() {
    tokio::time::timeout(T, async {
        let (tls, _dir, ca) = test_pki();
        let s = start(Some(tls), true).await;
        s.pools().create("sec", &CreateOptions::default()).unwrap();
        let o = ClientOptions {
            trust: tidepool::net::tls::Trust::CaFile(ca),
            ..Default::default()
        };
        let mut h = hose(&s, "tcps", "sec", &o).await;
        assert!(h.tls);
        assert_eq!(h.deposit(protein(1)).await.unwrap().unwrap().0, 0);
        assert_eq!(h.nth(0).await.unwrap().unwrap().protein, protein(1));
        // Plain sessions on a TLS-only server may only STARTTLS.
        let mut plain = Client::connect(&s.uri("tcp", "sec"), &o).await.unwrap();
        assert_eq!(plain.mask, 1 << op::STARTTLS);
        assert!(matches!(
            plain.participate("sec", None).await,
            Err(Error::Unsupported { .. })
        ));
        // An untrusting client fails the handshake.
        let untrusting = ClientOptions {
            trust: tidepool::net::tls::Trust::CaFile(_dir.path().join("missing.pem")),
            ..Default::default()
        };
        assert!(Client::connect(&s.uri("tcps", "sec"), &untrusting)
            .await
            .is_err());
        // tcpo:// takes TLS when offered.
        let h = hose(&s, "tcpo", "sec", &ClientOptions::default()).await;
        assert!(h.tls);
        s.shutdown.trigger();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcps_against_a_plain_server_is_refused() {
    let s = start(None, false).await;
    let r = Client::connect(&s.uri("tcps", "x"), &ClientOptions::default()).await;
    assert!(matches!(r, Err(Error::NoTls { .. })));
    s.shutdown.trigger();
}

async fn raw(s: &Server) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(("127.0.0.1", s.port))
        .await
        .unwrap()
}

async fn read_to_close(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(T, sock.read_to_end(&mut out))
        .await
        .unwrap()
        .ok();
    out
}

fn greeting() -> Vec<u8> {
    let mut g = GREETING.to_vec();
    g[76] = 3;
    g[77] = 2;
    g
}

fn decode_all(bytes: &[u8]) -> Vec<Inbound> {
    use tokio_util::codec::Decoder;
    let mut c = Codec::new(Mode::Hello);
    let mut buf = bytes::BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Ok(Some(i)) = c.decode(&mut buf) {
        out.push(i);
        c.mode = Mode::Messages;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_gets_a_retort_and_a_close_but_spares_others() {
    tokio::time::timeout(T, async {
        let s = start(None, false).await;
        s.pools().create("p", &CreateOptions::default()).unwrap();
        let o = ClientOptions::default();
        let mut good = hose(&s, "tcp", "p", &o).await;

        // Wrong greeting: closed without a reply.
        let mut sock = raw(&s).await;
        sock.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        assert!(read_to_close(&mut sock).await.is_empty());

        // Unsupported versions: ff ff.
        let mut sock = raw(&s).await;
        let mut g = greeting();
        g[77] = 1;
        sock.write_all(&g).await.unwrap();
        assert_eq!(&read_to_close(&mut sock).await[..2], &[0xff, 0xff]);

        // Absurd length: SLAW/protocol retort, then close.
        let mut sock = raw(&s).await;
        sock.write_all(&greeting()).await.unwrap();
        let hdr: u64 = 0x1000_0000_0000_0000 | (1u64 << 40);
        sock.write_all(&hdr.to_le_bytes()).await.unwrap();
        let got = decode_all(&read_to_close(&mut sock).await);
        assert!(matches!(got.first(), Some(Inbound::Hello { pv: 3, .. })));
        assert!(matches!(got.get(1), Some(Inbound::Message(m)) if m.op == op::RESULT));

        // Garbage after the handshake (not a protein).
        let mut sock = raw(&s).await;
        sock.write_all(&greeting()).await.unwrap();
        sock.write_all(&[0xee; 64]).await.unwrap();
        let got = decode_all(&read_to_close(&mut sock).await);
        assert!(matches!(got.get(1), Some(Inbound::Message(m))
            if m.arg(0).and_then(|a| a.as_i64()).is_some_and(|r| r < 0)));

        // A protein whose body does not validate: SLAW_CORRUPT_PROTEIN.
        let mut sock = raw(&s).await;
        sock.write_all(&greeting()).await.unwrap();
        let mut bad = protein(1).to_vec();
        // The first oct after the protein header: where the body starts.
        bad[16..24].copy_from_slice(&[0xff; 8]);
        sock.write_all(&bad).await.unwrap();
        let got = decode_all(&read_to_close(&mut sock).await);
        assert!(matches!(got.get(1), Some(Inbound::Message(m))
            if m.arg(0).and_then(|a| a.as_i64()) == Some(retort::SLAW_CORRUPT_PROTEIN)));

        // Truncated frame then close: the server just logs it.
        let mut sock = raw(&s).await;
        sock.write_all(&greeting()).await.unwrap();
        sock.write_all(&protein(1)[..12]).await.unwrap();
        sock.shutdown().await.unwrap();
        read_to_close(&mut sock).await;

        // Unknown op: closed without a reply, as libPlasma's server does
        // (the client's expected reply shape is unknown).
        let mut c = hose(&s, "tcp", "p", &o).await;
        c.mask |= 1 << 40;
        assert!(matches!(
            c.call(40, vec![]).await,
            Err(Error::Closed { .. })
        ));

        // An op out of state (deposit before participate): closed without a reply.
        let mut sock = raw(&s).await;
        sock.write_all(&greeting()).await.unwrap();
        let msg = tidepool::engine::pool_tcp::codec::Message::new(
            op::DEPOSIT,
            vec![tidepool::engine::pool_tcp::codec::Arg::Protein(protein(1))],
        );
        sock.write_all(&msg.to_bytes()).await.unwrap();
        let got = decode_all(&read_to_close(&mut sock).await);
        assert_eq!(got.len(), 1, "{got:?}");

        // The well-behaved client never noticed.
        assert_eq!(good.deposit(protein(7)).await.unwrap().unwrap().0, 0);
        let _ = Outbound::Raw(Bytes::new());
        s.shutdown.trigger();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_oldest_erases_and_empties_like_libplasma() {
    tokio::time::timeout(T, async {
        let s = start(None, false).await;
        s.pools().create("adv", &CreateOptions::default()).unwrap();
        let o = ClientOptions::default();
        let mut h = hose(&s, "tcp", "adv", &o).await;
        assert!(h.mask & (1 << op::ADVANCE_OLDEST) != 0);
        for n in 0..5 {
            h.deposit(protein(n)).await.unwrap().unwrap();
        }
        assert_eq!(h.advance_oldest(2).await.unwrap(), Ok(retort::OB_OK));
        assert_eq!(h.oldest_index().await.unwrap(), Ok(2));
        assert_eq!(
            h.nth(1).await.unwrap().map(|f| f.index),
            Err(Retort(retort::POOL_NO_SUCH_PROTEIN))
        );
        assert_eq!(h.nth(2).await.unwrap().unwrap().protein, protein(2));
        // Already gone, or already the oldest: nothing to do.
        assert_eq!(
            h.advance_oldest(1).await.unwrap(),
            Ok(retort::OB_NOTHING_TO_DO)
        );
        assert_eq!(
            h.advance_oldest(2).await.unwrap(),
            Ok(retort::OB_NOTHING_TO_DO)
        );
        assert_eq!(
            h.advance_oldest(9).await.unwrap(),
            Err(Retort(retort::POOL_NO_SUCH_PROTEIN))
        );
        // newest + 1 empties the pool; indices carry on.
        assert_eq!(h.advance_oldest(5).await.unwrap(), Ok(retort::OB_OK));
        assert_eq!(
            h.newest_index().await.unwrap(),
            Err(Retort(retort::POOL_NO_SUCH_PROTEIN))
        );
        assert_eq!(h.deposit(protein(5)).await.unwrap().unwrap().0, 5);
        assert_eq!(h.oldest_index().await.unwrap(), Ok(5));
        assert_eq!(h.nth(5).await.unwrap().unwrap().protein, protein(5));
        // The local engine sees the same pool.
        let mut local = s.pools().open("adv").unwrap();
        assert_eq!(local.index_range().unwrap(), Some((5, 5)));
        s.shutdown.trigger();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_busy_and_awaiting_ones_are_not() {
    tokio::time::timeout(T, async {
        let idle = Duration::from_millis(200);
        let s = start_idle(None, false, Some(idle)).await;
        s.pools().create("p", &CreateOptions::default()).unwrap();
        let o = ClientOptions::default();
        let mut silent = hose(&s, "tcp", "p", &o).await;
        let mut busy = hose(&s, "tcp", "p", &o).await;
        let mut waiting = hose(&s, "tcp", "p", &o).await;
        let w = tokio::spawn(async move { waiting.await_next(None).await });
        // Busy: a request every 50 ms for 6 idle periods.
        let started = tokio::time::Instant::now();
        while started.elapsed() < idle * 6 {
            assert!(busy.newest_index().await.is_ok(), "busy client was cut");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Silent for 6 periods: closed after 1 to 2 of them.
        assert!(silent.newest_index().await.is_err(), "silent client kept");
        // The awaiting client is still waiting, and gets the next deposit.
        assert!(!w.is_finished());
        busy.deposit(protein(1)).await.unwrap().unwrap();
        let got = w.await.unwrap().unwrap().unwrap();
        assert_eq!(got.protein, protein(1));
        s.shutdown.trigger();
    })
    .await
    .unwrap();
}

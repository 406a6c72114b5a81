//! Our server and client over loopback TCP (127.0.0.1, port 0), TLS, and an
//! in-memory pipe with paused time: bad input closes only the offending
//! connection, failures come back as the spec says, timeouts and the console
//! handle behave.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use tidepool::engine::simpyio::handle::RpcHandle;
use tidepool::engine::simpyio::io::{self, Notice};
use tidepool::engine::simpyio::{mock, Call, Error, Json, Reply, Service};
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{memory_pair, Listener, LocalAddr, Peer, Target};

async fn server(tls: Option<Arc<rustls::ServerConfig>>) -> (Shutdown, u16) {
    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let LocalAddr::Tcp(addr) = listener.local_addr().unwrap() else {
        unreachable!("tcp listener")
    };
    let shutdown = Shutdown::new();
    let opts = tidepool::net::server::Options {
        tls,
        ..tidepool::net::server::Options::new("rpc")
    };
    shutdown.spawn(io::serve(
        listener,
        shutdown.clone(),
        opts,
        Arc::new(mock::server()),
        io::Options::default(),
    ));
    (shutdown, addr.port())
}

fn frame(text: &str) -> Vec<u8> {
    let mut v = (text.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(text.as_bytes());
    v
}

async fn read_frame(s: &mut TcpStream) -> Option<String> {
    let mut head = [0u8; 4];
    let got = tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut head))
        .await
        .expect("server answers or closes in time");
    got.ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(head) as usize];
    s.read_exact(&mut body).await.ok()?;
    Some(String::from_utf8(body).expect("utf-8 reply"))
}

async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn protocol_violations_close_only_the_offending_connection() {
    let (shutdown, port) = server(None).await;
    let mut good = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let bad_inputs: Vec<(&str, Vec<u8>)> = vec![
        ("oversize header", 16385u32.to_be_bytes().to_vec()),
        ("huge header", vec![0xff, 0xff, 0xff, 0xff]),
        ("invalid json", frame("not json")),
        ("invalid utf-8", {
            let mut v = 3u32.to_be_bytes().to_vec();
            v.extend_from_slice(&[0xff, 0xfe, 0x22]);
            v
        }),
        ("unknown message type", frame("[7, 0, null]")),
        ("not a triple", frame("[0, 0]")),
        ("reply for unknown id", frame("[1, 99, \"x\"]")),
        ("failure for unknown id", frame("[2, 5, \"x\"]")),
        (
            "unknown __type__ id",
            frame("[0, 0, [\"echo\", [{\"__type__\": [9, 1]}], {}]]"),
        ),
        (
            "request content not [path, args, kwargs]",
            frame("[0, 0, \"ohai\"]"),
        ),
    ];
    for (what, bytes) in bad_inputs {
        let mut bad = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        bad.write_all(&bytes).await.unwrap();
        assert!(closed(&mut bad).await, "{what}: connection closed");
        good.write_all(&frame("[0, 1, [\"echo\", [\"still here\"], {}]]"))
            .await
            .unwrap();
        assert_eq!(
            read_frame(&mut good).await.as_deref(),
            Some("[1, 1, \"still here\"]"),
            "{what}: other connection unaffected"
        );
    }
    shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn failures_are_replies_worded_like_python() {
    let (shutdown, port) = server(None).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let cases = [
        (
            "[0, 0, [\"nosuch\", [], {}]]",
            "[2, 0, \"RuntimeError: Failed to resolve path nosuch\"]",
        ),
        (
            "[0, 1, [\"fail\", [\"bad input\"], {}]]",
            "[2, 1, \"ValueError: bad input\"]",
        ),
        (
            "[0, 2, [\"add\", [1], {}]]",
            "[2, 2, \"TypeError: add() missing 1 required positional argument: 'b'\"]",
        ),
        (
            "[0, 3, [\"echo\", \"x\", {}]]",
            "[2, 3, \"TypeError: echo() argument after * must be an iterable, not str\"]",
        ),
        ("[0, \"abc\", [\"echo\", [1], {}]]", "[1, \"abc\", 1]"),
        (
            "[0, 4, [\"math\", [], {}]]",
            "[2, 4, \"RuntimeError: Failed to resolve path math\"]",
        ),
        (
            "[0, 5, [\"echo\", [{\"__type__\": [0, \"nothere\"]}], {}]]",
            "[2, 5, \"RuntimeError: Failed to resolve path nothere\"]",
        ),
    ];
    for (req, want) in cases {
        s.write_all(&frame(req)).await.unwrap();
        assert_eq!(read_frame(&mut s).await.as_deref(), Some(want), "{req}");
    }
    shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn frames_split_joined_duplicated_and_at_the_limit() {
    let (shutdown, port) = server(None).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // two frames in one write, with the same id: both answered
    let mut two = frame("[0, 7, [\"echo\", [\"a\"], {}]]");
    two.extend(frame("[0, 7, [\"echo\", [\"b\"], {}]]"));
    s.write_all(&two).await.unwrap();
    assert_eq!(read_frame(&mut s).await.as_deref(), Some("[1, 7, \"a\"]"));
    assert_eq!(read_frame(&mut s).await.as_deref(), Some("[1, 7, \"b\"]"));
    // one frame in three writes
    let one = frame("[0, 8, [\"math/mul\", [6, 7], {}]]");
    for part in [&one[..2], &one[2..9], &one[9..]] {
        s.write_all(part).await.unwrap();
        s.flush().await.unwrap();
    }
    assert_eq!(read_frame(&mut s).await.as_deref(), Some("[1, 8, 42]"));
    // a payload of exactly 16384 bytes is accepted
    let head = "[0, 9, [\"echo\", [\"";
    let tail = "\"], {}]]";
    let pad = "x".repeat(16384 - head.len() - tail.len());
    let req = format!("{head}{pad}{tail}");
    assert_eq!(req.len(), 16384);
    s.write_all(&frame(&req)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some(format!("[1, 9, \"{pad}\"]")));
    shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn client_calls_and_local_limits() {
    let (shutdown, port) = server(None).await;
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let opts = io::Options {
        message_limit: 2,
        ..io::Options::default()
    };
    let (c, _task) = io::connect(
        &target,
        None,
        Arc::new(mock::client()),
        opts,
        Shutdown::new(),
    )
    .await
    .unwrap();
    // too big to send: refused locally, nothing written, connection stays up
    let big = Json::Str("y".repeat(20000));
    assert!(matches!(
        c.call_args("echo", vec![big]).await,
        Err(Error::TooLarge { .. })
    ));
    // a reply too big to send comes back as a FAILURE instead of silence
    let r = c
        .call_args("math/mul", vec![Json::str("z"), 20000.into()])
        .await
        .unwrap();
    assert!(
        matches!(r, Reply::Failure(ref t) if t.contains("exceeds max_packet_size")),
        "{r:?}"
    );
    // message_limit: a third outstanding call overflows locally
    let a = c.call_args("delay", vec![Json::Float(0.5), 1.into()]);
    let b = c.call_args("delay", vec![Json::Float(0.5), 2.into()]);
    let third = async {
        tokio::task::yield_now().await;
        c.call_args("echo", vec![3.into()]).await
    };
    let (a, b, third) = tokio::join!(a, b, third);
    assert_eq!(a.unwrap(), Reply::Success(Json::Int(1)));
    assert_eq!(b.unwrap(), Reply::Success(Json::Int(2)));
    assert!(matches!(third, Err(Error::Overflow { .. })), "{third:?}");
    shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn tls_loopback() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let server_cfg =
        tidepool::net::tls::server_config_from_der(vec![der.clone()], key, None).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let client_cfg = tidepool::net::tls::client_config_from_roots(roots).unwrap();
    let (shutdown, port) = server(Some(server_cfg)).await;
    let target = Target::Tcp {
        host: "localhost".into(),
        port,
    };
    let (c, _task) = io::connect(
        &target,
        Some(client_cfg),
        Arc::new(mock::client()),
        io::Options::default(),
        Shutdown::new(),
    )
    .await
    .unwrap();
    let r = c.call_args("callback", vec!["tls".into()]).await.unwrap();
    assert_eq!(r, Reply::Success(Json::str("client said: hello tls")));
    shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test(start_paused = true)]
async fn timeouts_abandon_and_late_replies_are_dropped() {
    let (a, b) = memory_pair(1 << 16);
    let sd = Shutdown::new();
    tokio::spawn(io::serve_connection(
        b,
        Peer::Memory("server".into()),
        Arc::new(mock::server()),
        io::Options::default(),
        sd.clone(),
    ));
    let opts = io::Options {
        call_timeout: Some(Duration::from_secs(1)),
        ..io::Options::default()
    };
    let (c, _task) = io::start(
        a,
        Peer::Memory("client".into()),
        Arc::new(Service::new()),
        opts,
        sd.clone(),
    );
    let r = c.call_args("delay", vec![5.into(), "late".into()]).await;
    assert!(
        matches!(r, Err(Error::Timeout { ref path, after }) if path == "delay" && after == Duration::from_secs(1)),
        "{r:?}"
    );
    // the late reply arrives after 5 s and is dropped; the connection lives on
    tokio::time::sleep(Duration::from_secs(6)).await;
    let r = c.call_args("echo", vec!["after".into()]).await.unwrap();
    assert_eq!(r, Reply::Success(Json::str("after")));
    sd.trigger();
}

#[tokio::test]
async fn handle_reports_replies_abandons_and_stats() {
    let (shutdown, port) = server(None).await;
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let mut h = RpcHandle::connect(
        target,
        None,
        Arc::new(mock::client()),
        io::Options::default(),
        &shutdown,
    );
    let ok = h
        .call(Call::new("math/mul", vec![6.into(), 7.into()]))
        .unwrap();
    let bad = h.call(Call::new("fail", vec!["nope".into()])).unwrap();
    let slow = h
        .call(Call::new("delay", vec![30.into(), Json::Null]))
        .unwrap();
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen < 2 {
        let n = tokio::time::timeout_at(deadline, h.event())
            .await
            .expect("events in time")
            .expect("event");
        match n {
            Notice::Finished { token, outcome, .. } if token == ok => {
                assert_eq!(outcome, Ok(Reply::Success(Json::Int(42))));
                seen += 1;
            }
            Notice::Finished { token, outcome, .. } if token == bad => {
                assert_eq!(outcome, Ok(Reply::Failure("ValueError: nope".into())));
                seen += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    h.abandon(slow).unwrap();
    let n = tokio::time::timeout_at(deadline, h.event())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(n, Notice::Finished { token, outcome: Err(ref e), .. } if token == slow && e.contains("abandoned")),
        "{n:?}"
    );
    let mut stats = h.stats();
    let s = tokio::time::timeout_at(
        deadline,
        stats.wait_for(|s| s.succeeded == 1 && s.failed == 1 && s.abandoned == 1),
    )
    .await
    .expect("stats in time")
    .unwrap()
    .clone();
    assert!(s.connected);
    assert_eq!(s.calls, 3);
    h.close();
    let n = tokio::time::timeout_at(deadline, h.event())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(n, Notice::Closed(_)), "{n:?}");
    shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn handle_connect_failure_is_reported_as_events() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let shutdown = Shutdown::new();
    let mut h = RpcHandle::connect(
        Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        },
        None,
        Arc::new(Service::new()),
        io::Options::default(),
        &shutdown,
    );
    let token = h.call(Call::new("echo", vec![])).unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), h.event())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(n, Notice::Finished { token: t, outcome: Err(ref e), .. } if t == token && e.contains("connecting")),
        "{n:?}"
    );
}

#[tokio::test]
async fn shutdown_closes_connections_and_fails_pending_calls() {
    let (shutdown, port) = server(None).await;
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let (c, _task) = io::connect(
        &target,
        None,
        Arc::new(Service::new()),
        io::Options::default(),
        Shutdown::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        c.call_args("echo", vec![1.into()]).await.unwrap(),
        Reply::Success(Json::Int(1))
    );
    let pending = c.call_args("delay", vec![60.into(), Json::Null]);
    let drain = async {
        tokio::task::yield_now().await;
        shutdown.drain(Duration::from_secs(5)).await
    };
    let (pending, drained) = tokio::join!(pending, drain);
    assert!(drained);
    assert!(matches!(pending, Err(Error::Closed { .. })), "{pending:?}");
}

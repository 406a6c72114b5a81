//! Our AMP client against our AMP server on 127.0.0.1:0 (and a UNIX socket):
//! the kit's commands both directions, pipelining, timeouts and abandon,
//! malformed streams from spec section 4.3, TLS from the start and StartTLS
//! with a CA generated at test time, graceful shutdown, and the console handle.

mod amp_kit;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::PrivateKeyDer;
use rustls::RootCertStore;
use tidepool::engine::amp::codec::{decode_all, AmpBox};
use tidepool::engine::amp::handle::{AmpHandle, Event, HandleOptions};
use tidepool::engine::amp::io::{
    self, CallOptions, Client, NoCommands, Reply, Responder, TypedReply,
};
use tidepool::engine::amp::protocol::{Outcome, Request};
use tidepool::engine::amp::types::{Integer, Record, Value};
use tidepool::engine::amp::Error;
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{connect, Listener, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use amp_kit::{catalog, client_responder, eventually, start_server};

fn rec(pairs: &[(&str, Value)]) -> Record {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn int(v: i64) -> Value {
    Value::Integer(Integer::from(v))
}

async fn kit_client(target: &Target) -> Client {
    io::connect(
        target,
        None,
        Arc::new(client_responder()),
        io::Options::default(),
    )
    .await
    .expect("connects")
}

async fn typed(client: &Client, name: &str, args: Record) -> TypedReply {
    let cat = catalog();
    client
        .call_typed(cat.get(name).unwrap(), &args, CallOptions::default())
        .await
        .expect("call")
}

#[tokio::test]
async fn kit_commands_work_both_directions() {
    let mut server = start_server(None, io::Options::default(), None).await;
    let c = kit_client(&server.target).await;
    let u = |s: &str| Value::Unicode(s.into());
    assert_eq!(
        typed(&c, "Sum", rec(&[("a", int(13)), ("b", int(81))])).await,
        TypedReply::Answer(rec(&[("total", int(94))]))
    );
    assert_eq!(
        typed(&c, "Echo", rec(&[("text", u("h\u{e9}llo \u{2603}"))])).await,
        TypedReply::Answer(rec(&[("text", u("h\u{e9}llo \u{2603}"))]))
    );
    assert_eq!(
        typed(
            &c,
            "Divide",
            rec(&[("numerator", int(7)), ("denominator", int(2))])
        )
        .await,
        TypedReply::Answer(rec(&[("result", Value::Float(3.5))]))
    );
    assert_eq!(
        typed(
            &c,
            "Divide",
            rec(&[("numerator", int(1)), ("denominator", int(0))])
        )
        .await,
        TypedReply::Remote {
            code: "ZERO_DIVISION".into(),
            description: "division by zero".into()
        }
    );
    let rows = Value::Records(vec![
        rec(&[("name", u("a")), ("value", int(1))]),
        rec(&[("name", u("b")), ("value", int(41))]),
    ]);
    assert_eq!(
        typed(&c, "Tabulate", rec(&[("rows", rows)])).await,
        TypedReply::Answer(rec(&[
            ("names", Value::List(vec![u("a"), u("b")])),
            ("total", int(42))
        ]))
    );
    let types = rec(&[
        (
            "i",
            Value::Integer(Integer::parse("-1180591620717411303424").unwrap()),
        ),
        ("x", Value::Float(f64::INFINITY)),
        ("flag", Value::Boolean(true)),
        (
            "d",
            Value::Decimal(tidepool::engine::amp::types::Decimal::parse("1.50").unwrap()),
        ),
        (
            "when",
            Value::DateTime(
                tidepool::engine::amp::types::DateTime::parse_text("2024-02-29T12:30:45.123456Z")
                    .unwrap(),
            ),
        ),
        ("raw", Value::Bytes(Bytes::from_static(&[0, 0xff]))),
    ]);
    assert_eq!(
        typed(&c, "Types", types.clone()).await,
        TypedReply::Answer(types)
    );
    // requiresAnswer = false: returns once written, the server still runs it.
    assert_eq!(
        typed(&c, "Log", rec(&[("message", u("fire and forget"))])).await,
        TypedReply::Answer(Record::new())
    );
    assert_eq!(server.logs.recv().await.as_deref(), Some("fire and forget"));
    // The server calls ClientGreet back on the client before answering Ask.
    assert_eq!(
        typed(&c, "Ask", rec(&[("name", u("rust"))])).await,
        TypedReply::Answer(rec(&[("reply", u("client said: hello rust"))]))
    );
    // Unknown command: UNHANDLED and the connection stays usable.
    match c.call("Nope", AmpBox::new()).await.unwrap() {
        Reply::Remote { code, description } => {
            assert_eq!(code, "UNHANDLED");
            assert_eq!(description, "Unhandled Command: b'Nope'");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        typed(&c, "Sum", rec(&[("a", int(1)), ("b", int(1))])).await,
        TypedReply::Answer(_)
    ));
    // A fatal error is delivered, then the server closes the connection.
    assert_eq!(
        typed(&c, "Shutdown", Record::new()).await,
        TypedReply::Remote {
            code: "FATAL_SHUTDOWN".into(),
            description: "asked to shut down".into()
        }
    );
    eventually("connection closed after the fatal error", || c.is_closed()).await;
    assert!(server.shutdown.drain(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn pipelined_calls_all_complete_in_any_order() {
    let server = start_server(None, io::Options::default(), None).await;
    let c = kit_client(&server.target).await;
    let mut pending = Vec::new();
    for i in 0..2000i64 {
        let args = AmpBox::new()
            .with(&b"a"[..], Bytes::from(i.to_string()))
            .with(&b"b"[..], &b"1"[..]);
        pending.push(
            c.start_call("Sum", args, true, CallOptions::default())
                .await
                .unwrap(),
        );
    }
    for (i, p) in pending.into_iter().enumerate() {
        match p.await.unwrap() {
            Reply::Answer(b) => {
                assert_eq!(
                    b.get(b"total").unwrap().as_ref(),
                    (i as i64 + 1).to_string().as_bytes()
                )
            }
            other => panic!("{other:?}"),
        }
    }
    server.shutdown.drain(Duration::from_secs(5)).await;
}

/// A responder whose `Slow` command waits for a signal, to exercise timeouts
/// and abandon with late answers.
struct Gate(Arc<Notify>);

impl Responder for Gate {
    fn respond(&self, _caller: Client, req: Request) -> io::BoxFuture<Outcome> {
        let gate = self.0.clone();
        Box::pin(async move {
            if req.command.as_ref() == b"Slow" {
                gate.notified().await;
            }
            Outcome::Answer(AmpBox::new().with(&b"ok"[..], &b"1"[..]))
        })
    }
}

#[tokio::test]
async fn timeout_and_abandon_leave_the_connection_usable() {
    let gate = Arc::new(Notify::new());
    let server = start_server(
        Some(Arc::new(Gate(gate.clone()))),
        io::Options::default(),
        None,
    )
    .await;
    let c = io::connect(
        &server.target,
        None,
        Arc::new(NoCommands),
        io::Options::default(),
    )
    .await
    .unwrap();
    let err = c
        .call_with(
            "Slow",
            AmpBox::new(),
            CallOptions {
                timeout: Some(Duration::from_millis(50)),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let p = c
        .start_call("Slow", AmpBox::new(), true, CallOptions::default())
        .await
        .unwrap();
    c.abandon(p.id).await;
    assert!(matches!(p.await, Err(Error::Abandoned(_))));
    eventually("both slow requests reached the server", || {
        server
            .counters
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    })
    .await;
    // Release both slow answers: they arrive late and must be ignored, and
    // they are written before the answer to the next call.
    gate.notify_waiters();
    let r = c.call("Fast", AmpBox::new()).await.unwrap();
    assert_eq!(r, Reply::Answer(AmpBox::new().with(&b"ok"[..], &b"1"[..])));
    assert!(!c.is_closed());
    server.shutdown.drain(Duration::from_secs(5)).await;
}

fn raw_box(pairs: &[(&str, &str)]) -> Vec<u8> {
    let b: AmpBox = pairs
        .iter()
        .map(|(k, v)| {
            (
                Bytes::copy_from_slice(k.as_bytes()),
                Bytes::copy_from_slice(v.as_bytes()),
            )
        })
        .collect();
    b.to_bytes().unwrap().to_vec()
}

/// Sends `bytes` on a raw socket, returns what came back until the server
/// closed or `expect_open` boxes arrived (then checks the socket is open).
async fn exchange(target: &Target, bytes: &[u8], expect_boxes: Option<usize>) -> Vec<AmpBox> {
    let (mut s, _) = connect(target, Duration::from_secs(5)).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Duration::from_secs(10);
    loop {
        if let Some(n) = expect_boxes {
            if let Ok(boxes) = decode_all(&got) {
                if boxes.len() >= n {
                    return boxes;
                }
            }
        }
        let n = tokio::time::timeout(deadline, s.read(&mut buf))
            .await
            .expect("server answers or closes in time")
            .unwrap_or(0);
        if n == 0 {
            assert!(expect_boxes.is_none(), "server closed unexpectedly");
            return decode_all(&got).expect("whole boxes");
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn malformed_streams_behave_like_twisted() {
    let server = start_server(None, io::Options::default(), None).await;
    let t = &server.target;
    // Key length over 255: closed without a reply.
    assert!(exchange(t, &[0x01, 0x00, b'x'], None).await.is_empty());
    // Empty box and a box without any reserved key: closed without a reply.
    assert!(exchange(t, &[0, 0], None).await.is_empty());
    assert!(exchange(t, &raw_box(&[("a", "1")]), None).await.is_empty());
    // Answer for a tag that is not pending: closed.
    assert!(exchange(t, &raw_box(&[("_answer", "9")]), None)
        .await
        .is_empty());
    // Unknown command with _ask: UNHANDLED, connection stays open.
    let r = exchange(
        t,
        &raw_box(&[("_ask", "tag-zz"), ("_command", "sum")]),
        Some(1),
    )
    .await;
    assert_eq!(r[0].get(b"_error").unwrap().as_ref(), b"tag-zz");
    assert_eq!(r[0].get(b"_error_code").unwrap().as_ref(), b"UNHANDLED");
    // Bad Integer and bad UTF-8: UNKNOWN then closed.
    for bad in [
        raw_box(&[("_ask", "1"), ("_command", "Sum"), ("a", "two"), ("b", "1")]),
        raw_box(&[("_ask", "1"), ("_command", "Sum"), ("a", "1")]),
    ] {
        let r = exchange(t, &bad, None).await;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].get(b"_error_code").unwrap().as_ref(), b"UNKNOWN");
        assert_eq!(
            r[0].get(b"_error_description").unwrap().as_ref(),
            b"Unknown Error"
        );
    }
    let mut bad_utf8 = AmpBox::new()
        .with(&b"_ask"[..], &b"1"[..])
        .with(&b"_command"[..], &b"Echo"[..]);
    bad_utf8.insert(&b"text"[..], &[0xff, 0xfe][..]);
    let r = exchange(t, &bad_utf8.to_bytes().unwrap(), None).await;
    assert_eq!(r[0].get(b"_error_code").unwrap().as_ref(), b"UNKNOWN");
    // Unknown command without _ask: nothing, closed.
    assert!(exchange(t, &raw_box(&[("_command", "Nope")]), None)
        .await
        .is_empty());
    // Lenient Integer, extra 255-byte key, duplicate tags, two boxes in one
    // write, a box split over writes and a 65535-byte value: all answered.
    let long_key = "k".repeat(255);
    let mut two = raw_box(&[
        ("_ask", "1"),
        ("_command", "Sum"),
        ("a", " +1_000 "),
        ("b", "1"),
        (&long_key, "x"),
    ]);
    two.extend(raw_box(&[
        ("_ask", "1"),
        ("_command", "Sum"),
        ("a", "2"),
        ("b", "2"),
    ]));
    let r = exchange(t, &two, Some(2)).await;
    assert_eq!(r[0].get(b"total").unwrap().as_ref(), b"1001");
    assert_eq!(r[1].get(b"total").unwrap().as_ref(), b"4");
    let big = "x".repeat(65535);
    let r = exchange(
        t,
        &raw_box(&[("_ask", "b"), ("_command", "Echo"), ("text", &big)]),
        Some(1),
    )
    .await;
    assert_eq!(r[0].get(b"text").unwrap().len(), 65535);
    // A truncated box then silence keeps that connection open and idle, and
    // other connections are unaffected.
    let (mut stuck, _) = connect(t, Duration::from_secs(5)).await.unwrap();
    stuck.write_all(&[0, 4, b'_', b'a']).await.unwrap();
    let c = kit_client(t).await;
    assert!(matches!(
        typed(&c, "Sum", rec(&[("a", int(2)), ("b", int(3))])).await,
        TypedReply::Answer(_)
    ));
    drop(stuck);
    server.shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn oversized_local_values_are_refused_before_sending() {
    let server = start_server(None, io::Options::default(), None).await;
    let c = kit_client(&server.target).await;
    let err = c
        .call("Echo", AmpBox::new().with(&b"text"[..], vec![b'x'; 65536]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too long: 65536"), "{err}");
    assert!(matches!(
        typed(&c, "Sum", rec(&[("a", int(2)), ("b", int(3))])).await,
        TypedReply::Answer(_)
    ));
    server.shutdown.drain(Duration::from_secs(5)).await;
}

fn test_pki() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let server = tidepool::net::tls::server_config_from_der(
        vec![cert.der().clone()],
        PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        None,
    )
    .unwrap();
    let client = tidepool::net::tls::client_config_from_roots(roots).unwrap();
    (server, client)
}

#[tokio::test]
async fn tls_from_the_start() {
    let (server_tls, client_tls) = test_pki();
    let server = start_server(None, io::Options::default(), Some(server_tls)).await;
    let c = io::connect(
        &server.target,
        Some((client_tls, "localhost".into())),
        Arc::new(client_responder()),
        io::Options::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        typed(&c, "Ask", rec(&[("name", Value::Unicode("tls".into()))])).await,
        TypedReply::Answer(rec(&[(
            "reply",
            Value::Unicode("client said: hello tls".into())
        )]))
    );
    server.shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn starttls_upgrades_in_band_once() {
    let (server_tls, client_tls) = test_pki();
    let server = start_server(
        None,
        io::Options {
            tls_server: Some(server_tls),
            ..io::Options::default()
        },
        None,
    )
    .await;
    let c = io::connect(
        &server.target,
        None,
        Arc::new(client_responder()),
        io::Options {
            tls_client: Some((client_tls, "localhost".into())),
            ..io::Options::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        typed(&c, "Sum", rec(&[("a", int(1)), ("b", int(2))])).await,
        TypedReply::Answer(_)
    ));
    // Calls queued while StartTLS is pending go out inside TLS afterwards.
    let (tls, queued) = tokio::join!(
        c.start_tls(),
        typed(&c, "Sum", rec(&[("a", int(3)), ("b", int(4))]))
    );
    tls.unwrap();
    assert_eq!(queued, TypedReply::Answer(rec(&[("total", int(7))])));
    assert_eq!(
        typed(&c, "Ask", rec(&[("name", Value::Unicode("x".into()))])).await,
        TypedReply::Answer(rec(&[(
            "reply",
            Value::Unicode("client said: hello x".into())
        )]))
    );
    assert!(c.start_tls().await.is_err(), "only one StartTLS");
    server.shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn starttls_without_a_certificate_is_tls_error() {
    let (_, client_tls) = test_pki();
    let server = start_server(None, io::Options::default(), None).await;
    let c = io::connect(
        &server.target,
        None,
        Arc::new(NoCommands),
        io::Options {
            tls_client: Some((client_tls, "localhost".into())),
            ..io::Options::default()
        },
    )
    .await
    .unwrap();
    let err = c.start_tls().await.unwrap_err();
    assert!(err.to_string().contains("TLS_ERROR"), "{err}");
    assert!(matches!(
        typed(&c, "Sum", rec(&[("a", int(1)), ("b", int(2))])).await,
        TypedReply::Answer(_)
    ));
    server.shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn unix_socket_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("amp.sock");
    let listener = Listener::bind_unix(&path).unwrap();
    let shutdown = Shutdown::new();
    let (tx, _logs) = tokio::sync::mpsc::unbounded_channel();
    shutdown.spawn(io::serve(
        listener,
        shutdown.clone(),
        tidepool::net::server::Options::new("amp"),
        Arc::new(amp_kit::server_responder(tx)),
        io::Options::default(),
        Arc::new(io::Counters::default()),
    ));
    let c = kit_client(&Target::Unix(path)).await;
    assert_eq!(
        typed(&c, "Sum", rec(&[("a", int(20)), ("b", int(22))])).await,
        TypedReply::Answer(rec(&[("total", int(42))]))
    );
    assert!(shutdown.drain(Duration::from_secs(5)).await);
    eventually("client sees the close", || c.is_closed()).await;
}

#[tokio::test]
async fn shutdown_drains_and_fails_pending_calls() {
    let gate = Arc::new(Notify::new());
    let server = start_server(Some(Arc::new(Gate(gate))), io::Options::default(), None).await;
    let c = io::connect(
        &server.target,
        None,
        Arc::new(NoCommands),
        io::Options::default(),
    )
    .await
    .unwrap();
    let p = c
        .start_call("Slow", AmpBox::new(), true, CallOptions::default())
        .await
        .unwrap();
    eventually("request reached the server", || {
        server
            .counters
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    })
    .await;
    assert!(server.shutdown.drain(Duration::from_secs(5)).await);
    assert!(matches!(p.await, Err(Error::Closed { .. })));
}

#[tokio::test]
async fn handle_reports_calls_as_events_and_stats() {
    let server = start_server(None, io::Options::default(), None).await;
    let mut h = AmpHandle::spawn(server.target.clone(), catalog(), HandleOptions::default());
    assert!(matches!(
        h.next_event().await,
        Some(Event::Connected { .. })
    ));
    let id = h
        .call(
            "Sum",
            AmpBox::new()
                .with(&b"a"[..], &b"1"[..])
                .with(&b"b"[..], &b"2"[..]),
            Some(Duration::from_secs(5)),
        )
        .unwrap();
    let bad = h.call("Nope", AmpBox::new(), None).unwrap();
    let mut seen = 0;
    while seen < 2 {
        match h.next_event().await.expect("event") {
            Event::Finished {
                id: got, result, ..
            } if got == id => {
                assert_eq!(
                    result.unwrap(),
                    Reply::Answer(AmpBox::new().with(&b"total"[..], &b"3"[..]))
                );
                seen += 1;
            }
            Event::Finished {
                id: got, result, ..
            } if got == bad => {
                assert!(
                    matches!(result.unwrap(), Reply::Remote { code, .. } if code == "UNHANDLED")
                );
                seen += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    let stats = h.stats();
    assert!(stats.connected);
    assert_eq!((stats.calls, stats.answers, stats.remote_errors), (2, 1, 1));
    h.close();
    server.shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn shutdown_answers_requests_in_hand() {
    let gate = Arc::new(Notify::new());
    let server = start_server(
        Some(Arc::new(Gate(gate.clone()))),
        io::Options::default(),
        None,
    )
    .await;
    let c = io::connect(
        &server.target,
        None,
        Arc::new(NoCommands),
        io::Options::default(),
    )
    .await
    .unwrap();
    let p = c
        .start_call("Slow", AmpBox::new(), true, CallOptions::default())
        .await
        .unwrap();
    eventually("request reached the server", || {
        server
            .counters
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    })
    .await;
    let shutdown = server.shutdown.clone();
    let drained = tokio::spawn(async move { shutdown.drain(Duration::from_secs(5)).await });
    eventually("shutdown triggered", || server.shutdown.is_triggered()).await;
    // One permit: the responder finishes whether or not it is already waiting.
    gate.notify_one();
    assert_eq!(
        p.await.unwrap(),
        Reply::Answer(AmpBox::new().with(&b"ok"[..], &b"1"[..]))
    );
    assert!(drained.await.unwrap());
    eventually("connection closed after the drain", || c.is_closed()).await;
}

//! Interop with Twisted (tests/peers/amp, run from the .venv): our client
//! against Twisted's server with every kit command in both directions, and
//! Twisted's client (its 11 checks) against our server. Skips with one line
//! when Twisted is missing, fails then under TIDEPOOL_REQUIRE_INTEROP=1.

mod amp_kit;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tidepool::engine::amp::codec::AmpBox;
use tidepool::engine::amp::io::{self, CallOptions, Reply, TypedReply};
use tidepool::engine::amp::types::{DateTime, Decimal, Integer, Record, Value};
use tidepool::net::transport::Target;

use amp_kit::{catalog, client_responder, eventually, python, python_tls, start_server};

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/amp")
}

/// Kills the child (by its own handle) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts tests/peers/amp/server.py on a free port; returns it and the port.
fn twisted_server(python: &str) -> (Guard, u16) {
    let mut child = Command::new(python)
        .arg("server.py")
        .arg("0")
        .current_dir(peers())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start server.py");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(child);
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut line).expect("server prints its port");
    // Keep draining: the server prints `LOG: …` and a closed pipe would make
    // its Log responder fail (and Twisted then drops the connection).
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected server line {line:?}"));
    (guard, port)
}

fn rec(pairs: &[(&str, Value)]) -> Record {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn int(v: i64) -> Value {
    Value::Integer(Integer::from(v))
}

#[tokio::test]
async fn tidepool_client_against_twisted_server() {
    let Some(python) = python("tidepool_client_against_twisted_server") else {
        return;
    };
    let (_server, port) = twisted_server(&python);
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let c = io::connect(
        &target,
        None,
        Arc::new(client_responder()),
        io::Options::default(),
    )
    .await
    .expect("connect to twisted");
    let cat = catalog();
    let call = |name: &'static str, args: Record| {
        let c = c.clone();
        let cmd = cat.get(name).unwrap().clone();
        async move {
            c.call_typed(&cmd, &args, CallOptions::default())
                .await
                .expect(name)
        }
    };
    let u = |s: &str| Value::Unicode(s.into());
    assert_eq!(
        call("Sum", rec(&[("a", int(13)), ("b", int(81))])).await,
        TypedReply::Answer(rec(&[("total", int(94))]))
    );
    assert_eq!(
        call("Echo", rec(&[("text", u("h\u{e9}llo \u{2603}"))])).await,
        TypedReply::Answer(rec(&[("text", u("h\u{e9}llo \u{2603}"))]))
    );
    assert_eq!(
        call(
            "Divide",
            rec(&[("numerator", int(7)), ("denominator", int(2))])
        )
        .await,
        TypedReply::Answer(rec(&[("result", Value::Float(3.5))]))
    );
    assert_eq!(
        call(
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
        call("Tabulate", rec(&[("rows", rows)])).await,
        TypedReply::Answer(rec(&[
            ("names", Value::List(vec![u("a"), u("b")])),
            ("total", int(42))
        ]))
    );
    for (x, note) in [(f64::INFINITY, None), (0.1, Some("\u{fc}")), (1e16, None)] {
        let mut args = rec(&[
            (
                "i",
                Value::Integer(Integer::parse("-1180591620717411303424").unwrap()),
            ),
            ("x", Value::Float(x)),
            ("flag", Value::Boolean(true)),
            ("d", Value::Decimal(Decimal::parse("-1.50E+3").unwrap())),
            (
                "when",
                Value::DateTime(DateTime::parse_text("2024-02-29T12:30:45.123456+05:30").unwrap()),
            ),
            ("raw", Value::Bytes(Bytes::from_static(&[0, 0xff]))),
        ]);
        if let Some(n) = note {
            args.insert("note".into(), u(n));
        }
        assert_eq!(call("Types", args.clone()).await, TypedReply::Answer(args));
    }
    // Fire-and-forget, then a normal call still works on the same connection.
    assert_eq!(
        call("Log", rec(&[("message", u("fire and forget"))])).await,
        TypedReply::Answer(Record::new())
    );
    // Twisted calls ClientGreet back on us before answering Ask.
    assert_eq!(
        call("Ask", rec(&[("name", u("rust"))])).await,
        TypedReply::Answer(rec(&[("reply", u("client said: hello rust"))]))
    );
    match c.call("Nope", AmpBox::new()).await.unwrap() {
        Reply::Remote { code, description } => {
            assert_eq!(code, "UNHANDLED");
            assert_eq!(description, "Unhandled Command: b'Nope'");
        }
        other => panic!("{other:?}"),
    }
    // Pipelined calls with Twisted answering in its own order.
    let mut pending = Vec::new();
    for i in 0..200i64 {
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
        assert_eq!(
            p.await.unwrap(),
            Reply::Answer(AmpBox::new().with(&b"total"[..], Bytes::from((i + 1).to_string())))
        );
    }
    assert_eq!(
        call("Shutdown", Record::new()).await,
        TypedReply::Remote {
            code: "FATAL_SHUTDOWN".into(),
            description: "asked to shut down".into()
        }
    );
    eventually("twisted closes after the fatal error", || c.is_closed()).await;
}

#[tokio::test]
async fn twisted_client_against_tidepool_server() {
    let Some(python) = python("twisted_client_against_tidepool_server") else {
        return;
    };
    let server = start_server(None, io::Options::default(), None).await;
    let Target::Tcp { port, .. } = server.target else {
        unreachable!()
    };
    let out = tokio::process::Command::new(&python)
        .arg("client.py")
        .arg(port.to_string())
        .current_dir(peers())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("client.py finishes")
        .expect("client.py runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("PASS").count(), 11, "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    server.shutdown.drain(Duration::from_secs(5)).await;
}

#[test]
fn cli_call_against_twisted_server_prints_yaml_and_json() {
    let Some(python) = python("cli_call_against_twisted_server_prints_yaml_and_json") else {
        return;
    };
    let (_server, port) = twisted_server(&python);
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/interop.toml");
    let tidepool = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tidepool"))
            .args(args)
            .arg("--schema")
            .arg(&schema)
            .output()
            .expect("tidepool runs")
    };
    let target = format!("127.0.0.1:{port}");
    let out = tidepool(&["amp", "call", &target, "Sum", "a=13", "b=81"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "total: 94\n");
    let out = tidepool(&[
        "amp",
        "call",
        &target,
        "Tabulate",
        r#"rows=[{"name":"a","value":1},{"name":"b","value":41}]"#,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"names":["a","b"],"total":42}"#
    );
    // A declared remote error: code on stderr, exit 4.
    let out = tidepool(&[
        "amp",
        "call",
        &target,
        "Divide",
        "numerator=1",
        "denominator=0",
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ZERO_DIVISION"));
    // --readonly refuses a command not marked readonly_safe (exit 3).
    let out = tidepool(&["amp", "call", &target, "Shutdown", "--readonly"]);
    assert_eq!(out.status.code(), Some(3));
}

struct Pki {
    dir: tempfile::TempDir,
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

/// A CA and a `localhost` certificate generated now, as rustls configs and
/// as PEM files for the Python peer.
fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Distinct names: OpenSSL (the Twisted side) takes a leaf whose issuer
    // equals its subject for self-signed and rejects it.
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tidepool test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    // A client certificate from the same CA for the mutual-TLS tests.
    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut client_params = rcgen::CertificateParams::new(vec!["client".to_string()]).unwrap();
    client_params.distinguished_name = rcgen::DistinguishedName::new();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tidepool test client");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();
    std::fs::write(dir.path().join("client.pem"), client_cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("client-key.pem"),
        client_key.serialize_pem(),
    )
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let server = tidepool::net::tls::server_config_from_der(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        None,
    )
    .unwrap();
    let client = tidepool::net::tls::client_config_from_roots(roots).unwrap();
    Pki {
        dir,
        server,
        client,
    }
}

#[tokio::test]
async fn tidepool_starttls_against_twisted_server() {
    let Some(python) = python_tls("tidepool_starttls_against_twisted_server") else {
        return;
    };
    let pki = pki();
    let mut child = Command::new(&python);
    child
        .arg("tls_peer.py")
        .arg("server")
        .arg("0")
        .arg(pki.dir.path().join("cert.pem"))
        .arg(pki.dir.path().join("key.pem"))
        .current_dir(peers())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = child.spawn().expect("tls_peer.py");
    let stdout = child.stdout.take().expect("stdout");
    let _guard = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("port line");
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let c = io::connect(
        &target,
        None,
        Arc::new(io::NoCommands),
        io::Options {
            tls_client: Some((pki.client.clone(), "localhost".into())),
            ..io::Options::default()
        },
    )
    .await
    .expect("connect");
    c.start_tls().await.expect("StartTLS with Twisted");
    let args = AmpBox::new()
        .with(&b"a"[..], &b"20"[..])
        .with(&b"b"[..], &b"22"[..]);
    assert_eq!(
        c.call("Sum", args).await.unwrap(),
        Reply::Answer(AmpBox::new().with(&b"total"[..], &b"42"[..]))
    );
}

#[tokio::test]
async fn twisted_starttls_against_tidepool_server() {
    let Some(python) = python_tls("twisted_starttls_against_tidepool_server") else {
        return;
    };
    let pki = pki();
    let server = start_server(
        None,
        io::Options {
            tls_server: Some(pki.server.clone()),
            ..io::Options::default()
        },
        None,
    )
    .await;
    let Target::Tcp { port, .. } = server.target else {
        unreachable!()
    };
    let out = tokio::process::Command::new(&python)
        .arg("tls_peer.py")
        .arg("client")
        .arg(port.to_string())
        .arg(pki.dir.path().join("ca.pem"))
        .current_dir(peers())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("tls_peer.py finishes")
        .expect("tls_peer.py runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PASS"),
        "tls_peer.py client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.shutdown.drain(Duration::from_secs(5)).await;
}

/// Spawns `tls_peer.py server` requiring client certificates of the test CA
/// and returns the guard and its port.
fn twisted_mutual_tls_server(python: &str, pki: &Pki) -> (Guard, u16) {
    let mut child = Command::new(python);
    child
        .arg("tls_peer.py")
        .arg("server")
        .arg("0")
        .arg(pki.dir.path().join("cert.pem"))
        .arg(pki.dir.path().join("key.pem"))
        .arg(pki.dir.path().join("ca.pem"))
        .current_dir(peers())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = child.spawn().expect("tls_peer.py");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("port line");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    (guard, port)
}

#[tokio::test]
async fn tidepool_client_certificate_against_twisted_server() {
    let Some(python) = python_tls("tidepool_client_certificate_against_twisted_server") else {
        return;
    };
    let pki = pki();
    let (_guard, port) = twisted_mutual_tls_server(&python, &pki);
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let trust = tidepool::net::tls::Trust::CaFile(pki.dir.path().join("ca.pem"));
    let cert = pki.dir.path().join("client.pem");
    let key = pki.dir.path().join("client-key.pem");
    let with_cert =
        tidepool::net::tls::client_config(&trust, Some((cert.as_path(), key.as_path())))
            .expect("client config");
    let c = io::connect(
        &target,
        None,
        Arc::new(io::NoCommands),
        io::Options {
            tls_client: Some((with_cert, "localhost".into())),
            ..io::Options::default()
        },
    )
    .await
    .expect("connect");
    c.start_tls()
        .await
        .expect("StartTLS with a client certificate");
    let args = AmpBox::new()
        .with(&b"a"[..], &b"20"[..])
        .with(&b"b"[..], &b"22"[..]);
    assert_eq!(
        c.call("Sum", args.clone()).await.unwrap(),
        Reply::Answer(AmpBox::new().with(&b"total"[..], &b"42"[..]))
    );
    // Without a certificate Twisted's OpenSSL refuses the handshake: the
    // connection ends and the next call fails.
    let c = io::connect(
        &target,
        None,
        Arc::new(io::NoCommands),
        io::Options {
            tls_client: Some((pki.client.clone(), "localhost".into())),
            ..io::Options::default()
        },
    )
    .await
    .expect("connect");
    let refused = match c.start_tls().await {
        Err(_) => true,
        Ok(()) => tokio::time::timeout(Duration::from_secs(20), c.call("Sum", args))
            .await
            .map(|r| r.is_err())
            .unwrap_or(true),
    };
    assert!(refused, "Twisted accepted a client without a certificate");
}

#[tokio::test]
async fn twisted_client_certificate_against_tidepool_server() {
    let Some(python) = python_tls("twisted_client_certificate_against_tidepool_server") else {
        return;
    };
    let pki = pki();
    let server_tls = tidepool::net::tls::server_config(
        &pki.dir.path().join("cert.pem"),
        &pki.dir.path().join("key.pem"),
        Some(&pki.dir.path().join("ca.pem")),
    )
    .expect("server config");
    let server = start_server(
        None,
        io::Options {
            tls_server: Some(server_tls),
            ..io::Options::default()
        },
        None,
    )
    .await;
    let Target::Tcp { port, .. } = server.target else {
        unreachable!()
    };
    let run = |with_cert: bool| {
        let mut cmd = tokio::process::Command::new(&python);
        cmd.arg("tls_peer.py")
            .arg("client")
            .arg(port.to_string())
            .arg(pki.dir.path().join("ca.pem"));
        if with_cert {
            cmd.arg(pki.dir.path().join("client.pem"))
                .arg(pki.dir.path().join("client-key.pem"));
        }
        cmd.current_dir(peers()).kill_on_drop(true).output()
    };
    let out = tokio::time::timeout(Duration::from_secs(60), run(true))
        .await
        .expect("tls_peer.py finishes")
        .expect("tls_peer.py runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PASS"),
        "tls_peer.py client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tokio::time::timeout(Duration::from_secs(60), run(false))
        .await
        .expect("tls_peer.py finishes")
        .expect("tls_peer.py runs");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("PASS"),
        "tidepool accepted a Twisted client without a certificate"
    );
    server.shutdown.drain(Duration::from_secs(5)).await;
}

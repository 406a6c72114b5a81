//! `tidepool serve --amp` and `tidepool amp call` end to end, as processes:
//! canned/echo answers, remote errors (exit 4), readonly refusal (exit 3),
//! raw calls without a schema, and a clean drain on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/interop.toml")
}

fn start() -> (Server, String) {
    start_with(&[])
}

fn start_with(extra: &[&std::ffi::OsStr]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args(["serve", "--amp", "--listen", "127.0.0.1:0", "--schema"])
        .arg(schema())
        .args(extra)
        .env("TIDEPOOL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let server = Server(child);
    let mut reader = BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("reads") > 0,
            "serve exited"
        );
        if let Some(rest) = line.strip_prefix("tidepool serve: amp on ") {
            let addr = rest.split_whitespace().next().expect("address").to_string();
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                    sink.clear();
                }
            });
            return (server, addr);
        }
    }
}

fn call(addr: &str, args: &[&str], with_schema: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidepool"));
    c.args(["amp", "call", addr]).args(args);
    if with_schema {
        c.arg("--schema").arg(schema());
    }
    c.output().expect("tidepool runs")
}

#[test]
fn serve_answers_canned_and_echoed_values() {
    let (mut server, addr) = start();
    let out = call(
        &addr,
        &[
            "Types",
            "i=-1180591620717411303424",
            "x=nan",
            "flag=false",
            "d=-1.50E+3",
            "when=2024-02-29T12:30:45.123456Z",
            "raw=hex:00ff",
            "--json",
        ],
        true,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["i"], "-1180591620717411303424");
    assert_eq!(json["x"], "nan");
    assert_eq!(json["d"], "-1.50E+3");
    assert_eq!(json["when"], "2024-02-29T12:30:45.123456-00:00");
    assert_eq!(json["raw"], "hex:00ff");
    assert!(json.get("note").is_none());
    // Zero value for a response nobody echoes.
    let out = call(&addr, &["Sum", "a=1", "b=2"], true);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "total: 0\n");
    // Without a schema values are raw bytes and the answer is printed raw.
    let out = call(&addr, &["Echo", "text=hi"], false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "text: hi\n");
    // Unknown command: UNHANDLED, exit 4.
    let out = call(&addr, &["Nope"], false);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNHANDLED"));
    // Declared fatal failure from the schema's `fail`.
    let out = call(&addr, &["Shutdown"], true);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FATAL_SHUTDOWN"));
    // Fire-and-forget prints nothing and succeeds.
    let out = call(&addr, &["Log", "message=hi"], true);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    // Bad argument values are usage errors before anything is sent.
    let out = call(&addr, &["Sum", "a=two", "b=1"], true);
    assert_eq!(out.status.code(), Some(2));
    // SIGTERM drains and exits cleanly.
    let pid = nix::unistd::Pid::from_raw(server.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let status = server.0.wait().expect("exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn readonly_allows_only_readonly_safe_commands() {
    let (_server, addr) = start();
    let out = call(&addr, &["Sum", "a=1", "b=2", "--readonly"], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = call(&addr, &["Shutdown", "--readonly"], true);
    assert_eq!(out.status.code(), Some(3));
    let out = call(&addr, &["Echo", "text=x", "--readonly"], false);
    assert_eq!(
        out.status.code(),
        Some(3),
        "no schema: not known to be safe"
    );
}

/// A CA, a `localhost` server certificate and a client certificate, written
/// as PEM files (`ca.pem`, `server.pem`, `server-key.pem`, `client.pem`,
/// `client-key.pem`), plus a client certificate from an unrelated CA
/// (`stranger.pem`, `stranger-key.pem`).
fn pki() -> tempfile::TempDir {
    fn ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        (cert, rcgen::Issuer::new(params, key))
    }
    fn leaf(dir: &Path, name: &str, issuer: &rcgen::Issuer<'static, rcgen::KeyPair>, client: bool) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        if client {
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        }
        let cert = params.signed_by(&key, issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, issuer) = ca("tidepool test CA");
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
    leaf(dir.path(), "server", &issuer, false);
    leaf(dir.path(), "client", &issuer, true);
    let (_, other) = ca("unrelated CA");
    leaf(dir.path(), "stranger", &other, true);
    dir
}

fn tls_call(addr: &str, dir: &Path, mode: &str, client: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidepool"));
    c.args(["amp", "call", addr, "Sum", "a=1", "b=2", mode, "--ca"])
        .arg(dir.join("ca.pem"))
        .args(["--server-name", "localhost", "--timeout", "20", "--schema"])
        .arg(schema());
    if let Some(name) = client {
        c.arg("--cert")
            .arg(dir.join(format!("{name}.pem")))
            .arg("--key")
            .arg(dir.join(format!("{name}-key.pem")));
    }
    c.output().expect("tidepool runs")
}

fn serve_mutual_tls(dir: &Path, from_start: bool) -> (Server, String) {
    let files = [
        "--amp-cert".into(),
        dir.join("server.pem").into_os_string(),
        "--amp-key".into(),
        dir.join("server-key.pem").into_os_string(),
        "--amp-client-ca".into(),
        dir.join("ca.pem").into_os_string(),
    ];
    let mut extra: Vec<&std::ffi::OsStr> = files.iter().map(|s| s.as_os_str()).collect();
    if from_start {
        extra.push("--amp-tls".as_ref());
    }
    start_with(&extra)
}

#[test]
fn mutual_tls_from_the_start_requires_a_client_certificate() {
    let dir = pki();
    let (_server, addr) = serve_mutual_tls(dir.path(), true);
    let out = tls_call(&addr, dir.path(), "--tls", Some("client"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "total: 0\n");
    let out = tls_call(&addr, dir.path(), "--tls", None);
    assert_eq!(out.status.code(), Some(1), "no client certificate");
    let out = tls_call(&addr, dir.path(), "--tls", Some("stranger"));
    assert_eq!(out.status.code(), Some(1), "certificate of another CA");
}

#[test]
fn mutual_tls_through_starttls_requires_a_client_certificate() {
    let dir = pki();
    let (_server, addr) = serve_mutual_tls(dir.path(), false);
    let out = tls_call(&addr, dir.path(), "--starttls", Some("client"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "total: 0\n");
    let out = tls_call(&addr, dir.path(), "--starttls", None);
    assert_eq!(out.status.code(), Some(1), "no client certificate");
}

#[test]
fn client_certificate_flags_need_each_other() {
    let out = Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args([
            "amp",
            "call",
            "127.0.0.1:1",
            "Sum",
            "--tls",
            "--cert",
            "c.pem",
        ])
        .output()
        .expect("tidepool runs");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args(["serve", "--amp", "--amp-client-ca", "ca.pem"])
        .output()
        .expect("tidepool runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "--amp-client-ca needs --amp-cert"
    );
}

//! Interop with the Python simpy.io peer (mosaik-simpy-io, tests/peers/simpyio):
//! the kit's client against our server, our client against the kit's server,
//! calls in both directions on one connection, and failures both ways.
//!
//! Needs a Python with `simpy<4` and `mosaik-simpy-io` (TIDEPOOL_PYTHON, else
//! `python3`). Without it each test prints `skipping …` and passes, unless
//! TIDEPOOL_REQUIRE_INTEROP=1.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use tidepool::engine::simpyio::{io, mock, Call, Json, Reply, Service};
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{Listener, LocalAddr, Target};

fn peer_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/simpyio"))
}

/// The Python to run the peer with, or `None` after printing why the test skips.
fn python(test: &str) -> Option<String> {
    let py = std::env::var("TIDEPOOL_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import simpy.io.select, simpy.io.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    let reason = format!("{py}: python module simpy.io (mosaik-simpy-io, simpy<4) not found");
    if std::env::var("TIDEPOOL_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("{test}: {reason} and TIDEPOOL_REQUIRE_INTEROP=1");
    }
    println!("skipping {test}: {reason}");
    None
}

async fn tidepool_server() -> (Shutdown, u16) {
    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let LocalAddr::Tcp(addr) = listener.local_addr().unwrap() else {
        unreachable!("tcp listener")
    };
    let shutdown = Shutdown::new();
    shutdown.spawn(io::serve(
        listener,
        shutdown.clone(),
        tidepool::net::server::Options::new("rpc"),
        Arc::new(mock::server()),
        io::Options::default(),
    ));
    (shutdown, addr.port())
}

/// Starts the kit's server on a free port; the child dies with the handle.
async fn python_server(py: &str) -> (tokio::process::Child, u16) {
    let mut child = Command::new(py)
        .arg("server.py")
        .arg("0")
        .current_dir(peer_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("python server announces its port in time")
        .expect("reads stdout")
        .expect("a line");
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    // Keep draining its log so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, port)
}

async fn connect(port: u16, service: Service) -> io::Client {
    let opts = io::Options {
        call_timeout: Some(Duration::from_secs(20)),
        ..io::Options::default()
    };
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let (client, _task) = io::connect(&target, None, Arc::new(service), opts, Shutdown::new())
        .await
        .expect("connects");
    client
}

fn success(r: Reply) -> Json {
    match r {
        Reply::Success(v) => v,
        Reply::Failure(t) => panic!("unexpected FAILURE: {t}"),
    }
}

fn failure(r: Reply) -> String {
    match r {
        Reply::Failure(t) => t,
        Reply::Success(v) => panic!("expected FAILURE, got {v}"),
    }
}

#[tokio::test]
async fn python_client_passes_its_checks_against_tidepool_server() {
    let Some(py) = python("python_client_passes_its_checks_against_tidepool_server") else {
        return;
    };
    let (shutdown, port) = tidepool_server().await;
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new(&py)
            .arg("client.py")
            .arg(port.to_string())
            .current_dir(peer_dir())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("python client finishes")
    .expect("python client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("PASS ").count(), 10, "{stdout}");
    shutdown.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn tidepool_client_against_python_server_both_directions() {
    let Some(py) = python("tidepool_client_against_python_server_both_directions") else {
        return;
    };
    let (_child, port) = python_server(&py).await;
    let c = connect(port, mock::client()).await;

    let r = c.call_args("echo", vec!["ohai".into()]).await.unwrap();
    assert_eq!(success(r), Json::str("ohai"));
    let nested =
        Json::parse("{\"k\": [1, 2.5, null, true], \"u\": \"h\\u00e9llo \\u2603\"}").unwrap();
    let r = c.call_args("echo", vec![nested.clone()]).await.unwrap();
    assert_eq!(success(r), nested);
    let r = c.call_args("add", vec![2.into(), 40.into()]).await.unwrap();
    assert_eq!(success(r), Json::Int(42));
    let mut greet = Call::new("greet", vec!["rust".into()]);
    greet.kwargs.push(("punct".into(), "?".into()));
    assert_eq!(success(c.call(greet).await.unwrap()), Json::str("hi rust?"));
    let r = c
        .call_args("math/mul", vec![6.into(), 7.into()])
        .await
        .unwrap();
    assert_eq!(success(r), Json::Int(42));

    // NaN and the infinities survive a round trip through Python's json.
    let r = c
        .call_args(
            "echo",
            vec![Json::Array(vec![
                Json::Float(f64::INFINITY),
                Json::Float(-1e-7),
                Json::Int(1 << 62),
            ])],
        )
        .await
        .unwrap();
    assert_eq!(
        success(r).to_text(),
        "[Infinity, -1e-07, 4611686018427387904]"
    );

    // replies matched by id, not order
    let slow = c.call_args("delay", vec![Json::Float(0.3), "slow".into()]);
    let fast = c.call_args("echo", vec!["fast".into()]);
    let (slow, fast) = tokio::join!(slow, fast);
    assert_eq!(success(slow.unwrap()), Json::str("slow"));
    assert_eq!(success(fast.unwrap()), Json::str("fast"));

    // the server calls our ping while our callback request is pending
    let r = c.call_args("callback", vec!["rust".into()]).await.unwrap();
    assert_eq!(success(r), Json::str("client said: hello rust"));

    // 100 pipelined calls
    let calls = (0..100).map(|i| c.call_args("add", vec![Json::from(i as i64), 1.into()]));
    let results = futures::future::join_all(calls).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(success(r.unwrap()), Json::Int(i as i128 + 1));
    }
}

#[tokio::test]
async fn failures_cross_in_both_directions() {
    let Some(py) = python("failures_cross_in_both_directions") else {
        return;
    };
    let (_child, port) = python_server(&py).await;
    // No methods on our side: the server's call-back to "ping" fails here, and
    // its own method then fails with that remote exception.
    let c = connect(port, Service::new()).await;
    let text = failure(c.call_args("fail", vec!["bad input".into()]).await.unwrap());
    assert!(
        text.starts_with("Traceback (most recent call last):"),
        "{text}"
    );
    assert!(text.contains("ValueError: bad input"), "{text}");
    assert_eq!(Reply::failure_summary(&text), "ValueError: bad input");
    let text = failure(c.call_args("nosuch", vec![]).await.unwrap());
    assert!(text.contains("Failed to resolve path nosuch"), "{text}");
    let text = failure(c.call_args("add", vec![1.into()]).await.unwrap());
    assert!(text.contains("TypeError"), "{text}");
    let text = failure(c.call_args("callback", vec!["rust".into()]).await.unwrap());
    assert!(text.contains("Failed to resolve path ping"), "{text}");
    // the connection is still usable after failures
    let r = c.call_args("echo", vec![1.into()]).await.unwrap();
    assert_eq!(success(r), Json::Int(1));
}

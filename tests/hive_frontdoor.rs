//! The RESP front door (hive spec section 8): exact bytes for malformed input,
//! limits, AUTH, TLS, RESP3, and redis-cli / redis-benchmark driving it.

#[path = "hive_support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use tidepool::engine::hive::store::{Config, Store};
use tidepool::engine::hive::{io, Backend};
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{Listener, LocalAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Running {
    addr: SocketAddr,
    shutdown: Shutdown,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

async fn start(config: io::Config) -> Running {
    let store = Store::open(Config::transient()).unwrap();
    let shutdown = Shutdown::new();
    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = io::start(listener, Backend::Embedded(store), config, &shutdown).unwrap();
    let LocalAddr::Tcp(addr) = server.local_addr().clone() else {
        unreachable!()
    };
    Running { addr, shutdown }
}

/// Sends `input`, then reads until the server closes (bounded by a deadline).
async fn exchange_until_close(addr: SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // the server may close before reading everything: ignore write errors
    let _ = s.write_all(input).await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "server did not close; got {:?}",
        String::from_utf8_lossy(&out)
    );
    out
}

/// Sends `input` and reads exactly `want.len()` bytes.
async fn exchange(s: &mut TcpStream, input: &[u8], want: &[u8]) {
    s.write_all(input).await.unwrap();
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut got))
        .await
        .expect("reply in time")
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[tokio::test]
async fn malformed_input_gets_redis_texts_then_close() {
    let srv = start(io::Config {
        max_entry_bytes: 1024,
        ..io::Config::default()
    })
    .await;
    let mut too_long_count = b"*".to_vec();
    too_long_count.extend(std::iter::repeat_n(b'1', 70_000));
    let long_inline = vec![b'a'; 70_000];
    let cases: Vec<(&[u8], &str)> = vec![
        (b"*1\r\n+GET\r\n", "Protocol error: expected '$', got '+'"),
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (b"*2000000\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
        (
            b"*2\r\n$3\r\nGET\r\n$2000\r\n",
            "Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$4\r\nPINGXY",
            "Protocol error: expected CRLF after bulk",
        ),
        (
            b"SET \"a b\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            &too_long_count,
            "Protocol error: too big mbulk count string",
        ),
        (&long_inline, "Protocol error: too big inline request"),
    ];
    for (bad, text) in cases {
        // a pipelined command before the bad frame is still answered
        let mut input = b"PING\r\n".to_vec();
        input.extend_from_slice(bad);
        let out = exchange_until_close(srv.addr, &input).await;
        assert_eq!(
            String::from_utf8_lossy(&out),
            format!("+PONG\r\n-ERR {text}\r\n"),
            "input {:?}",
            String::from_utf8_lossy(&bad[..bad.len().min(40)])
        );
    }
}

#[tokio::test]
async fn http_and_query_buffer_overflow_close_without_reply() {
    let srv = start(io::Config {
        query_buffer_limit: 4096,
        ..io::Config::default()
    })
    .await;
    let out = exchange_until_close(srv.addr, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(out.is_empty(), "{out:?}");
    let mut big = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'v', 20_000));
    let out = exchange_until_close(srv.addr, &big).await;
    assert!(out.is_empty(), "{:?}", String::from_utf8_lossy(&out));
}

#[tokio::test]
async fn command_errors_keep_the_connection_open() {
    let srv = start(io::Config::default()).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    exchange(
        &mut s,
        b"*0\r\n*-1\r\n\r\nFOO bar\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n",
    )
    .await;
    exchange(
        &mut s,
        b"GET\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    exchange(&mut s, b"SET a b NX XX\r\n", b"-ERR syntax error\r\n").await;
    exchange(
        &mut s,
        b"SET a b EX -1\r\n",
        b"-ERR invalid expire time in 'set' command\r\n",
    )
    .await;
    exchange(
        &mut s,
        b"SELECT 3\r\n",
        b"-ERR DB index is out of range\r\n",
    )
    .await;
    exchange(
        &mut s,
        b"SET \"\" v\r\n",
        b"-ERR invalid_input empty alias\r\n",
    )
    .await;
    exchange(
        &mut s,
        b"HIVE.GET nope\r\n",
        b"-ERR alias_not_found nope\r\n",
    )
    .await;
    exchange(
        &mut s,
        b"HIVE.PUT k v\r\nHIVE.PUT k v\r\n",
        b"+OK\r\n-ERR alias_already_exists k\r\n",
    )
    .await;
    exchange(&mut s, b"HIVE.CAS k w x\r\n", b"*2\r\n:30\r\n$1\r\nv\r\n").await;
    exchange(
        &mut s,
        b"HIVE.ERRSTR 8\r\n",
        b"*2\r\n$15\r\nalias_not_found\r\n$25\r\nThe entry does not exist.\r\n",
    )
    .await;
    exchange(
        &mut s,
        b"HELLO 4\r\n",
        b"-NOPROTO unsupported protocol version\r\n",
    )
    .await;
    exchange(
        &mut s,
        b"SET n 1 NX GET\r\nSET n 2 NX GET\r\nGET zz\r\n",
        b"$-1\r\n$1\r\n1\r\n$-1\r\n",
    )
    .await;
    exchange(&mut s, b"HELLO 3\r\nGET zz\r\n", b"%7\r\n").await;
    let mut rest = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&rest[..n]).ends_with("_\r\n"),
        "RESP3 nil"
    );
    exchange(&mut s, b"QUIT\r\n", b"+OK\r\n").await;
}

#[tokio::test]
async fn half_sent_and_slow_clients_do_not_affect_others() {
    let srv = start(io::Config::default()).await;
    let mut half = TcpStream::connect(srv.addr).await.unwrap();
    half.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nh\r\n$10\r\nabc")
        .await
        .unwrap();
    // a client that pipelines without reading its replies
    let mut slow = TcpStream::connect(srv.addr).await.unwrap();
    let burst = b"PING\r\n".repeat(20_000);
    let writer = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(5), slow.write_all(&burst)).await;
        slow
    });
    let mut ok = TcpStream::connect(srv.addr).await.unwrap();
    exchange(&mut ok, b"PING\r\n", b"+PONG\r\n").await;
    drop(half);
    exchange(&mut ok, b"GET h\r\n", b"$-1\r\n").await;
    drop(writer.await.unwrap());
    exchange(&mut ok, b"PING\r\n", b"+PONG\r\n").await;
}

#[tokio::test]
async fn max_clients_gets_redis_text() {
    let srv = start(io::Config {
        max_clients: 2,
        ..io::Config::default()
    })
    .await;
    let mut a = TcpStream::connect(srv.addr).await.unwrap();
    exchange(&mut a, b"PING\r\n", b"+PONG\r\n").await;
    let mut b = TcpStream::connect(srv.addr).await.unwrap();
    exchange(&mut b, b"PING\r\n", b"+PONG\r\n").await;
    let out = exchange_until_close(srv.addr, b"PING\r\n").await;
    assert_eq!(out, b"-ERR max number of clients reached\r\n");
    exchange(&mut a, b"PING\r\n", b"+PONG\r\n").await;
}

#[tokio::test]
async fn requirepass_gates_commands() {
    let srv = start(io::Config {
        requirepass: Some("s3cret".into()),
        ..io::Config::default()
    })
    .await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    exchange(
        &mut s,
        b"GET a\r\n",
        b"-NOAUTH Authentication required.\r\n",
    )
    .await;
    exchange(
        &mut s,
        b"AUTH nope\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    exchange(&mut s, b"AUTH s3cret\r\nGET a\r\n", b"+OK\r\n$-1\r\n").await;
    let client = redis::Client::open(format!("redis://:s3cret@{}", srv.addr)).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("x")
        .arg("1")
        .query_async(&mut c)
        .await
        .unwrap();
    let v: String = redis::cmd("GET")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, "1");
}

#[tokio::test]
async fn tls_front_door_with_redis_crate_resp3() {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let tls = tidepool::net::tls::server_config_from_der(
        vec![cert.cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
        None,
    )
    .unwrap();
    let srv = start(io::Config {
        tls: Some(tls),
        ..io::Config::default()
    })
    .await;
    let client =
        redis::Client::open(format!("rediss://{}/?protocol=resp3#insecure", srv.addr)).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .query_async(&mut c)
        .await
        .unwrap();
    let v: Option<String> = redis::cmd("GET")
        .arg("t")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let none: Option<String> = redis::cmd("GET")
        .arg("absent")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(none, None);
    let info: String = redis::cmd("INFO")
        .arg("hive")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(info.contains("backend:embedded"), "{info}");
}

async fn redis_cli(addr: SocketAddr, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = tokio::process::Command::new("redis-cli");
    cmd.arg("-p").arg(addr.port().to_string()).args(args);
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    })
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("redis-cli");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(input.as_bytes()).await.unwrap();
        drop(w);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("redis-cli finished")
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_drives_the_front_door() {
    if !support::have_redis("redis_cli_drives_the_front_door") {
        return;
    }
    let srv = start(io::Config::default()).await;
    let a = srv.addr;
    assert_eq!(redis_cli(a, &["set", "user:1", "ann"], None).await, "OK\n");
    assert_eq!(redis_cli(a, &["get", "user:1"], None).await, "ann\n");
    for i in 2..30 {
        redis_cli(a, &["set", &format!("user:{i}"), "x"], None).await;
    }
    redis_cli(a, &["set", "other", "x"], None).await;
    let scanned = redis_cli(a, &["--scan", "--pattern", "user:*"], None).await;
    assert_eq!(scanned.lines().count(), 29, "{scanned}");
    let all = redis_cli(a, &["--scan"], None).await;
    assert_eq!(all.lines().count(), 30);
    assert_eq!(
        redis_cli(a, &["hive.get", "nope"], None).await.trim(),
        "ERR alias_not_found nope"
    );
    assert_eq!(redis_cli(a, &["dbsize"], None).await, "30\n");
    // stdin mode goes through COMMAND DOCS first, like the interactive prompt
    let piped = redis_cli(a, &[], Some("set p 1\nget p\nttl p\nexpire p 100\nttl p\n")).await;
    assert_eq!(piped, "OK\n1\n-1\n1\n100\n");
    let hello = redis_cli(a, &["-3", "hello", "3"], None).await;
    assert!(hello.contains("hive"), "{hello}");
    // malformed input through redis-cli: an unbalanced quote never reaches us
    let text = redis_cli(a, &["--no-raw", "getrange", "user:1", "0", "1"], None).await;
    assert_eq!(text.trim(), "\"an\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_benchmark_runs_to_completion() {
    if !support::have_redis("redis_benchmark_runs_to_completion") {
        return;
    }
    if !support::on_path("redis-benchmark") {
        support::skip(
            "redis_benchmark_runs_to_completion",
            "redis-benchmark not found",
        );
        return;
    }
    let srv = start(io::Config::default()).await;
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &srv.addr.port().to_string()])
            .args([
                "-t",
                "set,get,ping",
                "-n",
                "2000",
                "-c",
                "10",
                "-q",
                "--csv",
            ])
            .stdin(std::process::Stdio::null())
            .output(),
    )
    .await
    .expect("benchmark finished")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for t in ["PING_INLINE", "PING_MBULK", "SET", "GET"] {
        assert!(
            stdout.contains(&format!("\"{t}\"")),
            "{t} missing: {stdout}"
        );
    }
    assert!(!stdout.contains("Error"), "{stdout}");
}

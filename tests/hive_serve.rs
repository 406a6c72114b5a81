//! `tidepool serve --hive` start-up options (hive spec section 5): `--peer`
//! refused, `--io-threads`, `--log-level`, the `[hive]` config table, and
//! `--redis-wait-replicas` against a real master with a replica.

mod hive_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hive_support::{have_redis, wait_until, RedisServer};

struct Server {
    child: Child,
    addr: String,
    /// stderr lines printed before the address line.
    early: Vec<String>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args(["serve", "--hive", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("TIDEPOOL_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidepool serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server printed its address; got {seen:?}"));
        if let Some(a) = line.strip_prefix("hive: listening on ") {
            break a.trim().to_string();
        }
        seen.push(line);
    };
    Server {
        child,
        addr,
        early: seen,
        lines: rx,
    }
}

fn command(addr: &str, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(req).expect("write");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).expect("read");
    buf.truncate(n);
    buf
}

#[test]
fn peer_is_refused_with_invalid_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args(["serve", "--hive", "--listen", "127.0.0.1:0"])
        .args(["--peer", "127.0.0.1:5910", "--transient"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_option (6) --peer"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn io_threads_runs_the_server_on_its_own_runtime() {
    let server = start(&["--transient", "--io-threads", "3"]);
    assert_eq!(
        command(&server.addr, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
        b"+OK\r\n"
    );
    assert_eq!(
        command(&server.addr, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
        b"$1\r\nv\r\n"
    );
    let pid = server.child.id();
    let names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("task dir")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    let io = names.iter().filter(|n| n.as_str() == "hive-io").count();
    assert_eq!(io, 3, "threads: {names:?}");
}

#[test]
fn config_table_and_log_level_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[hive]\ntransient = true\nlimiter_max_entries_count = 7\nlog_level = \"debug\"\nbogus = 1\n",
    )
    .expect("write config");
    let server = start(&["--config", config.to_str().expect("utf-8 path")]);
    let reply = command(
        &server.addr,
        b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$25\r\nlimiter-max-entries-count\r\n",
    );
    assert!(
        String::from_utf8_lossy(&reply).contains("\r\n7\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let early = server.early.join("\n");
    assert!(early.contains("[hive] unknown key \"bogus\""), "{early}");
    assert!(early.contains("durability transient"), "{early}");
    // log_level = debug: the connection's debug record reaches stderr
    let mut lines = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            while let Ok(l) = server.lines.try_recv() {
                lines.push(l);
            }
            lines
                .iter()
                .any(|l| l.contains("DEBUG") && l.contains("connection opened"))
        }),
        "{lines:?}"
    );
}

#[test]
fn redis_wait_replicas_waits_for_a_real_replica() {
    if !have_redis("redis_wait_replicas_waits_for_a_real_replica") {
        return;
    }
    let master = RedisServer::start(false);
    let replica = RedisServer::start(false);
    replica.cli(&["replicaof", "127.0.0.1", &master.port.to_string()]);
    assert!(
        wait_until(Duration::from_secs(20), || master
            .cli(&["info", "replication"])
            .contains("state=online")),
        "replica did not come online"
    );
    let one = start(&[
        "--hive-backend",
        "redis",
        "--redis-url",
        &master.url(),
        "--redis-wait-replicas",
        "1",
    ]);
    assert_eq!(
        command(&one.addr, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n"),
        b"+OK\r\n"
    );
    assert!(wait_until(Duration::from_secs(5), || replica
        .cli(&["get", "k"])
        .contains("v1")));
    drop(one);
    // two replicas asked for, one exists: the write lands but reports timeout
    let two = start(&[
        "--hive-backend",
        "redis",
        "--redis-url",
        &master.url(),
        "--redis-wait-replicas",
        "2",
        "--redis-wait-timeout",
        "200",
    ]);
    let reply = command(&two.addr, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv2\r\n");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("-ERR timeout"), "{text}");
    assert!(text.contains("1 of 2 replicas"), "{text}");
    assert!(master.cli(&["get", "k"]).contains("v2"));
}

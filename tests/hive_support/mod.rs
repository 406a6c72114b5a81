//! Shared helpers of the hive integration tests: throwaway redis-server
//! processes (hive spec section 11), skip rules, polling with a deadline.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether missing peers must fail the test (CI sets TIDEPOOL_REQUIRE_INTEROP=1).
pub fn interop_required() -> bool {
    std::env::var("TIDEPOOL_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Prints the loud skip line, or fails when interop is required.
pub fn skip(test: &str, reason: &str) {
    if interop_required() {
        panic!("{test}: {reason} (TIDEPOOL_REQUIRE_INTEROP=1)");
    }
    eprintln!("skipping {test}: {reason}");
}

/// Whether `cmd` is on PATH.
pub fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(cmd).is_file()))
}

/// Polls `f` until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A port whose number and number + 10000 (the cluster bus) are both free now.
/// Redis cannot bind port 0 and report it, so this is the one place a test
/// picks a port; the window between probe and bind is tiny.
pub fn free_port(with_bus: bool) -> u16 {
    for _ in 0..200 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind probe");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        if port > 55_535 && with_bus {
            continue;
        }
        if !with_bus || TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair");
}

/// A redis-server child on 127.0.0.1, killed (by its PID) on drop.
pub struct RedisServer {
    child: Child,
    /// Its port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl RedisServer {
    /// Starts a server; `cluster` enables cluster mode.
    pub fn start(cluster: bool) -> RedisServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port(cluster);
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(dir.path().join("redis.log"));
        if cluster {
            cmd.args(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
                .arg("--cluster-config-file")
                .arg(dir.path().join("nodes.conf"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let server = RedisServer {
            child,
            port,
            _dir: dir,
        };
        assert!(
            wait_until(Duration::from_secs(10), || cli(port, &["ping"])
                .is_some_and(|s| s.contains("PONG"))),
            "redis-server on {port} did not answer"
        );
        server
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs redis-cli against it.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three masters, no replicas (section 11.2).
pub struct RedisCluster {
    /// The nodes.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the nodes, creates the cluster, waits for `cluster_state:ok` on all.
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3).map(|_| RedisServer::start(true)).collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        for n in &nodes {
            assert!(
                wait_until(Duration::from_secs(20), || n
                    .cli(&["cluster", "info"])
                    .contains("cluster_state:ok")),
                "cluster not ok on {}",
                n.port
            );
        }
        RedisCluster { nodes }
    }

    /// `redis+cluster://h:p,h:p,h:p`.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }
}

/// Whether the redis tools are installed; prints the skip line when not.
pub fn have_redis(test: &str) -> bool {
    for cmd in ["redis-server", "redis-cli"] {
        if !on_path(cmd) {
            skip(
                test,
                &format!("{cmd} not found (apt-get install redis-server redis-tools)"),
            );
            return false;
        }
    }
    true
}

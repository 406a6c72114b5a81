//! `tidepool bench amp`: calls/s and latency of `Sum` calls on 127.0.0.1, in one
//! run: a raw TCP ping-pong with the same message sizes (the floor for
//! sequential calls), tidepool↔tidepool at depth 1/16/256, Twisted's client
//! against tidepool's server, tidepool's client against Twisted's server, and
//! Twisted↔Twisted as the baseline. Servers run pinned to CPU 0 and clients to
//! CPU 1 (`taskset`), the same for every pair.
//!
//! The process re-runs itself for the pinned roles, selected by the
//! `TIDEPOOL_BENCH_AMP_ROLE` environment variable.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::engine::amp::codec::AmpBox;
use crate::engine::amp::io::{self, CallOptions, NoCommands, Reply};
use crate::error::Report;
use crate::net::transport::Target;

const ROLE: &str = "TIDEPOOL_BENCH_AMP_ROLE";

const BENCH_SCHEMA: &str = r#"
[[command]]
name = "Sum"
readonly_safe = true
arguments = [{ name = "a", type = "integer" }, { name = "b", type = "integer" }]
response = [{ name = "total", type = "integer" }]
canned = { total = 94 }
"#;

/// One measured row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Row {
    calls: u64,
    seconds: f64,
    calls_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

fn fail(what: impl std::fmt::Display) -> Report {
    Report::failure(format!("bench amp: {what}"))
}

/// Kills a helper process (by its own handle) when dropped.
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pinned(cpu: Option<&str>, program: &Path) -> Command {
    match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Starts a helper and reads the port it prints (last `:`-separated number on
/// the first matching line of stdout or stderr).
fn start_helper(mut cmd: Command, from_stderr: bool) -> Result<(Helper, u16), Report> {
    if from_stderr {
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("spawning helper: {e}")))?;
    let pipe: Box<dyn std::io::Read + Send> = if from_stderr {
        Box::new(child.stderr.take().ok_or_else(|| fail("no stderr"))?)
    } else {
        Box::new(child.stdout.take().ok_or_else(|| fail("no stdout"))?)
    };
    let helper = Helper(child);
    let mut reader = BufReader::new(pipe);
    let mut line = String::new();
    let port = loop {
        line.clear();
        if reader.read_line(&mut line).map_err(fail)? == 0 {
            return Err(fail("helper exited before listening"));
        }
        let port = line
            .split(|c: char| !c.is_ascii_digit() && c != ':')
            .filter_map(|w| w.rsplit_once(':'))
            .filter_map(|(_, p)| p.parse::<u16>().ok())
            .find(|p| *p != 0);
        if let Some(p) = port {
            break p;
        }
    };
    // Keep draining so the helper never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    Ok((helper, port))
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1e6
}

fn row(calls: u64, elapsed: Duration, mut lat: Vec<Duration>) -> Row {
    lat.sort_unstable();
    Row {
        calls,
        seconds: elapsed.as_secs_f64(),
        calls_per_s: calls as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_us: percentile(&lat, 0.50),
        p99_us: percentile(&lat, 0.99),
    }
}

fn sum_args() -> AmpBox {
    AmpBox::new()
        .with(&b"a"[..], &b"13"[..])
        .with(&b"b"[..], &b"81"[..])
}

/// The tidepool client: `calls` Sum calls keeping `depth` in flight.
async fn tidepool_client(port: u16, calls: u64, depth: u64) -> Result<Row, Report> {
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let client = io::connect(&target, None, Arc::new(NoCommands), io::Options::default())
        .await
        .map_err(fail)?;
    let mut in_flight = FuturesUnordered::new();
    let mut issued = 0;
    let mut lat = Vec::with_capacity(calls as usize);
    let start = Instant::now();
    while issued < calls || !in_flight.is_empty() {
        while issued < calls && (in_flight.len() as u64) < depth {
            let p = client
                .start_call("Sum", sum_args(), true, CallOptions::default())
                .await
                .map_err(fail)?;
            let t0 = Instant::now();
            in_flight.push(async move { (p.await, t0.elapsed()) });
            issued += 1;
        }
        if let Some((r, d)) = in_flight.next().await {
            match r.map_err(fail)? {
                Reply::Answer(b) if b.get(b"total").map(|v| v.as_ref()) == Some(b"94") => {}
                other => return Err(fail(format!("unexpected reply {other:?}"))),
            }
            lat.push(d);
        }
    }
    let elapsed = start.elapsed();
    client.close().await;
    Ok(row(calls, elapsed, lat))
}

fn request_bytes() -> Bytes {
    sum_args()
        .with(&b"_ask"[..], &b"1"[..])
        .with(&b"_command"[..], &b"Sum"[..])
        .to_bytes()
        .unwrap_or_default()
}

fn answer_bytes() -> Bytes {
    AmpBox::new()
        .with(&b"_answer"[..], &b"1"[..])
        .with(&b"total"[..], &b"94"[..])
        .to_bytes()
        .unwrap_or_default()
}

/// Raw TCP ping-pong client: fixed-size request, fixed-size reply, no parsing.
async fn pingpong_client(port: u16, calls: u64) -> Result<Row, Report> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(fail)?;
    s.set_nodelay(true).map_err(fail)?;
    let req = request_bytes();
    let mut buf = vec![0u8; answer_bytes().len()];
    let mut lat = Vec::with_capacity(calls as usize);
    let start = Instant::now();
    for _ in 0..calls {
        let t0 = Instant::now();
        s.write_all(&req).await.map_err(fail)?;
        s.read_exact(&mut buf).await.map_err(fail)?;
        lat.push(t0.elapsed());
    }
    Ok(row(calls, start.elapsed(), lat))
}

async fn pingpong_server() -> Result<(), Report> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(fail)?;
    let port = listener.local_addr().map_err(fail)?.port();
    println!("pingpong on 127.0.0.1:{port}");
    let req_len = request_bytes().len();
    let answer = answer_bytes();
    loop {
        let (mut s, _) = listener.accept().await.map_err(fail)?;
        let _ = s.set_nodelay(true);
        let answer = answer.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; req_len];
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&answer).await.is_err() {
                    break;
                }
            }
        });
    }
}

fn current_thread() -> Result<tokio::runtime::Runtime, Report> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(fail)
}

/// Runs a pinned role when re-executed; `None` when this is the main run.
fn run_role() -> Option<Result<(), Report>> {
    let role = std::env::var(ROLE).ok()?;
    let parts: Vec<&str> = role.split(':').collect();
    let num = |i: usize| {
        parts
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let result = current_thread().and_then(|rt| {
        rt.block_on(async {
            match parts.first().copied() {
                Some("pingpong-server") => pingpong_server().await,
                Some("pingpong-client") => {
                    let r = pingpong_client(num(1) as u16, num(2)).await?;
                    println!("{}", serde_json::to_string(&r).unwrap_or_default());
                    Ok(())
                }
                Some("client") => {
                    let r = tidepool_client(num(1) as u16, num(2), num(3)).await?;
                    println!("{}", serde_json::to_string(&r).unwrap_or_default());
                    Ok(())
                }
                _ => Err(fail(format!("unknown role {role:?}"))),
            }
        })
    });
    Some(result)
}

struct Env {
    exe: PathBuf,
    python: Option<PathBuf>,
    peers: Option<PathBuf>,
    server_cpu: Option<&'static str>,
    client_cpu: Option<&'static str>,
    schema: PathBuf,
}

impl Env {
    fn run_json(&self, mut cmd: Command) -> Result<Row, Report> {
        let out = cmd
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| fail(format!("running client: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rfind(|l| l.starts_with('{'))
            .ok_or_else(|| {
                fail(format!(
                    "client printed no result: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            })?;
        serde_json::from_str(line).map_err(|e| fail(format!("client result {line:?}: {e}")))
    }

    fn role(&self, role: String) -> Command {
        let mut c = pinned(self.client_cpu, &self.exe);
        c.args(["bench", "amp"]).env(ROLE, role);
        c
    }

    fn tidepool_server(&self) -> Result<(Helper, u16), Report> {
        let mut c = pinned(self.server_cpu, &self.exe);
        c.args(["serve", "--amp", "--listen", "127.0.0.1:0", "--schema"])
            .arg(&self.schema)
            .env("TIDEPOOL_LOG", "warn");
        start_helper(c, true)
    }

    fn twisted_server(&self) -> Option<Result<(Helper, u16), Report>> {
        let (python, peers) = (self.python.as_ref()?, self.peers.as_ref()?);
        let mut c = pinned(self.server_cpu, python);
        c.arg("server.py").arg("0").current_dir(peers);
        Some(start_helper(c, false))
    }

    fn twisted_client(&self, port: u16, calls: u64, depth: u64) -> Option<Result<Row, Report>> {
        let (python, peers) = (self.python.as_ref()?, self.peers.as_ref()?);
        let mut c = pinned(self.client_cpu, python);
        c.arg("bench.py")
            .arg(port.to_string())
            .arg(calls.to_string())
            .arg(depth.to_string())
            .current_dir(peers);
        Some(self.run_json(c))
    }
}

fn find_python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TIDEPOOL_PYTHON").map(PathBuf::from),
        Some(PathBuf::from(".venv/bin/python")),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.venv/bin/python"
        ))),
    ];
    candidates
        .into_iter()
        .flatten()
        .filter_map(|p| {
            // Helpers run in the peers directory: make the path absolute.
            // Not canonicalize: the venv's python is a symlink to the system one.
            if p.is_relative() && p.components().count() > 1 {
                std::env::current_dir().ok().map(|d| d.join(&p))
            } else {
                Some(p)
            }
        })
        .find(|p| {
            Command::new(p)
                .args(["-c", "import twisted.protocols.amp"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
}

fn find_peers() -> Option<PathBuf> {
    [
        PathBuf::from("tests/peers/amp"),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/amp")),
    ]
    .into_iter()
    .find(|p| p.join("bench.py").exists())
    .and_then(|p| std::fs::canonicalize(p).ok())
}

/// Runs the amp benchmark and prints its table.
pub fn run(quick: bool) -> Result<(), Report> {
    if let Some(r) = run_role() {
        return r;
    }
    let exe = std::env::current_exe().map_err(fail)?;
    let has_taskset = Command::new("taskset")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let dir = tempfile_dir()?;
    let schema = dir.join("bench.toml");
    std::fs::write(&schema, BENCH_SCHEMA).map_err(fail)?;
    let env = Env {
        exe,
        python: find_python(),
        peers: find_peers(),
        server_cpu: has_taskset.then_some("0"),
        client_cpu: has_taskset.then_some("1"),
        schema,
    };
    let scale = if quick { 10 } else { 1 };
    let rust_seq = 20_000 / scale;
    let rust_pipe = 200_000 / scale;
    let py_seq = 3_000 / scale;
    let py_pipe = 10_000 / scale;
    let mut rows: Vec<(String, u64, Row)> = Vec::new();
    let mut notes = Vec::new();

    // Raw TCP ping-pong with the Sum request/answer sizes.
    {
        let mut c = pinned(env.server_cpu, &env.exe);
        c.args(["bench", "amp"]).env(ROLE, "pingpong-server");
        let (_srv, port) = start_helper(c, false)?;
        let r = env.run_json(env.role(format!("pingpong-client:{port}:{rust_seq}")))?;
        rows.push(("raw TCP ping-pong".into(), 1, r));
    }
    // tidepool ↔ tidepool, then Twisted's client against tidepool's server.
    {
        let (_srv, port) = env.tidepool_server()?;
        for (depth, calls) in [(1, rust_seq), (16, rust_pipe), (256, rust_pipe)] {
            let r = env.run_json(env.role(format!("client:{port}:{calls}:{depth}")))?;
            rows.push(("tidepool client → tidepool server".into(), depth, r));
        }
        for (depth, calls) in [(1, py_seq), (16, py_pipe), (256, py_pipe)] {
            match env.twisted_client(port, calls, depth) {
                Some(r) => rows.push(("Twisted client → tidepool server".into(), depth, r?)),
                None => notes.push("Twisted not found: Twisted rows skipped".to_string()),
            }
        }
    }
    // tidepool's client and Twisted's client against Twisted's server.
    if let Some(srv) = env.twisted_server() {
        let (_srv, port) = srv?;
        for (depth, calls) in [(1, py_seq), (16, py_pipe), (256, py_pipe)] {
            let r = env.run_json(env.role(format!("client:{port}:{calls}:{depth}")))?;
            rows.push(("tidepool client → Twisted server".into(), depth, r));
        }
        for (depth, calls) in [(1, py_seq), (16, py_pipe), (256, py_pipe)] {
            if let Some(r) = env.twisted_client(port, calls, depth) {
                rows.push((
                    "Twisted client → Twisted server (baseline)".into(),
                    depth,
                    r?,
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "AMP Sum calls on 127.0.0.1, one connection; servers on CPU {}, clients on CPU {}{}",
        env.server_cpu.unwrap_or("any"),
        env.client_cpu.unwrap_or("any"),
        if quick {
            " (--quick: indicative only)"
        } else {
            ""
        }
    );
    println!();
    println!("| pair | in flight | calls | calls/s | p50 µs | p99 µs |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, depth, r) in &rows {
        println!(
            "| {name} | {depth} | {} | {:.0} | {:.0} | {:.0} |",
            r.calls, r.calls_per_s, r.p50_us, r.p99_us
        );
    }
    let find = |name: &str, depth: u64| {
        rows.iter()
            .find(|(n, d, _)| n.starts_with(name) && *d == depth)
            .map(|(_, _, r)| r.calls_per_s)
    };
    println!();
    if let (Some(seq), Some(raw)) = (find("tidepool client → tidepool", 1), find("raw TCP", 1)) {
        println!(
            "sequential tidepool↔tidepool = {:.0}% of the raw TCP ping-pong (target ≥ 70%)",
            100.0 * seq / raw
        );
    }
    for depth in [16, 256] {
        if let (Some(ours), Some(base)) = (
            find("tidepool client → tidepool", depth),
            find("Twisted client → Twisted", depth),
        ) {
            println!(
                "{depth} in flight: tidepool↔tidepool = {:.1}× Twisted↔Twisted (target ≥ 20×)",
                ours / base
            );
        }
    }
    for n in notes.iter().take(1) {
        println!("note: {n}");
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, Report> {
    let dir = std::env::temp_dir().join(format!("tidepool-bench-amp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(fail)?;
    Ok(dir)
}

//! `tidepool bench rpc`: simpy.io RPC calls/s over loopback, sequential and
//! pipelined, for tidepool↔tidepool and the Python peer (mosaik-simpy-io) in
//! the same run, next to a raw TCP ping-pong of the same frame sizes (the
//! bound for sequential calls) and the single-core JSON encode+decode rate
//! (the ceiling for pipelined calls).
//!
//! Pinning is the same on every side: the server runs on CPU 0 and the client
//! on CPU 1 (threads pinned with `sched_setaffinity` for our side, `taskset`
//! for the Python processes). Figures are measured, never asserted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::engine::simpyio::codec::{Message, MessageCodec};
use crate::engine::simpyio::{io, mock, Call, Json, Reply, Service};
use crate::error::Report;
use crate::net::shutdown::Shutdown;
use crate::net::transport::{Listener, LocalAddr, Target};

const SERVER_CPU: usize = 0;
const CLIENT_CPU: usize = 1;

/// One row of the table.
struct Row {
    what: String,
    calls_per_sec: Option<f64>,
    note: String,
}

/// Runs the rpc benchmark and prints its table.
pub fn run(quick: bool) -> Result<(), Report> {
    let secs = if quick { 0.5 } else { 3.0 };
    let span = Duration::from_secs_f64(secs);
    let mut rows = Vec::new();

    let raw = raw_ping_pong(span)?;
    rows.push(Row {
        what: "raw TCP ping-pong, same frame sizes".into(),
        calls_per_sec: Some(raw),
        note: "bound for sequential calls".into(),
    });
    let ceiling = json_ceiling(span);
    rows.push(Row {
        what: "JSON encode+decode only (1 core)".into(),
        calls_per_sec: Some(ceiling),
        note: "ceiling for pipelined calls".into(),
    });

    let ours = with_tidepool_server(|port| {
        let mut out = Vec::new();
        for window in [1usize, 16, 256] {
            out.push(tidepool_client(port, window, span)?);
        }
        Ok(out)
    })?;
    let python = python_peer();
    let mut py = [None, None, None];
    let mut mixed = None;
    match &python {
        Ok(py_cmd) => {
            let (mut server, port) = python_server(py_cmd)?;
            for (i, window) in [1usize, 16, 256].into_iter().enumerate() {
                py[i] = python_client(py_cmd, port, window, secs).ok();
            }
            mixed = tidepool_client(port, 1, span).ok();
            let _ = server.kill();
            let _ = server.wait();
        }
        Err(why) => eprintln!("warning: python baseline skipped: {why}"),
    }

    for (i, window) in [1usize, 16, 256].into_iter().enumerate() {
        let label = if window == 1 {
            "sequential".to_string()
        } else {
            format!("pipelined, {window} outstanding")
        };
        let note = match (window, py[i]) {
            (1, _) => format!(
                "{:.0}% of raw ping-pong (target ≥ 70%)",
                100.0 * ours[i] / raw
            ),
            (_, Some(p)) => format!("{:.1}× Python (target ≥ 10×)", ours[i] / p),
            (_, None) => String::new(),
        };
        rows.push(Row {
            what: format!("tidepool ↔ tidepool, {label}"),
            calls_per_sec: Some(ours[i]),
            note,
        });
    }
    for (i, window) in [1usize, 16, 256].into_iter().enumerate() {
        let label = if window == 1 {
            "sequential".to_string()
        } else {
            format!("pipelined, {window} outstanding")
        };
        rows.push(Row {
            what: format!("Python ↔ Python (baseline), {label}"),
            calls_per_sec: py[i],
            note: if py[i].is_none() {
                "not measured".into()
            } else {
                String::new()
            },
        });
    }
    rows.push(Row {
        what: "tidepool client → Python server, sequential".into(),
        calls_per_sec: mixed,
        note: if mixed.is_none() {
            "not measured".into()
        } else {
            String::new()
        },
    });

    println!(
        "tidepool bench rpc: {} s per figure, server on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}, {} build, {} CPUs",
        secs,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    );
    println!("| measurement | calls/s | note |");
    println!("|---|---:|---|");
    for r in rows {
        let v = r
            .calls_per_sec
            .map(|v| format!("{v:.0}"))
            .unwrap_or_else(|| "-".into());
        println!("| {} | {} | {} |", r.what, v, r.note);
    }
    Ok(())
}

fn pin(cpu: usize) {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu % cpus).is_ok() {
        // Best effort: an unpinned run is still a valid, if noisier, figure.
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, Report> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Report::from)
}

fn sizes() -> (Vec<u8>, Vec<u8>) {
    let req = Message {
        kind: crate::engine::simpyio::codec::Kind::Request,
        id: Json::from(1000),
        content: Call::new("echo", vec![Json::from(1)]).to_content(),
    };
    let rep = "[1, 1000, 1]";
    let mut a = (req.to_text().len() as u32).to_be_bytes().to_vec();
    a.extend_from_slice(req.to_text().as_bytes());
    let mut b = (rep.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(rep.as_bytes());
    (a, b)
}

/// Blocking ping-pong with frames the size of an `echo` request and reply.
fn raw_ping_pong(span: Duration) -> Result<f64, Report> {
    let (req, rep) = sizes();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (rl, pl) = (req.len(), rep.clone());
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        pin(SERVER_CPU);
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; rl];
        while s.read_exact(&mut buf).is_ok() {
            s.write_all(&pl)?;
        }
        Ok(())
    });
    let result = std::thread::spawn(move || -> std::io::Result<f64> {
        pin(CLIENT_CPU);
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; rep.len()];
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < span {
            s.write_all(&req)?;
            s.read_exact(&mut buf)?;
            n += 1;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    })
    .join()
    .map_err(|_| Report::failure("raw ping-pong client panicked"))??;
    let _ = server.join();
    Ok(result)
}

/// Encode a request, decode it, encode the reply, decode it: what one call
/// costs in JSON and framing alone.
fn json_ceiling(span: Duration) -> f64 {
    let mut codec = MessageCodec::default();
    let mut buf = BytesMut::with_capacity(256);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < span {
        for i in 0..1000i64 {
            let call = Call::new("echo", vec![Json::from(i)]);
            let req = Message {
                kind: crate::engine::simpyio::codec::Kind::Request,
                id: Json::from(i),
                content: call.to_content(),
            };
            let _ = tokio_util::codec::Encoder::encode(&mut codec, &req, &mut buf);
            let got = codec.decode(&mut buf).ok().flatten();
            let rep = Message {
                kind: crate::engine::simpyio::codec::Kind::Success,
                id: got.map(|m| m.id).unwrap_or(Json::Null),
                content: Json::from(i),
            };
            let _ = tokio_util::codec::Encoder::encode(&mut codec, &rep, &mut buf);
            let _ = std::hint::black_box(codec.decode(&mut buf));
        }
        n += 1000;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Runs our server on a thread pinned to the server CPU for the duration of `f`.
fn with_tidepool_server<T>(f: impl FnOnce(u16) -> Result<T, Report>) -> Result<T, Report> {
    let (tx, rx) = std::sync::mpsc::channel();
    let shutdown = Shutdown::new();
    let sd = shutdown.clone();
    let server = std::thread::spawn(move || -> Result<(), Report> {
        pin(SERVER_CPU);
        let rt = current_thread_runtime()?;
        rt.block_on(async move {
            let listener =
                Listener::bind_tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            let port = match listener.local_addr()? {
                LocalAddr::Tcp(a) => a.port(),
                LocalAddr::Unix(_) => 0,
            };
            let _ = tx.send(port);
            io::serve(
                listener,
                sd.clone(),
                crate::net::server::Options::new("rpc"),
                Arc::new(mock::server()),
                io::Options::default(),
            )
            .await;
            sd.drain(Duration::from_secs(2)).await;
            Ok(())
        })
    });
    let port = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| Report::failure("bench server did not start"))?;
    let out = f(port);
    shutdown.trigger();
    let _ = server.join();
    out
}

/// Calls/s of our client with `window` calls outstanding, on the client CPU.
fn tidepool_client(port: u16, window: usize, span: Duration) -> Result<f64, Report> {
    std::thread::spawn(move || -> Result<f64, Report> {
        pin(CLIENT_CPU);
        let rt = current_thread_runtime()?;
        rt.block_on(async move {
            let target = Target::Tcp {
                host: "127.0.0.1".into(),
                port,
            };
            let (client, _task) = io::connect(
                &target,
                None,
                Arc::new(Service::new()),
                io::Options::default(),
                Shutdown::new(),
            )
            .await
            .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e))?;
            client
                .call_args("echo", vec![Json::from(0)])
                .await
                .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e))?;
            let start = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..window {
                let c = client.clone();
                tasks.push(tokio::spawn(async move {
                    let mut n = 0u64;
                    while start.elapsed() < span {
                        match c.call_args("echo", vec![Json::from(1)]).await {
                            Ok(Reply::Success(_)) => n += 1,
                            _ => break,
                        }
                    }
                    n
                }));
            }
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap_or(0);
            }
            Ok(total as f64 / start.elapsed().as_secs_f64())
        })
    })
    .join()
    .map_err(|_| Report::failure("bench client panicked"))?
}

fn peers_dir() -> PathBuf {
    std::env::var_os("TIDEPOOL_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers")))
        .join("simpyio")
}

/// The Python with simpy.io: TIDEPOOL_PYTHON, the project's .venv, or python3.
fn python_peer() -> Result<String, String> {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    let candidates = [
        std::env::var("TIDEPOOL_PYTHON").ok(),
        Some(venv.to_string()),
        Some("python3".to_string()),
    ];
    for py in candidates.into_iter().flatten() {
        let ok = Command::new(&py)
            .args(["-c", "import simpy.io.select, simpy.io.json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(py);
        }
    }
    Err(
        "no python with simpy.io (pip install 'simpy<4' mosaik-simpy-io, or set TIDEPOOL_PYTHON)"
            .into(),
    )
}

fn taskset(cpu: usize, program: &str) -> Command {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let has_taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", &(cpu % cpus).to_string(), program]);
        c
    } else {
        Command::new(program)
    }
}

fn python_server(py: &str) -> Result<(Child, u16), Report> {
    let mut child = taskset(SERVER_CPU, py)
        .args(["server.py", "0"])
        .current_dir(peers_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let Some(stdout) = child.stdout.take() else {
        return Err(Report::failure("python server: no stdout"));
    };
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Keep reading its log so the server never writes into a closed pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| Report::failure(format!("python server said {line:?}")))?;
    Ok((child, port))
}

fn python_client(py: &str, port: u16, window: usize, secs: f64) -> Result<f64, Report> {
    let out = taskset(CLIENT_CPU, py)
        .args([
            "bench_client.py",
            &port.to_string(),
            &window.to_string(),
            &secs.to_string(),
        ])
        .current_dir(peers_dir())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("calls"), Some(n), Some("seconds"), Some(s)) => {
            let n: f64 = n.parse().unwrap_or(0.0);
            let s: f64 = s.parse().unwrap_or(1.0);
            Ok(n / s.max(1e-9))
        }
        _ => Err(Report::failure(format!(
            "python bench client said {text:?}"
        ))),
    }
}

//! `tidepool bench hive` (hive spec section 10.3): redis-benchmark against
//! `tidepool serve --hive` and against redis-server, interleaved in the same run,
//! servers pinned to CPU 0 and the load generator to CPU 1 on both sides.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Report;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(cmd).is_file()))
}

fn free_port() -> Result<u16, Report> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn pinned(cpu: &str, program: &str, pin: bool) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", cpu, program]);
        c
    } else {
        Command::new(program)
    }
}

fn wait_ready(port: u16) -> Result<(), Report> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let mut buf = [0u8; 7];
            if s.write_all(b"PING\r\n").is_ok()
                && s.read_exact(&mut buf).is_ok()
                && &buf == b"+PONG\r\n"
            {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(Report::failure(format!(
        "server on port {port} did not answer PING"
    )))
}

fn query(port: u16, cmd: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.write_all(format!("{cmd}\r\n").as_bytes());
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One `--csv` row: ops/s, p50 ms, p99 ms.
#[derive(Clone, Copy, Default)]
struct Row {
    rps: f64,
    p50: f64,
    p99: f64,
}

fn run_benchmark(
    port: u16,
    extra: &[&str],
    n: u32,
    pin: bool,
) -> Result<Vec<(String, Row)>, Report> {
    let mut cmd = pinned("1", "redis-benchmark", pin);
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-t",
        "set,get",
        "-n",
        &n.to_string(),
        "--csv",
    ])
    .args(extra)
    .stdin(Stdio::null());
    let out = cmd.output().map_err(|e| {
        Report::from_error(crate::error::Exit::Failure, &e).context("redis-benchmark")
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Error") {
        return Err(Report::failure(format!(
            "redis-benchmark against port {port} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<String> = line
            .split(',')
            .map(|s| s.trim_matches('"').to_string())
            .collect();
        if f.len() >= 7 {
            let num = |i: usize| f[i].parse::<f64>().unwrap_or(0.0);
            rows.push((
                f[0].clone(),
                Row {
                    rps: num(1),
                    p50: num(4),
                    p99: num(6),
                },
            ));
        }
    }
    Ok(rows)
}

fn start_redis(port: u16, dir: &std::path::Path, pin: bool) -> Result<Proc, Report> {
    let mut cmd = pinned("0", "redis-server", pin);
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .arg("--dir")
    .arg(dir)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let child = cmd
        .spawn()
        .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e).context("redis-server"))?;
    let p = Proc(child);
    wait_ready(port)?;
    Ok(p)
}

fn start_hive(port: u16, dir: &std::path::Path, mode: &[&str], pin: bool) -> Result<Proc, Report> {
    let exe = std::env::current_exe()?;
    let exe = exe.to_string_lossy().into_owned();
    let mut cmd = pinned("0", &exe, pin);
    cmd.args([
        "serve",
        "--hive",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--hive-data",
    ])
    .arg(dir)
    .args(mode)
    .env("TIDEPOOL_LOG", "warn")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let child = cmd.spawn().map_err(|e| {
        Report::from_error(crate::error::Exit::Failure, &e).context("tidepool serve --hive")
    })?;
    let p = Proc(child);
    wait_ready(port)?;
    Ok(p)
}

fn info_field(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or("?")
        .trim()
        .to_string()
}

/// Runs the hive benchmark and prints its table.
pub fn run(quick: bool) -> Result<(), Report> {
    for tool in ["redis-server", "redis-benchmark"] {
        if !on_path(tool) {
            return Err(Report::usage(format!(
                "bench hive: {tool} not found (apt-get install redis-server redis-tools)"
            )));
        }
    }
    let pin = on_path("taskset")
        && std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            >= 2;
    let n: u32 = if quick { 20_000 } else { 200_000 };
    let runs = if quick { 1 } else { 2 };
    let tmp = std::env::temp_dir().join(format!("tidepool-bench-hive-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let redis_port = free_port()?;
    let redis_dir = tmp.join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let _redis = start_redis(redis_port, &redis_dir, pin)?;
    let redis_version = info_field(&query(redis_port, "INFO server"), "redis_version");
    println!(
        "tidepool bench hive: redis-benchmark -t set,get -n {n} (-c 50 -d 3), {runs} interleaved run(s) per line"
    );
    println!(
        "pinning: {}; redis-server {redis_version} with --save '' --appendonly no",
        if pin {
            "servers taskset -c 0, redis-benchmark taskset -c 1"
        } else {
            "none (taskset missing or 1 CPU)"
        }
    );
    let variants: &[(&str, &[&str])] = &[
        ("durable (default)", &[]),
        ("--transient", &["--transient"]),
        ("--flush-interval 10", &["--flush-interval", "10"]),
    ];
    let loads: &[(&str, &[&str])] = &[
        ("-P 1", &["-P", "1"]),
        ("-P 16", &["-P", "16"]),
        ("-r 100000 -P 16", &["-r", "100000", "-P", "16"]),
    ];
    println!();
    println!(
        "{:<22} {:<17} {:<4} {:>12} {:>12} {:>7} {:>15} {:>15}",
        "hive mode",
        "load",
        "test",
        "redis ops/s",
        "hive ops/s",
        "ratio",
        "redis p50/p99",
        "hive p50/p99"
    );
    let mut notes = Vec::new();
    for (label, mode) in variants {
        let port = free_port()?;
        let dir = tmp.join(label.replace([' ', '(', ')', '-'], ""));
        let _ = std::fs::remove_dir_all(&dir);
        let hive = start_hive(port, &dir, mode, pin)?;
        let info = query(port, "INFO hive");
        notes.push(format!(
            "{label}: durability {}, limiter-max-bytes {}, limiter-max-entries-count {}",
            info_field(&info, "durability"),
            info_field(&info, "limiter_max_bytes"),
            info_field(&info, "limiter_max_entries_count")
        ));
        for (load, extra) in loads {
            let mut redis_rows: Vec<Vec<(String, Row)>> = Vec::new();
            let mut hive_rows: Vec<Vec<(String, Row)>> = Vec::new();
            for _ in 0..runs {
                redis_rows.push(run_benchmark(redis_port, extra, n, pin)?);
                hive_rows.push(run_benchmark(port, extra, n, pin)?);
            }
            for test in ["SET", "GET"] {
                let avg = |rows: &Vec<Vec<(String, Row)>>| {
                    let hits: Vec<Row> = rows
                        .iter()
                        .filter_map(|r| r.iter().find(|(t, _)| t == test).map(|(_, row)| *row))
                        .collect();
                    let k = hits.len().max(1) as f64;
                    Row {
                        rps: hits.iter().map(|r| r.rps).sum::<f64>() / k,
                        p50: hits.iter().map(|r| r.p50).sum::<f64>() / k,
                        p99: hits.iter().map(|r| r.p99).sum::<f64>() / k,
                    }
                };
                let (r, h) = (avg(&redis_rows), avg(&hive_rows));
                let ratio = if r.rps > 0.0 { h.rps / r.rps } else { 0.0 };
                println!(
                    "{:<22} {:<17} {:<4} {:>12.0} {:>12.0} {:>6.2}x {:>7.3}/{:<7.3} {:>7.3}/{:<7.3}",
                    label, load, test, r.rps, h.rps, ratio, r.p50, r.p99, h.p50, h.p99
                );
            }
        }
        let info = query(port, "INFO hive");
        notes.push(format!(
            "{label}: group_commit_batches {}, group_commit_ops {}, p50 {} us, p99 {} us, limiter_evictions {}, cache_misses {}",
            info_field(&info, "group_commit_batches"),
            info_field(&info, "group_commit_ops"),
            info_field(&info, "group_commit_p50_us"),
            info_field(&info, "group_commit_p99_us"),
            info_field(&info, "limiter_evictions"),
            info_field(&info, "cache_misses")
        ));
        drop(hive);
    }
    println!();
    for n in notes {
        println!("{n}");
    }
    println!(
        "targets: GET >= 1.0x, SET --transient >= 1.0x, SET durable >= 0.5x; --flush-interval 10 is reported separately"
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

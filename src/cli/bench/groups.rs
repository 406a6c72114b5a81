//! `tidepool bench groups`: messages/s through the embedded daemon with one
//! sender and N receivers (100 B and 1 KiB), and join/leave cycles/s.
//!
//! The daemon runs as its own process (`tidepool serve --groups`) pinned with
//! `taskset -c 0`; the load generator re-executes itself under `taskset -c 1`,
//! the same pinning the Spread 5.0.1 figures were taken with. No real
//! Spread daemon installs from the package registries we can use, so the
//! baseline column quotes the measured figures.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::engine::groups::codec::{Name, AGREED_MESS};
use crate::engine::groups::{protocol, Client, ConnectOptions, DaemonAddr, Message};
use crate::error::Report;

const PINNED_ENV: &str = "TIDEPOOL_BENCH_GROUPS_PINNED";

/// In-flight messages the sender allows ahead of the slowest receiver; below
/// the daemon's 1000-message queue so no receiver is dropped.
const WINDOW: u64 = 800;

/// Runs the groups benchmark and prints its table.
pub fn run(quick: bool) -> Result<(), Report> {
    let exe = std::env::current_exe()?;
    let taskset = which("taskset");
    if std::env::var_os(PINNED_ENV).is_none() && taskset {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "1"]).arg(&exe).args(["bench", "groups"]);
        if quick {
            cmd.arg("--quick");
        }
        let status = cmd.env(PINNED_ENV, "1").status()?;
        return if status.success() {
            Ok(())
        } else {
            Err(Report::failure(format!(
                "bench groups: pinned run failed ({status})"
            )))
        };
    }
    let port = free_port()?;
    let mut daemon = spawn_daemon(&exe, port, taskset)?;
    let result = crate::cli::runtime()?.block_on(measure(port, quick, taskset));
    let _ = daemon.kill();
    let _ = daemon.wait();
    result
}

fn which(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> Result<u16, Report> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn spawn_daemon(exe: &std::path::Path, port: u16, taskset: bool) -> Result<Child, Report> {
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "serve",
        "--groups",
        "--groups-listen",
        &listen,
        "--groups-no-unix",
    ];
    let mut cmd = if taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    Ok(cmd
        .args(args)
        .env("TIDEPOOL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

fn err(e: crate::engine::groups::Error) -> Report {
    Report::from_error(crate::error::Exit::Failure, &e).context("bench groups")
}

async fn client(port: u16, name: &str, membership: bool) -> Result<Client, Report> {
    let addr = DaemonAddr::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let opts = ConnectOptions {
        name: name.into(),
        membership,
        ..ConnectOptions::default()
    };
    // The daemon process may still be starting: retry within a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Client::connect(&addr, &opts).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => return Err(err(e)),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Spread 5.0.1 figures measured for issue 10 (same machine class, 2 cores).
fn reference(receivers: usize, churn: bool) -> Option<f64> {
    match (churn, receivers) {
        (true, _) => Some(8_500.0),
        (false, 1) => Some(26_000.0),
        (false, 4) => Some(12_500.0),
        _ => None,
    }
}

struct Row {
    what: String,
    rate: f64,
    deliveries: f64,
    reference: Option<f64>,
}

async fn measure(port: u16, quick: bool, pinned: bool) -> Result<(), Report> {
    let total: u64 = if quick { 5_000 } else { 200_000 };
    let cycles: u64 = if quick { 2_000 } else { 50_000 };
    let mut rows = Vec::new();
    let mut round = 0;
    for receivers in [1usize, 4] {
        for size in [100usize, 1024] {
            round += 1;
            let rate = fanout(port, round, receivers, size, total).await?;
            rows.push(Row {
                what: format!("1 sender -> {receivers} receiver(s), {size} B"),
                rate,
                deliveries: rate * receivers as f64,
                reference: reference(receivers, false),
            });
        }
    }
    let rate = churn(port, cycles).await?;
    rows.push(Row {
        what: "join/leave cycles (1 watcher)".into(),
        rate,
        deliveries: rate * 4.0,
        reference: reference(0, true),
    });
    println!(
        "groups bench: embedded daemon on CPU 0, load generator on CPU 1{}; {} messages per fan-out run, {} churn cycles",
        if pinned { "" } else { " (taskset missing: unpinned)" },
        total,
        cycles
    );
    println!(
        "{:<38} {:>14} {:>16} {:>20} {:>8}",
        "scenario", "tidepool /s", "deliveries /s", "Spread 5.0.1 /s (*)", "ratio"
    );
    for r in &rows {
        let (base, ratio) = match r.reference {
            Some(b) => (format!("{b:.0}"), format!("{:.1}x", r.rate / b)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<38} {:>14.0} {:>16.0} {:>20} {:>8}",
            r.what, r.rate, r.deliveries, base, ratio
        );
    }
    println!("(*) quoted from issue 10 (real Spread 5.0.1 daemon, 100 B and 1000 B); no Spread daemon is installable here to rerun it");
    Ok(())
}

/// One sender multicasts `total` messages of `size` bytes to a group with
/// `receivers` members; returns messages/s until the last receiver has all.
async fn fanout(
    port: u16,
    round: usize,
    receivers: usize,
    size: usize,
    total: u64,
) -> Result<f64, Report> {
    let group = format!("fan{round}");
    let progress: Arc<Vec<AtomicU64>> =
        Arc::new((0..receivers).map(|_| AtomicU64::new(0)).collect());
    let wake = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for i in 0..receivers {
        let mut c = client(port, &format!("r{round}x{i}"), true).await?;
        c.join(&group).await.map_err(err)?;
        let me = c.private_group().clone();
        // Our own join view means the daemon has us in the group.
        loop {
            if let Message::Membership { members, .. } = c.receive().await.map_err(err)? {
                if members.contains(&me) {
                    break;
                }
            }
        }
        let (progress, wake) = (progress.clone(), wake.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = 0u64;
            while got < total {
                match c.receive().await {
                    Ok(Message::Regular { .. }) => {
                        got += 1;
                        if got.is_multiple_of(64) || got == total {
                            progress[i].store(got, Ordering::Release);
                            wake.notify_one();
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            let _ = c.disconnect().await;
            Ok(())
        }));
    }
    let mut sender = client(port, &format!("s{round}"), false).await?;
    let groups = [Name::new(&group).ok_or_else(|| Report::failure("bench group name"))?];
    let payload = Bytes::from(vec![0x5a; size]);
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        loop {
            let slowest = progress
                .iter()
                .map(|p| p.load(Ordering::Acquire))
                .min()
                .unwrap_or(0);
            if sent - slowest < WINDOW {
                break;
            }
            wake.notified().await;
        }
        let slowest = progress
            .iter()
            .map(|p| p.load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        let burst = (WINDOW - (sent - slowest)).min(total - sent).min(128);
        for _ in 0..burst {
            sender
                .multicast_feed(AGREED_MESS, &groups, 0, payload.clone())
                .await
                .map_err(err)?;
        }
        sender.flush().await.map_err(err)?;
        sent += burst;
    }
    for t in tasks {
        t.await
            .map_err(|e| Report::failure(format!("bench receiver: {e}")))?
            .map_err(err)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = sender.disconnect().await;
    Ok(total as f64 / secs)
}

/// One client joins and leaves a group with one other member, pipelined;
/// returns completed cycles/s (a cycle ends at the self-leave).
async fn churn(port: u16, cycles: u64) -> Result<f64, Report> {
    let mut watcher = client(port, "watcher", true).await?;
    watcher.join("churn").await.map_err(err)?;
    loop {
        if let Message::Membership { .. } = watcher.receive().await.map_err(err)? {
            break;
        }
    }
    let watch_task = tokio::spawn(async move {
        // Keeps reading so the watcher is never dropped; ends with the daemon.
        while watcher.receive().await.is_ok() {}
    });
    let mut c = client(port, "churner", true).await?;
    let me = c.private_group().clone();
    let g = Name::new("churn").ok_or_else(|| Report::failure("bench group name"))?;
    let started = Instant::now();
    let (mut sent, mut done) = (0u64, 0u64);
    const CYCLE_WINDOW: u64 = 200;
    while done < cycles {
        // Top up only when half the window is free, so requests go out in
        // batches instead of one write per cycle.
        if sent - done <= CYCLE_WINDOW / 2 && sent < cycles {
            while sent < cycles && sent - done < CYCLE_WINDOW {
                c.feed(protocol::join_request(&me, &g)).await.map_err(err)?;
                c.feed(protocol::leave_request(&me, &g))
                    .await
                    .map_err(err)?;
                sent += 1;
            }
            c.flush().await.map_err(err)?;
        }
        if let Message::SelfLeave { .. } = c.receive().await.map_err(err)? {
            done += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = c.disconnect().await;
    watch_task.abort();
    Ok(cycles as f64 / secs)
}

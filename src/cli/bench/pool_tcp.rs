//! `tidepool bench pool-tcp`: deposits/s and nth/s over loopback on one
//! connection (request/reply, as the protocol is) and on 16 concurrent
//! connections, and await-tail throughput, each plain and with TLS; once with
//! both ends pinned to CPU 0 (`taskset -c 0`, re-running this benchmark in a
//! child) and once unpinned.
//!
//! libPlasma's `pool_tcp_server` is not installed here, so its row is the
//! issue's measurement on this workload, quoted, not re-measured.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::engine::pool::{CreateOptions, Pools};
use crate::engine::pool_tcp::io::{serve, Client, ClientOptions, PoolUri, ServerConfig};
use crate::engine::slaw::{self, Protein, Slaw};
use crate::error::Report;
use crate::net::shutdown::Shutdown;
use crate::net::transport::{Listener, LocalAddr};

/// Env var marking the pinned child run.
const CHILD: &str = "TIDEPOOL_BENCH_POOL_TCP_CHILD";

struct Row {
    workload: &'static str,
    tls: bool,
    ops: u64,
    secs: f64,
}

fn fail(e: impl std::fmt::Display) -> Report {
    Report::failure(format!("bench pool-tcp: {e}"))
}

struct Setup {
    dir: PathBuf,
    port: u16,
    shutdown: Shutdown,
    ca: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.shutdown.trigger();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn setup() -> Result<Setup, Report> {
    let dir = std::env::temp_dir().join(format!("tidepool-bench-pool-tcp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let pools = Pools::new(dir.join("pools"));
    pools
        .create(
            "bench",
            &CreateOptions {
                size: 64 << 20,
                ..Default::default()
            },
        )
        .map_err(fail)?;
    // A throwaway CA and server certificate for the TLS rows.
    let ca_key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .map_err(fail)?
        .signed_by(&key, &rcgen::Issuer::new(ca_params, ca_key))
        .map_err(fail)?;
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).map_err(fail)?;
    let tls = crate::net::tls::server_config_from_der(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        None,
    )
    .map_err(fail)?;
    let listener = Listener::bind_tcp(([127, 0, 0, 1], 0).into())
        .await
        .map_err(fail)?;
    let port = match listener.local_addr().map_err(fail)? {
        LocalAddr::Tcp(a) => a.port(),
        LocalAddr::Unix(_) => return Err(fail("not a tcp listener")),
    };
    let mut cfg = ServerConfig::new(pools);
    cfg.tls = Some(tls);
    let shutdown = Shutdown::new();
    shutdown.spawn(serve(listener, shutdown.clone(), cfg));
    Ok(Setup {
        dir,
        port,
        shutdown,
        ca: ca_path,
    })
}

fn protein() -> Bytes {
    let p = Protein::new(
        Slaw::strings(["bench", "sensor"]),
        Slaw::map([("seq", Slaw::i64(1)), ("value", Slaw::f64(21.5))]),
    )
    .with_rude(vec![7u8; 64]);
    Bytes::from(slaw::encode_protein(&p))
}

async fn hose(s: &Setup, tls: bool) -> Result<Client, Report> {
    let (uri, opts) = target(s, tls)?;
    let mut c = Client::connect(&uri, &opts).await.map_err(fail)?;
    c.participate("bench", None)
        .await
        .map_err(fail)?
        .map_err(fail)?;
    Ok(c)
}

fn target(s: &Setup, tls: bool) -> Result<(PoolUri, ClientOptions), Report> {
    let scheme = if tls { "tcps" } else { "tcp" };
    let uri: PoolUri = format!("{scheme}://127.0.0.1:{}/bench", s.port)
        .parse()
        .map_err(fail)?;
    let opts = ClientOptions {
        trust: crate::net::tls::Trust::CaFile(s.ca.clone()),
        ..Default::default()
    };
    Ok((uri, opts))
}

async fn measure(s: &Setup, quick: bool, tls: bool) -> Result<Vec<Row>, Report> {
    let n: u64 = if quick { 2_000 } else { 30_000 };
    let budget = Duration::from_secs(if quick { 1 } else { 3 });
    let p = protein();
    let mut rows = Vec::new();

    let mut c = hose(s, tls).await?;
    let t = Instant::now();
    let mut done = 0;
    while done < n && t.elapsed() < budget {
        c.deposit(p.clone()).await.map_err(fail)?.map_err(fail)?;
        done += 1;
    }
    rows.push(Row {
        workload: "deposit, 1 connection",
        tls,
        ops: done,
        secs: t.elapsed().as_secs_f64(),
    });

    let newest = c.newest_index().await.map_err(fail)?.unwrap_or(0);
    let t = Instant::now();
    let mut done = 0u64;
    while done < n && t.elapsed() < budget {
        // The 16 newest proteins: what a reader catching up reads. Random
        // indices across the ring measure the pool's index walk instead
        // (no TOC in the bench pool).
        let idx = (newest - (done as i64 % 16)).max(0);
        c.nth(idx).await.map_err(fail)?.map_err(fail)?;
        done += 1;
    }
    rows.push(Row {
        workload: "nth (16 newest), 1 conn",
        tls,
        ops: done,
        secs: t.elapsed().as_secs_f64(),
    });

    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(hose(s, tls).await?);
    }
    let t = Instant::now();
    let per = n / 16 + 1;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            let p = p.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while done < per && t.elapsed() < budget {
                    if !matches!(c.deposit(p.clone()).await, Ok(Ok(_))) {
                        break;
                    }
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap_or(0);
    }
    rows.push(Row {
        workload: "deposit, 16 connections",
        tls,
        ops: done,
        secs: t.elapsed().as_secs_f64(),
    });

    // Await tail: a remote tail follows while one client deposits.
    let (uri, opts) = target(s, tls)?;
    let mut tail = crate::engine::pool_tcp::handle::spawn_tail(
        uri,
        opts,
        crate::engine::pool::io::From::Next,
        4096,
        true,
    );
    let mut d = hose(s, tls).await?;
    let depositor = {
        let p = p.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let mut k = 0u64;
            while k < n && t.elapsed() < budget {
                if !matches!(d.deposit(p.clone()).await, Ok(Ok(_))) {
                    break;
                }
                k += 1;
            }
            k
        })
    };
    let t = Instant::now();
    let sent = depositor.await.unwrap_or(0);
    let mut got = 0u64;
    let deadline = Instant::now() + budget;
    while got < sent && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), tail.next()).await {
            Ok(Some(crate::engine::pool::io::TailItem::Protein(_))) => got += 1,
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    rows.push(Row {
        workload: "await tail (1 depositor)",
        tls,
        ops: got,
        secs: t.elapsed().as_secs_f64(),
    });
    Ok(rows)
}

fn run_all(quick: bool) -> Result<Vec<Row>, Report> {
    let rt = crate::cli::runtime()?;
    rt.block_on(async {
        let s = setup().await?;
        let mut rows = measure(&s, quick, false).await?;
        rows.extend(measure(&s, quick, true).await?);
        Ok(rows)
    })
}

/// Runs the pool-tcp benchmark and prints its table.
pub fn run(quick: bool) -> Result<(), Report> {
    if std::env::var_os(CHILD).is_some() {
        for r in run_all(quick)? {
            println!("{}\t{}\t{}\t{}", r.workload, r.tls, r.ops, r.secs);
        }
        return Ok(());
    }
    let mut pinned: Vec<Row> = Vec::new();
    let exe = std::env::current_exe().map_err(fail)?;
    let mut cmd = std::process::Command::new("taskset");
    cmd.args(["-c", "0"]).arg(&exe).args(["bench", "pool-tcp"]);
    if quick {
        cmd.arg("--quick");
    }
    match cmd.env(CHILD, "1").output() {
        Ok(out) if out.status.success() => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split('\t').collect();
                if let [w, tls, ops, secs] = f[..] {
                    let workload = WORKLOADS.iter().find(|x| **x == w).copied().unwrap_or("?");
                    pinned.push(Row {
                        workload,
                        tls: tls == "true",
                        ops: ops.parse().unwrap_or(0),
                        secs: secs.parse().unwrap_or(1.0),
                    });
                }
            }
        }
        Ok(out) => eprintln!(
            "bench pool-tcp: pinned run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("bench pool-tcp: taskset not available ({e}); pinned rows skipped"),
    }
    let unpinned = run_all(quick)?;
    println!(
        "tidepool bench pool-tcp ({} run; 64-byte-rude protein of {} bytes; loopback)",
        if quick { "quick" } else { "full" },
        protein().len()
    );
    println!(
        "{:<28} {:>6} {:>16} {:>16}",
        "workload", "tls", "pinned cpu0 op/s", "unpinned op/s"
    );
    let rate = |r: &Row| r.ops as f64 / r.secs.max(1e-9);
    for u in &unpinned {
        let p = pinned
            .iter()
            .find(|p| p.workload == u.workload && p.tls == u.tls)
            .map(|p| format!("{:.0}", rate(p)))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<28} {:>6} {:>16} {:>16.0}",
            u.workload,
            if u.tls { "yes" } else { "no" },
            p,
            rate(u)
        );
    }
    println!();
    println!("reference: libPlasma pool_tcp_server (not installed here; the issue's measurement on this workload):");
    println!("  deposit, 1 connection: ~33 k/s pinned to one CPU, ~11 k/s unpinned; nth: ~56 k/s; deposit, 16 connections: ~28 k/s total");
    Ok(())
}

const WORKLOADS: &[&str] = &[
    "deposit, 1 connection",
    "nth (16 newest), 1 conn",
    "deposit, 16 connections",
    "await tail (1 depositor)",
];

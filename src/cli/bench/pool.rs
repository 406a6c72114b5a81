//! `tidepool bench pool`: deposits/s (256 B and 4 KiB, one writer and two,
//! single and batched), nth reads/s and deposit→await wake latency on local
//! mmap pools in a temporary pools directory, each side pinned to a CPU.
//!
//! The baseline is libPlasma on this machine; libPlasma is not
//! installed here, so its figures (quoted in issue 4) are printed as reference
//! rows and marked as such rather than measured.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::pool::io::{await_index, Wait};
use crate::engine::pool::{CreateOptions, Pools};
use crate::error::Report;

fn pin(cpu: usize) -> bool {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_err() {
        return false;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).is_ok()
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// A protein of exactly `total` bytes (rude data fills it).
pub fn protein_of_size(total: usize) -> Vec<u8> {
    let rude = total.saturating_sub(16);
    let l = (2 + rude.div_ceil(8)) as u64;
    let hdr = 0x1000_0000_0000_0000u64 | (l & 0xf) | ((l & !0xf) << 4);
    let flags = 0x0800_0000_0000_0000u64 | rude as u64;
    let mut v = Vec::with_capacity(l as usize * 8);
    v.extend_from_slice(&hdr.to_le_bytes());
    v.extend_from_slice(&flags.to_le_bytes());
    v.resize(l as usize * 8, 0xab);
    v
}

struct Row {
    what: String,
    value: String,
    note: String,
}

/// CPU time used by the calling thread (user + system): rates per CPU-second
/// stay meaningful when other processes compete for the cores.
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.1} k/s", r / 1e3)
    }
}

fn create(pools: &Pools, name: &str, size: u64, flock: bool) -> Result<(), Report> {
    pools
        .create(
            name,
            &CreateOptions {
                size,
                toc_capacity: 1024,
                flock,
                ..Default::default()
            },
        )
        .map_err(|e| crate::cli::pool::report(&e))
}

fn deposits(
    pools: &Pools,
    name: &str,
    bytes: usize,
    batch: usize,
    writers: usize,
    budget: Duration,
) -> Result<(f64, f64), Report> {
    let prot = protein_of_size(bytes);
    let total = Arc::new(AtomicU64::new(0));
    let cpu_ns = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let pools = pools.clone();
            let name = name.to_string();
            let prot = prot.clone();
            let total = total.clone();
            let cpu_ns = cpu_ns.clone();
            std::thread::spawn(move || -> Result<(), String> {
                pin(w % cpus());
                let c0 = thread_cpu();
                let mut p = pools.open(&name).map_err(|e| e.to_string())?;
                let refs: Vec<&[u8]> = (0..batch).map(|_| prot.as_slice()).collect();
                let t0 = Instant::now();
                let mut n = 0u64;
                // bounded by time and count
                while t0.elapsed() < budget && n < 50_000_000 {
                    for _ in 0..64 {
                        if batch == 1 {
                            p.deposit(&prot, 0.0).map_err(|e| e.to_string())?;
                        } else {
                            p.deposit_batch(&refs, 0.0).map_err(|e| e.to_string())?;
                        }
                        n += batch as u64;
                    }
                }
                total.fetch_add(n, Ordering::Relaxed);
                cpu_ns.fetch_add(
                    (thread_cpu().saturating_sub(c0)).as_nanos() as u64,
                    Ordering::Relaxed,
                );
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| Report::failure("bench writer panicked"))?
            .map_err(Report::failure)?;
    }
    let n = total.load(Ordering::Relaxed);
    Ok((
        rate(n, start.elapsed()),
        rate(n, Duration::from_nanos(cpu_ns.load(Ordering::Relaxed))),
    ))
}

/// Sequential `nth` reads; `reuse` reads into one buffer (`nth_into`) instead
/// of a fresh protein per read.
fn reads(pools: &Pools, name: &str, budget: Duration, reuse: bool) -> Result<(f64, f64), Report> {
    pin(0);
    let mut p = pools.open(name).map_err(|e| crate::cli::pool::report(&e))?;
    let (o, n) = p
        .index_range()
        .map_err(|e| crate::cli::pool::report(&e))?
        .ok_or_else(|| Report::failure("bench pool is empty"))?;
    let t0 = Instant::now();
    let c0 = thread_cpu();
    let mut count = 0u64;
    let mut i = o;
    let mut buf = Vec::new();
    while t0.elapsed() < budget {
        for _ in 0..1024 {
            if reuse {
                let ts = p
                    .nth_into(i, &mut buf)
                    .map_err(|e| crate::cli::pool::report(&e))?;
                std::hint::black_box((ts, &buf));
            } else {
                let e = p.nth(i).map_err(|e| crate::cli::pool::report(&e))?;
                std::hint::black_box(&e);
            }
            count += 1;
            i = if i >= n { o } else { i + 1 };
        }
    }
    Ok((
        rate(count, t0.elapsed()),
        rate(count, thread_cpu().saturating_sub(c0)),
    ))
}

fn wake_latency(pools: &Pools, name: &str, samples: usize) -> Result<(Duration, Duration), Report> {
    let prot = protein_of_size(256);
    let mut p = pools.open(name).map_err(|e| crate::cli::pool::report(&e))?;
    let first = p.next_index().map_err(|e| crate::cli::pool::report(&e))?;
    let sent_at = Arc::new(std::sync::Mutex::new(Vec::<Instant>::with_capacity(
        samples,
    )));
    let ready = Arc::new(AtomicU64::new(u64::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    let pools2 = pools.clone();
    let name2 = name.to_string();
    let ready2 = ready.clone();
    let stop2 = stop.clone();
    let waiter = std::thread::spawn(move || -> Result<Vec<Instant>, String> {
        pin(1 % cpus());
        let mut p = pools2.open(&name2).map_err(|e| e.to_string())?;
        let mut woke = Vec::with_capacity(samples);
        for k in 0..samples as i64 {
            ready2.store(k as u64, Ordering::Release);
            match await_index(&mut p, first + k, Wait::For(Duration::from_secs(5))) {
                Ok(_) => woke.push(Instant::now()),
                Err(e) => return Err(e.to_string()),
            }
            if stop2.load(Ordering::Relaxed) {
                break;
            }
        }
        Ok(woke)
    });
    pin(0);
    for k in 0..samples as u64 {
        let deadline = Instant::now() + Duration::from_secs(5);
        while ready.load(Ordering::Acquire) != k {
            if Instant::now() > deadline {
                stop.store(true, Ordering::Relaxed);
                return Err(Report::failure("bench awaiter stalled"));
            }
            std::hint::spin_loop();
        }
        // let the awaiter reach poll(): we measure a sleeping awaiter's wake-up
        std::thread::sleep(Duration::from_micros(200));
        if let Ok(mut s) = sent_at.lock() {
            s.push(Instant::now());
        }
        p.deposit(&prot, 0.0)
            .map_err(|e| crate::cli::pool::report(&e))?;
    }
    let woke = waiter
        .join()
        .map_err(|_| Report::failure("bench awaiter panicked"))?
        .map_err(Report::failure)?;
    let sent = sent_at.lock().map(|s| s.clone()).unwrap_or_default();
    let mut lat: Vec<Duration> = sent
        .iter()
        .zip(&woke)
        .map(|(s, w)| w.saturating_duration_since(*s))
        .collect();
    lat.sort();
    if lat.is_empty() {
        return Err(Report::failure("no wake samples"));
    }
    let pct = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Ok((pct(0.50), pct(0.99)))
}

/// Runs the pool benchmark and prints its table.
pub fn run(quick: bool) -> Result<(), Report> {
    let ncpu = cpus();
    let tmp = tempfile_dir()?;
    let pools = Pools::new(&tmp);
    let budget = if quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    };
    let samples = if quick { 200 } else { 5000 };
    let mut rows = Vec::new();
    let size = 64 << 20;
    for (lock, flock) in [("semaphores", false), ("flock", true)] {
        for bytes in [256usize, 4096] {
            for (batch, label) in [(1usize, "single"), (64, "batch 64")] {
                for writers in [1usize, 2] {
                    if flock && (bytes != 256 || writers != 1) {
                        continue;
                    }
                    let name = format!("bench-{lock}-{bytes}-{batch}-{writers}");
                    create(&pools, &name, size, flock)?;
                    let (r, rc) = deposits(&pools, &name, bytes, batch, writers, budget)?;
                    rows.push(Row {
                        what: format!("deposit {bytes} B, {writers} writer(s), {label}, {lock}"),
                        value: format!("{} ({} per CPU-s)", fmt_rate(r), fmt_rate(rc)),
                        note: if writers == 2 {
                            "threads pinned to CPU 0 and 1".into()
                        } else {
                            "pinned to CPU 0".into()
                        },
                    });
                    let _ = pools.dispose(&name);
                }
            }
        }
    }
    create(&pools, "bench-read", size, false)?;
    {
        let mut p = pools
            .open("bench-read")
            .map_err(|e| crate::cli::pool::report(&e))?;
        let prot = protein_of_size(256);
        for _ in 0..100_000 {
            p.deposit(&prot, 0.0)
                .map_err(|e| crate::cli::pool::report(&e))?;
        }
    }
    let (r, rc) = reads(&pools, "bench-read", budget, false)?;
    rows.push(Row {
        what: "nth 256 B, sequential indices".into(),
        value: format!("{} ({} per CPU-s)", fmt_rate(r), fmt_rate(rc)),
        note: "pinned to CPU 0; a new buffer per protein".into(),
    });
    let (r, rc) = reads(&pools, "bench-read", budget, true)?;
    rows.push(Row {
        what: "nth_into 256 B, sequential indices".into(),
        value: format!("{} ({} per CPU-s)", fmt_rate(r), fmt_rate(rc)),
        note: "pinned to CPU 0; one reused buffer".into(),
    });
    let (p50, p99) = wake_latency(&pools, "bench-read", samples)?;
    rows.push(Row {
        what: format!("deposit→await wake latency ({samples} samples)"),
        value: format!(
            "p50 {:.1} µs, p99 {:.1} µs",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        ),
        note: "depositor CPU 0, awaiter CPU 1, FIFO wake".into(),
    });
    let _ = std::fs::remove_dir_all(&tmp);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "tidepool bench pool ({ncpu} CPUs; load average {} at the end; {})",
        load.split_whitespace().next().unwrap_or("?"),
        if quick { "quick" } else { "full" }
    );
    println!(
        "{:<58} {:>36}  note",
        "scenario", "tidepool (wall; per thread CPU-second)"
    );
    for r in &rows {
        println!("{:<58} {:>36}  {}", r.what, r.value, r.note);
    }
    println!();
    println!("baseline: libPlasma is not installed on this machine; figures quoted from issue 4 (same 2-core machine):");
    for (what, v) in [
        ("deposit 256 B, 1 writer (libPlasma)", "~88 k/s"),
        (
            "deposit 256 B, 2 writer processes on 2 CPUs (libPlasma)",
            "~29 k/s total",
        ),
        ("nth reads (libPlasma)", "~4.6 M/s"),
    ] {
        println!("{what:<58} {v:>36}  quoted, not measured");
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf, Report> {
    let base = std::env::temp_dir().join(format!("tidepool-bench-pool-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    Ok(base)
}

//! `tidepool bench slaw`: encode, full decode and zero-copy validate+view of a
//! typical and a 64 KiB protein, against memcpy of the same bytes (the ceiling),
//! all on one pinned core in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::engine::slaw::{self, sample, Endian, Protein};
use crate::error::{Exit, Report};

/// Set in the re-executed, pinned child so it does not pin again.
const PINNED_ENV: &str = "TIDEPOOL_BENCH_PINNED";
/// The core both sides run on.
const CPU: &str = "1";

/// Runs the slaw benchmark and prints its table.
pub fn run(quick: bool) -> Result<(), Report> {
    if std::env::var_os(PINNED_ENV).is_none() {
        if let Some(code) = rerun_pinned(quick)? {
            return if code == 0 {
                Ok(())
            } else {
                Err(Report::failure(format!(
                    "pinned benchmark exited with {code}"
                )))
            };
        }
    }
    let pinned = std::env::var(PINNED_ENV).unwrap_or_else(|_| "not pinned (no taskset)".into());
    let budget = if quick {
        Duration::from_millis(150)
    } else {
        Duration::from_millis(1500)
    };
    println!(
        "tidepool bench slaw — {}, {} build, {pinned}, {} per figure, rates per thread CPU second",
        std::env::consts::ARCH,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        humantime(budget)
    );
    println!();
    println!(
        "{:<9} {:>7} {:>12} {:>12} {:>14} {:>12} {:>13}",
        "protein", "bytes", "encode/s", "decode/s", "view/s", "memcpy/s", "memcpy÷view"
    );
    let mut rows = Vec::new();
    for (name, p) in [
        ("typical", sample::typical_protein()),
        ("64 KiB", sample::large_protein()),
    ] {
        let r = measure(&p, budget)?;
        println!(
            "{:<9} {:>7} {:>12} {:>12} {:>14} {:>12} {:>12.2}×",
            name,
            r.bytes,
            rate(r.encode),
            rate(r.decode),
            rate(r.view),
            rate(r.memcpy),
            r.memcpy / r.view
        );
        rows.push((name, r));
    }
    println!();
    if let [(_, typical), (_, large)] = rows.as_slice() {
        println!(
            "target: view typical ≥ 5 M/s on one core: {} ({})",
            if typical.view >= 5e6 {
                "met"
            } else {
                "NOT met"
            },
            rate(typical.view)
        );
        println!(
            "target: view 64 KiB within 4× of memcpy: {} ({:.2}×)",
            if large.memcpy / large.view <= 4.0 {
                "met"
            } else {
                "NOT met"
            },
            large.memcpy / large.view
        );
    }
    Ok(())
}

/// Re-executes this command under `taskset -c CPU`; `None` when taskset is missing.
fn rerun_pinned(quick: bool) -> Result<Option<i32>, Report> {
    let exe = std::env::current_exe().map_err(|e| Report::from_error(Exit::Failure, &e))?;
    let mut cmd = std::process::Command::new("taskset");
    cmd.args(["-c", CPU])
        .arg(exe)
        .args(["bench", "slaw"])
        .env(PINNED_ENV, format!("pinned to CPU {CPU} (taskset)"));
    if quick {
        cmd.arg("--quick");
    }
    match cmd.status() {
        Ok(st) => Ok(Some(st.code().unwrap_or(1))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Report::from_error(Exit::Failure, &e).context("running taskset")),
    }
}

struct Rates {
    bytes: usize,
    encode: f64,
    decode: f64,
    view: f64,
    memcpy: f64,
}

fn measure(p: &Protein, budget: Duration) -> Result<Rates, Report> {
    let bytes = slaw::encode_protein(p);
    let mut buf = Vec::with_capacity(bytes.len());
    let encode = per_second(budget, || {
        buf.clear();
        slaw::encode_protein_into(black_box(p), Endian::Little, &mut buf);
        black_box(&buf);
    });
    // A failure here would be a bug in the encoder; report it rather than panic.
    slaw::decode_protein(&bytes).map_err(|e| Report::failure(format!("sample protein: {e}")))?;
    let decode = per_second(budget, || {
        black_box(slaw::decode_protein(black_box(&bytes)).ok());
    });
    let view = per_second(budget, || {
        if let Ok(v) = slaw::validate_protein(black_box(&bytes)) {
            let first = v.descrips().and_then(|d| d.children().next());
            black_box((
                first.and_then(|s| s.as_str()),
                v.ingest("id"),
                v.rude().len(),
            ));
        }
    });
    let mut dst = vec![0u8; bytes.len()];
    let memcpy = per_second(budget, || {
        dst.copy_from_slice(black_box(&bytes));
        black_box(&dst);
    });
    Ok(Rates {
        bytes: bytes.len(),
        encode,
        decode,
        view,
        memcpy,
    })
}

/// This thread's CPU time. Rates are per CPU second, not wall second: on a shared
/// machine the wall clock also counts time spent descheduled.
fn cpu_now() -> Duration {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID) {
        Ok(t) => Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32),
        Err(_) => Duration::ZERO,
    }
}

/// Operations per CPU second of `f`, run in growing batches for about `budget`
/// of wall time (falls back to wall time if the CPU clock is unavailable).
fn per_second(budget: Duration, mut f: impl FnMut()) -> f64 {
    // Warm caches and branch predictors first.
    for _ in 0..64 {
        f();
    }
    let mut batch: u64 = 16;
    let mut done: u64 = 0;
    let start = Instant::now();
    let cpu_start = cpu_now();
    loop {
        for _ in 0..batch {
            f();
        }
        done += batch;
        let el = start.elapsed();
        if el >= budget {
            let cpu = cpu_now().saturating_sub(cpu_start);
            let secs = if cpu.is_zero() { el } else { cpu };
            return done as f64 / secs.as_secs_f64();
        }
        if el < budget / 8 {
            batch = batch.saturating_mul(2);
        }
    }
}

fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

fn humantime(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

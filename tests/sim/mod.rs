//! Seeded, deterministic network simulation for engine tests (the Rust
//! counterpart of simpy.io's virtual backend), on the `turmoil` crate.
//!
//! An engine runs its unchanged client and server code over a simulated TCP
//! stream boxed as [`tidepool::net::transport::Stream`]; time is the
//! simulation's (tokio's clock inside each simulated host). [`run_seeds`] runs a
//! scenario for several seeds, runs each seed twice and compares the traces
//! (so nondeterminism is caught, not only failures), and on any failure prints
//! the seed and the command that replays it. Shared by `sim_<engine>.rs`
//! tests: include it with `mod sim;`.

#![allow(dead_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tidepool::net::transport::{Peer, Stream};

/// Seeds to run (`SIM_TRACE=1` prints each trace): `SIM_SEED=n` runs only that one; `SIM_SEEDS=k` runs seeds
/// 0..k (default 6).
pub fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let count = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6u64);
    (0..count).collect()
}

/// A shared, ordered log of what happened, stamped with simulated time.
#[derive(Clone, Default)]
pub struct Trace(Arc<Mutex<Vec<String>>>);

impl Trace {
    /// Records one line from inside a simulated host, prefixed with the
    /// simulated time in milliseconds.
    pub fn log(&self, line: impl AsRef<str>) {
        self.log_at(turmoil::sim_elapsed().unwrap_or_default(), line);
    }

    /// Records one line from the driver (outside any host) at time `at`.
    pub fn log_at(&self, at: Duration, line: impl AsRef<str>) {
        let t = at.as_millis();
        if let Ok(mut v) = self.0.lock() {
            v.push(format!("{t:>6}ms {}", line.as_ref()));
        }
    }

    /// The recorded lines.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Runs `scenario` for every seed, twice each; fails with the seed on an
/// error, a panic, or two runs of one seed that differ.
pub fn run_seeds(test: &str, scenario: impl Fn(u64, &Trace) -> turmoil::Result) {
    for seed in seeds() {
        let once = || {
            let trace = Trace::default();
            let result = catch_unwind(AssertUnwindSafe(|| scenario(seed, &trace)));
            let outcome = match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(panic) => Err(panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into())),
            };
            (outcome, trace.lines())
        };
        let (first, trace) = once();
        let replay = format!("replay: SIM_SEED={seed} cargo nextest run --test sim_simpyio {test}");
        if let Err(e) = first {
            panic!(
                "{test}: failed with seed {seed}: {e}\ntrace:\n{}\n{replay}",
                trace.join("\n")
            );
        }
        if std::env::var_os("SIM_TRACE").is_some() {
            println!("{test} seed {seed}:\n{}", trace.join("\n"));
        }
        let (second, again) = once();
        if second.is_err() || again != trace {
            panic!(
                "{test}: seed {seed} is not deterministic\nfirst:\n{}\nsecond ({second:?}):\n{}\n{replay}",
                trace.join("\n"),
                again.join("\n")
            );
        }
    }
}

/// A simulation builder with the seed and a random per-message latency in
/// `min..=max`.
pub fn builder(seed: u64, min: Duration, max: Duration) -> turmoil::Builder {
    let mut b = turmoil::Builder::new();
    b.rng_seed(seed)
        .min_message_latency(min)
        .max_message_latency(max)
        .simulation_duration(Duration::from_secs(600));
    b
}

/// A simulated TCP stream as the engines' transport type.
pub fn stream(s: turmoil::net::TcpStream, name: &str) -> (Stream, Peer) {
    (Box::new(s), Peer::Memory(name.to_owned()))
}

//! `tidepool serve`: run one or more engine servers in one process.
//!
//! Each engine's flags and start-up live in their own file here (`pools.rs`,
//! `hive.rs`, …) and are flattened into one command line. Every server binds
//! 127.0.0.1 by default, warns when bound wider without TLS/auth, and drains
//! gracefully on SIGTERM/SIGINT/SIGHUP.

use std::net::SocketAddr;
use std::time::Duration;

use crate::cli::Global;
use crate::error::Report;
use crate::net::shutdown::{termination_signal, Shutdown};

pub mod amp;
pub mod groups;
pub mod hive;
pub mod pools;
pub mod rpc;

/// How long open connections get to finish after SIGTERM before they are cut.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Arguments of `tidepool serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Listen address when exactly one engine is served (short for --<engine>-listen).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Pool server options.
    #[command(flatten, next_help_heading = "Pools")]
    pub pools: pools::Opts,

    /// Hive server options.
    #[command(flatten, next_help_heading = "Hive")]
    pub hive: hive::Opts,

    /// AMP server options.
    #[command(flatten, next_help_heading = "AMP")]
    pub amp: amp::Opts,

    /// simpy.io RPC server options.
    #[command(flatten, next_help_heading = "simpy.io RPC")]
    pub rpc: rpc::Opts,

    /// Groups daemon options.
    #[command(flatten, next_help_heading = "Groups")]
    pub groups: groups::Opts,
}

/// Runs the selected servers until SIGTERM/SIGINT/SIGHUP, then drains them.
pub fn run(global: &Global, mut args: Args) -> Result<(), Report> {
    let selected = [
        args.pools.enabled,
        args.hive.enabled,
        args.amp.enabled,
        args.rpc.enabled,
        args.groups.enabled,
    ];
    let count = selected.iter().filter(|s| **s).count();
    if count == 0 {
        return Err(Report::usage(
            "serve: choose at least one of --pools, --hive, --amp, --rpc, --groups",
        ));
    }
    if let Some(listen) = args.listen.take() {
        if count > 1 {
            return Err(Report::usage(
                "serve: --listen is only for one engine; use --<engine>-listen with several",
            ));
        }
        for (enabled, slot) in [
            (args.pools.enabled, &mut args.pools.listen),
            (args.hive.enabled, &mut args.hive.listen),
            (args.amp.enabled, &mut args.amp.listen),
            (args.rpc.enabled, &mut args.rpc.listen),
            (args.groups.enabled, &mut args.groups.listen),
        ] {
            if enabled {
                *slot = Some(listen.clone());
            }
        }
    }
    let hive_settings = if args.hive.enabled {
        Some(hive::Settings::resolve(global, &args.hive)?)
    } else {
        None
    };
    let log_level = hive_settings.as_ref().and_then(|s| s.log_level.clone());
    crate::cli::logging::to_stderr_at(log_level.as_deref());
    let runtime = crate::cli::runtime()?;
    // engines with a runtime of their own (hive --io-threads); dropped after
    // block_on returns, since a runtime cannot be dropped inside async context
    let mut own_runtimes = Vec::new();
    let result = runtime.block_on(async {
        let shutdown = Shutdown::new();
        if args.pools.enabled {
            pools::start(global, &args.pools, &shutdown).await?;
        }
        if let Some(settings) = &hive_settings {
            own_runtimes.extend(hive::start(settings, &shutdown).await?);
        }
        if args.amp.enabled {
            amp::start(global, &args.amp, &shutdown).await?;
        }
        if args.rpc.enabled {
            rpc::start(global, &args.rpc, &shutdown).await?;
        }
        if args.groups.enabled {
            groups::start(global, &args.groups, &shutdown).await?;
        }
        let signal = termination_signal().await;
        tracing::info!(
            signal,
            "shutting down: no new connections, draining open ones"
        );
        eprintln!("tidepool serve: {signal}, draining");
        if !shutdown.drain(DRAIN_DEADLINE).await {
            tracing::warn!("drain deadline passed; closing the remaining connections");
        }
        Ok(())
    });
    for rt in own_runtimes {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    result
}

/// Parses a listen address, defaulting the host to 127.0.0.1 and the port to
/// `default_port`; accepts `PORT`, `HOST:PORT` and `[V6]:PORT`.
pub fn listen_addr(value: Option<&str>, default_port: u16) -> Result<SocketAddr, Report> {
    let Some(value) = value else {
        return Ok(SocketAddr::from(([127, 0, 0, 1], default_port)));
    };
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    value.parse::<SocketAddr>().map_err(|_| {
        Report::usage(format!(
            "listen address {value:?}: expected ADDR:PORT, [V6]:PORT or PORT"
        ))
    })
}

/// Logs and prints a warning when `addr` is not loopback and the server has no
/// TLS or authentication; servers bind wider only when told to.
pub fn warn_if_exposed(engine: &str, addr: SocketAddr, protected: bool) {
    if !addr.ip().is_loopback() && !protected {
        tracing::warn!(engine, %addr, "listening beyond loopback without TLS or authentication");
        eprintln!(
            "warning: {engine} listens on {addr}, beyond loopback, without TLS or authentication"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_defaults_to_loopback() {
        assert_eq!(
            listen_addr(None, 5909).unwrap(),
            "127.0.0.1:5909".parse().unwrap()
        );
        assert_eq!(
            listen_addr(Some("7000"), 1).unwrap(),
            "127.0.0.1:7000".parse().unwrap()
        );
        assert_eq!(
            listen_addr(Some("[::1]:80"), 1).unwrap(),
            "[::1]:80".parse().unwrap()
        );
        assert!(listen_addr(Some("nonsense"), 1).is_err());
    }
}

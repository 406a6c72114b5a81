//! `tidepool nth POOL INDEX [--format] [-o FILE]` (p-nth): print one protein or
//! write it as a binary slaw file.

use std::io::Write;

use crate::cli::pool::{pools, report};
use crate::cli::tail::{render, Format};
use crate::cli::Global;
use crate::error::Report;

/// Arguments of `tidepool nth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pool name.
    pub pool: String,
    /// Protein index (negative counts back from the newest: -1 = newest).
    #[arg(allow_hyphen_values = true)]
    pub index: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Write the protein as a binary slaw file instead of printing it.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// TLS for tcps:// and tcpo:// pools.
    #[command(flatten)]
    pub tls: crate::cli::remote::TlsArgs,
}

/// Runs `tidepool nth`.
pub fn run(_global: &Global, args: Args) -> Result<(), Report> {
    let e = if crate::cli::remote::is_remote(&args.pool) {
        crate::cli::remote::nth(&args.pool, args.index, &args.tls)?
    } else {
        let mut pool = pools().open(&args.pool).map_err(|e| report(&e))?;
        let idx = if args.index < 0 {
            let newest = pool.newest_index().map_err(|e| report(&e))?.unwrap_or(-1);
            newest + 1 + args.index
        } else {
            args.index
        };
        pool.nth(idx).map_err(|e| report(&e))?
    };
    if let Some(path) = args.output {
        // binary slaw file header: magic, version 2, type 1 (slaw), little-endian
        let mut bytes = vec![0xff, 0xff, 0x0b, 0x10, 0x02, 0x01, 0x00, 0x00];
        bytes.extend_from_slice(&e.protein);
        std::fs::write(&path, bytes).map_err(|err| Report::from(err).context(path.display()))?;
        eprintln!(
            "time {:.6}, size {} - written to {}",
            e.timestamp,
            e.protein.len(),
            path.display()
        );
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    render(&args.pool, &e, args.format, &mut out)?;
    out.flush()?;
    Ok(())
}

//! `tidepool deposit POOL -d descrip... -i key:value...` (p-deposit): deposits
//! one protein; each `-i` value becomes int64 if it is a whole base-10 integer,
//! else float64 if it is a whole float, else a string. `--raw FILE` deposits the
//! protein in a binary slaw file (or raw protein bytes).

use crate::cli::pool::{pools, report};
use crate::cli::Global;
use crate::engine::pool::codec::{self, Scalar};
use crate::engine::pool::store::now_seconds;
use crate::error::Report;

/// Arguments of `tidepool deposit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pool name.
    pub pool: String,
    /// A descrip (repeatable; the descrips are a list of these strings).
    #[arg(short, long = "descrip")]
    pub descrips: Vec<String>,
    /// An ingest `key:value` (repeatable).
    #[arg(short, long = "ingest")]
    pub ingests: Vec<String>,
    /// Deposit the protein(s) of a binary slaw file, or raw protein bytes ("-" = stdin).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["descrips", "ingests"])]
    pub raw: Option<std::path::PathBuf>,
    /// Deposit this many copies (a quick load generator).
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Print what was deposited.
    #[arg(short, long)]
    pub verbose: bool,
}

fn parse_ingest(s: &str) -> Result<(String, Scalar), Report> {
    if s.trim_start().starts_with('{') {
        return Err(Report::usage(
            "deposit: -i '{YAML map}' needs the slaw YAML reader, which this build does not have yet; use -i key:value",
        ));
    }
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| Report::usage(format!("deposit: ingest {s:?} is not key:value")))?;
    Ok((k.to_string(), Scalar::infer(v)))
}

fn proteins_of_file(bytes: &[u8]) -> Result<Vec<Vec<u8>>, Report> {
    let body = if bytes.len() >= 8 && bytes[0..4] == codec::MAGIC {
        if bytes[7] & 1 != 0 {
            return Err(Report::failure(
                "deposit: big-endian slaw files are not supported yet",
            ));
        }
        &bytes[8..]
    } else {
        bytes
    };
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < body.len() {
        let oct: [u8; 8] = body
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| Report::failure("deposit: trailing bytes after the last protein"))?;
        let head = codec::protein_head(oct)
            .ok_or_else(|| Report::failure(format!("deposit: not a protein at byte {at}")))?;
        let end = usize::try_from(head.len_bytes)
            .ok()
            .and_then(|l| at.checked_add(l))
            .filter(|&e| e <= body.len())
            .ok_or_else(|| {
                Report::failure(format!("deposit: protein at byte {at} is truncated"))
            })?;
        out.push(body[at..end].to_vec());
        at = end;
    }
    Ok(out)
}

/// Runs `tidepool deposit`.
pub fn run(global: &Global, args: Args) -> Result<(), Report> {
    global.check_writable("deposit")?;
    let proteins = match &args.raw {
        Some(path) => {
            let bytes = if path.as_os_str() == "-" {
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
                b
            } else {
                std::fs::read(path).map_err(|e| Report::from(e).context(path.display()))?
            };
            proteins_of_file(&bytes)?
        }
        None => {
            let ingests = args
                .ingests
                .iter()
                .map(|s| parse_ingest(s))
                .collect::<Result<Vec<_>, _>>()?;
            vec![codec::encode_simple_protein(&args.descrips, &ingests)]
        }
    };
    let mut pool = pools().open(&args.pool).map_err(|e| report(&e))?;
    for _ in 0..args.count {
        for p in &proteins {
            let (idx, ts) = pool.deposit(p, now_seconds()).map_err(|e| report(&e))?;
            if args.verbose {
                println!("deposited index {idx} at time {ts:.6} ({} bytes)", p.len());
            }
        }
    }
    Ok(())
}

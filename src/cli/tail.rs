//! `tidepool tail POOL... [--from oldest|newest|INDEX] [--follow] [--filter
//! DESCRIP] [--format yaml|json|hex]`: print proteins of one pool or of a gang
//! of pools, following new deposits; a marker line says when proteins were
//! overwritten before they could be read.

use std::io::Write;

use crate::cli::pool::{pools, report};
use crate::cli::Global;
use crate::engine::pool::codec;
use crate::engine::pool::io::{From, TailItem};
use crate::engine::pool::Entry;
use crate::engine::slaw;
use crate::error::Report;
use futures::StreamExt;

/// Output formats of `tail` and `nth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One YAML document per protein.
    Yaml,
    /// One JSON object per line.
    Json,
    /// Index line, then a hex dump.
    Hex,
}

/// Arguments of `tidepool tail`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pools to read (several = a gang: proteins print as they arrive in any of them).
    #[arg(required = true)]
    pub pools: Vec<String>,
    /// Where to start: oldest, newest or an index.
    #[arg(long, default_value = "oldest")]
    pub from: String,
    /// Keep waiting for new deposits.
    #[arg(short, long)]
    pub follow: bool,
    /// Only proteins whose descrips contain this string (repeat: all must match).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Stop after this many proteins.
    #[arg(short = 'n', long)]
    pub count: Option<u64>,
    /// TLS for tcps:// and tcpo:// pools.
    #[command(flatten)]
    pub tls: crate::cli::remote::TlsArgs,
}

/// Parses `--from`.
pub fn parse_from(s: &str) -> Result<From, Report> {
    match s {
        "oldest" => Ok(From::Oldest),
        "newest" => Ok(From::Newest),
        "next" => Ok(From::Next),
        n => n.parse().map(From::Index).map_err(|_| {
            Report::usage(format!(
                "--from {s:?}: expected oldest, newest, next or an index"
            ))
        }),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Renders one protein: YAML in libPlasma's slaw dialect (`bin2yaml`'s form)
/// after a comment line with pool, index and time; JSON lines with the protein
/// in the slaw JSON mapping; or a hex dump. A protein the slaw decoder rejects
/// is still shown (metadata plus raw bytes).
pub fn render(pool: &str, e: &Entry, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    let descrips = codec::descrip_strings(&e.protein);
    let decoded = slaw::decode_protein(&e.protein).ok();
    match (format, decoded) {
        (Format::Yaml, Some(p)) => {
            writeln!(
                out,
                "# pool {pool} index {} time {:.6}",
                e.index, e.timestamp
            )?;
            out.write_all(slaw::protein_to_yaml(&p).as_bytes())
        }
        (Format::Json, Some(p)) => {
            let prot: serde_json::Value =
                serde_json::from_str(&slaw::json::to_json(&slaw::Slaw::protein(p)))
                    .unwrap_or_else(|_| serde_json::Value::String(hex(&e.protein)));
            let v = serde_json::json!({
                "pool": pool,
                "index": e.index,
                "time": e.timestamp,
                "size": e.protein.len(),
                "descrips": descrips,
                "protein": prot,
            });
            writeln!(out, "{v}")
        }
        (Format::Yaml, None) => {
            writeln!(
                out,
                "--- # pool {pool} index {} time {:.6}",
                e.index, e.timestamp
            )?;
            writeln!(out, "pool: {}", json_str(pool))?;
            writeln!(out, "index: {}", e.index)?;
            writeln!(out, "time: {:.6}", e.timestamp)?;
            writeln!(out, "size: {}", e.protein.len())?;
            if let Some(d) = &descrips {
                let items: Vec<String> = d.iter().map(|s| json_str(s)).collect();
                writeln!(out, "descrips: [{}]", items.join(", "))?;
            }
            writeln!(out, "protein: !!binary {}", base64_of(&e.protein))
        }
        (Format::Json, None) => {
            let v = serde_json::json!({
                "pool": pool,
                "index": e.index,
                "time": e.timestamp,
                "size": e.protein.len(),
                "descrips": descrips,
                "protein": hex(&e.protein),
            });
            writeln!(out, "{v}")
        }
        (Format::Hex, _) => {
            writeln!(
                out,
                "# pool {pool} index {} time {:.6} size {}",
                e.index,
                e.timestamp,
                e.protein.len()
            )?;
            for chunk in e.protein.chunks(16) {
                let h: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                writeln!(out, "{}", h.join(" "))?;
            }
            Ok(())
        }
    }
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn render_skip(pool: &str, n: u64, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", serde_json::json!({"pool": pool, "skipped": n})),
        _ => writeln!(
            out,
            "# pool {pool}: {n} proteins were overwritten before they could be read"
        ),
    }
}

fn matches(filter: &[String], e: &Entry) -> bool {
    filter.is_empty()
        || codec::descrip_strings(&e.protein).is_some_and(|d| filter.iter().all(|f| d.contains(f)))
}

/// Runs `tidepool tail`.
pub fn run(_global: &Global, args: Args) -> Result<(), Report> {
    let from = parse_from(&args.from)?;
    let pools = pools();
    for name in &args.pools {
        if !crate::cli::remote::is_remote(name) && !pools.exists(name) {
            // Open for the exact error (bad name or missing pool).
            pools.open(name).map_err(|e| report(&e))?;
        }
    }
    let rt = crate::cli::runtime()?;
    rt.block_on(async move {
        // Local names and tcp:// URIs mix freely in one gang.
        let mut gang = futures::stream::SelectAll::new();
        for n in &args.pools {
            gang.push(crate::cli::remote::tail_stream(
                &pools,
                n,
                from,
                4096,
                args.follow,
                &args.tls,
            )?);
        }
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
        let mut printed = 0u64;
        let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            let item = tokio::select! {
                item = gang.next() => item,
                _ = &mut ctrl_c => None,
            };
            let Some(mut item) = item else { break };
            // Print everything already queued, then flush once: keeps up with a
            // fast depositor without a write per protein.
            loop {
                match emit(&args, item, &mut out, &mut printed) {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = out.flush();
                        return Ok(());
                    }
                    Err(e) => {
                        let _ = out.flush();
                        return e;
                    }
                }
                match futures::FutureExt::now_or_never(gang.next()) {
                    Some(Some(next)) => item = next,
                    Some(None) => {
                        let _ = out.flush();
                        return Ok(());
                    }
                    None => break,
                }
            }
            if let Err(e) = out.flush() {
                return quiet_pipe(e);
            }
        }
        let _ = out.flush();
        Ok(())
    })
}

fn quiet_pipe(e: std::io::Error) -> Result<(), Report> {
    // A closed pipe (| head) ends the tail quietly.
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e.into())
    }
}

/// Prints one gang item; `Ok(false)` = stop (count reached), `Err(result)` = end
/// with that result.
fn emit(
    args: &Args,
    (pool, item): (std::sync::Arc<str>, TailItem),
    out: &mut impl Write,
    printed: &mut u64,
) -> Result<bool, Result<(), Report>> {
    let r = match item {
        TailItem::Protein(e) => {
            if !matches(&args.filter, &e) {
                return Ok(true);
            }
            *printed += 1;
            render(&pool, &e, args.format, out)
        }
        TailItem::Skipped(n) => {
            eprintln!("tail: pool {pool}: {n} proteins were overwritten before they could be read");
            render_skip(&pool, n, args.format, out)
        }
        TailItem::Failed(msg) => return Err(Err(Report::failure(format!("tail: {msg}")))),
    };
    r.map_err(quiet_pipe)?;
    Ok(args.count.is_none_or(|c| *printed < c))
}

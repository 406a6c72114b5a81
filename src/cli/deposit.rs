//! `tidepool deposit POOL -d descrip... -i key:value...` (p-deposit): deposits
//! one protein; each `-i` value becomes int64 if it is a whole base-10 integer,
//! else float64 if it is a whole float, else a string. `-i '{YAML map}'` merges a
//! YAML map (slaw YAML dialect) into the ingests. `--yaml FILE` deposits every
//! protein of a YAML stream ("-" = stdin); `--raw FILE` the proteins of a binary
//! slaw file (or raw protein bytes).

use crate::cli::pool::{pools, report};
use crate::cli::Global;
use crate::engine::pool::codec::{self, Scalar};
use crate::engine::pool::store::now_seconds;
use crate::engine::slaw::{self, Protein, Slaw};
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
    #[arg(long, value_name = "FILE", conflicts_with_all = ["descrips", "ingests", "yaml"])]
    pub raw: Option<std::path::PathBuf>,
    /// Deposit the proteins of a YAML stream (`--- !protein` documents; "-" = stdin).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["descrips", "ingests"])]
    pub yaml: Option<std::path::PathBuf>,
    /// Deposit this many copies (a quick load generator).
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Print what was deposited.
    #[arg(short, long)]
    pub verbose: bool,
    /// TLS for tcps:// and tcpo:// pools.
    #[command(flatten)]
    pub tls: crate::cli::remote::TlsArgs,
}

fn scalar_slaw(v: Scalar) -> Slaw {
    match v {
        Scalar::Int(i) => Slaw::i64(i),
        Scalar::Float(f) => Slaw::f64(f),
        Scalar::Str(s) => Slaw::str(s),
    }
}

/// Adds one `-i` argument to the ingest pairs.
fn parse_ingest(s: &str, pairs: &mut Vec<(Slaw, Slaw)>) -> Result<(), Report> {
    if s.trim_start().starts_with('{') {
        match slaw::from_yaml(s) {
            Ok(Slaw::Map(entries)) => {
                pairs.extend(entries);
                return Ok(());
            }
            Ok(_) => {
                return Err(Report::usage(format!(
                    "deposit: -i {s:?} is not a YAML map"
                )))
            }
            Err(e) => {
                return Err(Report::from_error(crate::error::Exit::Usage, &e)
                    .context(format!("deposit: -i {s:?}")))
            }
        }
    }
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| Report::usage(format!("deposit: ingest {s:?} is not key:value")))?;
    pairs.push((Slaw::str(k), scalar_slaw(Scalar::infer(v))));
    Ok(())
}

/// p-deposit's protein: descrips = the `-d` strings, ingests = the `-i` pairs;
/// each part absent when empty.
fn build(descrips: &[String], ingests: &[String]) -> Result<Vec<u8>, Report> {
    let mut pairs = Vec::new();
    for i in ingests {
        parse_ingest(i, &mut pairs)?;
    }
    let p = Protein {
        descrips: (!descrips.is_empty()).then(|| Slaw::strings(descrips.iter().cloned())),
        ingests: (!pairs.is_empty()).then_some(Slaw::Map(pairs)),
        rude: Vec::new(),
    };
    Ok(slaw::encode_protein(&p))
}

fn read_input(path: &std::path::Path) -> Result<Vec<u8>, Report> {
    if path.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
        Ok(b)
    } else {
        std::fs::read(path).map_err(|e| Report::from(e).context(path.display()))
    }
}

fn proteins_of_yaml(text: &[u8]) -> Result<Vec<Vec<u8>>, Report> {
    let text =
        std::str::from_utf8(text).map_err(|_| Report::usage("deposit: YAML input is not UTF-8"))?;
    let docs = slaw::from_yaml_docs(text)
        .map_err(|e| Report::from_error(crate::error::Exit::Usage, &e).context("deposit: YAML"))?;
    docs.into_iter()
        .enumerate()
        .map(|(i, d)| match d {
            Slaw::Protein(p) => Ok(slaw::encode_protein(&p)),
            _ => Err(Report::usage(format!(
                "deposit: YAML document {} is not a protein (tag it !protein)",
                i + 1
            ))),
        })
        .collect()
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
    let proteins = match (&args.raw, &args.yaml) {
        (Some(path), _) => proteins_of_file(&read_input(path)?)?,
        (None, Some(path)) => proteins_of_yaml(&read_input(path)?)?,
        (None, None) => vec![build(&args.descrips, &args.ingests)?],
    };
    if crate::cli::remote::is_remote(&args.pool) {
        return crate::cli::remote::deposit(
            &args.pool,
            proteins,
            args.count,
            args.verbose,
            &args.tls,
        );
    }
    let mut pool = pools().open(&args.pool).map_err(|e| report(&e))?;
    for _ in 0..args.count {
        for p in &proteins {
            let (idx, ts) = pool.deposit(p, now_seconds()).map_err(|e| report(&e))?;
            if args.verbose {
                println!(
                    "# deposited index {idx} at time {ts:.6} ({} bytes)",
                    p.len()
                );
                if let Ok(decoded) = slaw::decode_protein(p) {
                    print!("{}", slaw::protein_to_yaml(&decoded));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_deposit_form_matches_the_pool_engines_encoder() {
        let d = vec!["a".to_string(), "longer descrip".to_string()];
        let i = vec!["n:5".to_string(), "f:2.5".to_string(), "s:text".to_string()];
        let ours = build(&d, &i).unwrap();
        let simple = codec::encode_simple_protein(
            &d,
            &[
                ("n".into(), Scalar::Int(5)),
                ("f".into(), Scalar::Float(2.5)),
                ("s".into(), Scalar::Str("text".into())),
            ],
        );
        assert_eq!(ours, simple);
        assert_eq!(
            build(&[], &[]).unwrap(),
            codec::encode_simple_protein(&[], &[])
        );
    }

    #[test]
    fn yaml_map_ingests_merge() {
        let p = build(&["x".into()], &["a:1".into(), "{b: 2, c: hello}".into()]).unwrap();
        let decoded = slaw::decode_protein(&p).unwrap();
        assert!(decoded.ingest("a").is_some());
        assert!(decoded.ingest("c").is_some());
        assert!(build(&[], &["{not: [closed".into()]).is_err());
    }
}

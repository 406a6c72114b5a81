//! `tidepool slaw decode|encode`: binary slaw ↔ libPlasma YAML, JSON lines and an
//! annotated hex dump (the engine is `engine::slaw`).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use crate::cli::Global;
use crate::engine::slaw::{self, dump, file, Endian, SlawView};
use crate::error::{Exit, Report};

/// Subcommands of `tidepool slaw`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Binary slaw → YAML (or JSON lines, or an annotated hex dump).
    ///
    /// The input may be a binary slaw file (`ff ff 0b 10` header, v2 or v1, either
    /// byte order), raw proteins back to back (either byte order, as stored in pools
    /// and sent over pool TCP), or bare v2 slawx.
    Decode(DecodeArgs),
    /// YAML (libPlasma's dialect, one slaw per document) → binary slaw file.
    Encode(EncodeArgs),
}

/// Arguments of `tidepool slaw decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Input file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: String,
    /// Print one JSON line per slaw instead of YAML.
    #[arg(long, conflicts_with = "hex")]
    pub json: bool,
    /// Print a hex dump with every oct annotated.
    #[arg(long)]
    pub hex: bool,
    /// YAML without number tags and with plain mappings (like `bin2yaml -L`).
    #[arg(long)]
    pub lossy: bool,
    /// Bare slawx (no file header, not proteins) are big-endian.
    #[arg(long)]
    pub big_endian: bool,
    /// Refuse strings that are not UTF-8 instead of showing them as `!badutf8`.
    #[arg(long)]
    pub strict: bool,
}

/// Arguments of `tidepool slaw encode`.
#[derive(Debug, clap::Args)]
pub struct EncodeArgs {
    /// YAML input file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: String,
    /// Output file (default: standard output, which must not be a terminal).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Write bare slaw/protein bytes without the 8-byte slaw file header.
    #[arg(long)]
    pub raw: bool,
    /// Write big-endian instead of little-endian.
    #[arg(long)]
    pub big_endian: bool,
}

/// Runs `tidepool slaw`.
pub fn run(_global: &Global, cmd: Command) -> Result<(), Report> {
    match cmd {
        Command::Decode(a) => decode(a),
        Command::Encode(a) => encode(a),
    }
}

/// Largest input read (slaw files and YAML are read whole).
const MAX_INPUT_BYTES: u64 = 1 << 32;

fn read_input(input: &str) -> Result<Vec<u8>, Report> {
    let mut buf = Vec::new();
    let res = if input == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut buf)
    } else {
        std::fs::File::open(input).and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf))
    };
    res.map_err(|e| Report::from_error(Exit::Failure, &e).context(name(input)))?;
    if buf.len() as u64 > MAX_INPUT_BYTES {
        return Err(Report::failure(format!(
            "{}: larger than {MAX_INPUT_BYTES} bytes",
            name(input)
        )));
    }
    Ok(buf)
}

fn name(input: &str) -> String {
    if input == "-" {
        "standard input".into()
    } else {
        input.to_string()
    }
}

fn slaw_err(input: &str, e: slaw::Error) -> Report {
    let mut msg = format!("{}: {e}", name(input));
    let retort = e.retort_name();
    if !msg.contains(retort) {
        msg.push_str(&format!(" ({retort})"));
    }
    Report::failure(msg)
}

/// How the decode input is laid out.
enum Layout {
    File(file::Header),
    Proteins,
    Bare(Endian),
}

/// Splits the input into (offset, validated view) pieces.
fn pieces<'a>(
    bytes: &'a [u8],
    layout: &Layout,
    strict: bool,
) -> Result<Vec<(usize, SlawView<'a>)>, slaw::Error> {
    let (start, e) = match layout {
        Layout::File(h) => (8, h.endian),
        Layout::Bare(e) => (0, *e),
        Layout::Proteins => (0, Endian::Little),
    };
    let mut out = Vec::new();
    let mut pos = start;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let (len, e) = match layout {
            Layout::Proteins => {
                let (e, _) = slaw::protein_frame_len(rest)
                    .map_err(|err| err.shift(pos))?
                    .ok_or(slaw::Error::Truncated {
                        offset: pos,
                        what: "protein header",
                        need: 8,
                        have: rest.len(),
                    })?;
                (
                    slaw::validate_prefix(rest, e).map_err(|err| err.shift(pos))?,
                    e,
                )
            }
            _ => (
                slaw::validate_prefix(rest, e).map_err(|err| err.shift(pos))?,
                e,
            ),
        };
        let piece = &rest[..len];
        if strict {
            slaw::codec::validate_strict(piece, e).map_err(|err| err.shift(pos))?;
        }
        out.push((pos, SlawView::new(piece, e).map_err(|err| err.shift(pos))?));
        pos += len;
    }
    Ok(out)
}

fn decode(a: DecodeArgs) -> Result<(), Report> {
    let bytes = read_input(&a.input)?;
    let layout = if file::has_magic(&bytes) {
        Layout::File(file::read_header(&bytes).map_err(|e| slaw_err(&a.input, e))?)
    } else if bytes.len() >= 8 && slaw::protein_endian(first_oct(&bytes)).is_some() {
        Layout::Proteins
    } else if a.big_endian {
        Layout::Bare(Endian::Big)
    } else {
        Layout::Bare(Endian::Little)
    };
    let mut out = String::new();
    let docs: Vec<slaw::Slaw> = match &layout {
        Layout::File(h) if h.version == 1 => {
            if a.hex {
                return Err(Report::usage(format!(
                    "{}: --hex dumps slaw version 2 only; this is a version-1 file",
                    name(&a.input)
                )));
            }
            file::read(&bytes).map_err(|e| slaw_err(&a.input, e))?
        }
        _ => {
            let ps = pieces(&bytes, &layout, a.strict).map_err(|e| slaw_err(&a.input, e))?;
            if a.hex {
                if let Layout::File(_) = layout {
                    dump::line(&mut out, 0, &bytes[..8], 0, "slaw file header");
                }
                for (off, v) in &ps {
                    dump::dump(v, *off, &mut out);
                }
                return emit(out.as_bytes());
            }
            ps.iter().map(|(_, v)| v.to_slaw()).collect()
        }
    };
    if a.json {
        for d in &docs {
            out.push_str(&slaw::json::to_json(d));
            out.push('\n');
        }
    } else {
        let opts = if a.lossy {
            slaw::EmitOptions::lossy()
        } else {
            slaw::EmitOptions::default()
        };
        out = slaw::to_yaml_docs(&docs, &opts);
    }
    emit(out.as_bytes())
}

fn first_oct(b: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    a
}

fn emit(bytes: &[u8]) -> Result<(), Report> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|_| stdout.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Report::from_error(Exit::Failure, &e).context("standard output")),
    }
}

fn encode(a: EncodeArgs) -> Result<(), Report> {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Report::usage(
            "refusing to write binary slaw to a terminal; use -o PATH or redirect",
        ));
    }
    let raw = read_input(&a.input)?;
    let text = String::from_utf8(raw)
        .map_err(|_| Report::failure(format!("{}: YAML input is not UTF-8", name(&a.input))))?;
    let docs = slaw::from_yaml_docs(&text).map_err(|e| slaw_err(&a.input, e))?;
    let e = if a.big_endian {
        Endian::Big
    } else {
        Endian::Little
    };
    let bytes = if a.raw {
        let mut out = Vec::new();
        for d in &docs {
            slaw::encode_into(d, e, &mut out);
        }
        out
    } else {
        file::write(&docs, e)
    };
    match &a.output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|err| Report::from_error(Exit::Failure, &err).context(path.display())),
        None => emit(&bytes),
    }
}

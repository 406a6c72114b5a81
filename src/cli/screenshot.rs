//! `tidepool screenshot`: renders every console view from scripted fixture state to
//! SVG files, with no terminal and no network (console spec section 10).

use std::path::PathBuf;

use crate::cli::Global;
use crate::error::Report;
use crate::tui::shots;
use crate::tui::theme::{Theme, BUILTIN};

/// Arguments of `tidepool screenshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory.
    #[arg(long, default_value = "screenshots")]
    pub out: PathBuf,

    /// Which view: all, overview, pools, detail, hive, calls, groups, log, help.
    #[arg(long, default_value = "all")]
    pub view: String,

    /// Theme: dark, light, high-contrast, mono, or all.
    #[arg(long, default_value = "dark")]
    pub theme: String,

    /// Size as COLSxROWS.
    #[arg(long, default_value = "120x36")]
    pub size: String,

    /// Also convert each SVG to PNG with rsvg-convert when it is on PATH.
    #[arg(long)]
    pub png: bool,
}

fn parse_size(s: &str) -> Option<(u16, u16)> {
    let (w, h) = s.split_once('x')?;
    let (w, h) = (w.parse().ok()?, h.parse().ok()?);
    ((20..=1000).contains(&w) && (5..=500).contains(&h)).then_some((w, h))
}

/// Writes the screenshots; returns the files written.
pub fn write_all(
    out: &std::path::Path,
    view: &str,
    theme: &str,
    size: (u16, u16),
) -> Result<Vec<PathBuf>, Report> {
    let themes: Vec<&str> = if theme == "all" {
        BUILTIN.to_vec()
    } else {
        vec![theme]
    };
    let views: Vec<&str> = if view == "all" {
        shots::SHOTS.iter().map(|(n, _)| *n).collect()
    } else if shots::SHOTS.iter().any(|(n, _)| *n == view) {
        vec![view]
    } else {
        return Err(Report::usage(format!("unknown view {view:?}")));
    };
    std::fs::create_dir_all(out)
        .map_err(|e| Report::from(e).context(format!("creating {}", out.display())))?;
    let mut written = Vec::new();
    for t in themes {
        let th = Theme::load(t, None).map_err(|e| Report::usage(e.to_string()))?;
        for v in &views {
            let Some(svg) = shots::svg(v, &th, size.0, size.1) else {
                continue;
            };
            let path = out.join(shots::file_name(v, t, size.0, size.1));
            std::fs::write(&path, svg)
                .map_err(|e| Report::from(e).context(format!("writing {}", path.display())))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Runs `tidepool screenshot`.
pub fn run(_global: &Global, args: Args) -> Result<(), Report> {
    let size = parse_size(&args.size)
        .ok_or_else(|| Report::usage(format!("bad --size {:?} (e.g. 120x36)", args.size)))?;
    let written = write_all(&args.out, &args.view, &args.theme, size)?;
    for p in &written {
        println!("{}", p.display());
    }
    if args.png {
        let have = std::process::Command::new("rsvg-convert")
            .arg("--version")
            .output()
            .is_ok();
        if !have {
            eprintln!("warning: rsvg-convert not found on PATH; kept the SVGs only");
            return Ok(());
        }
        for p in &written {
            let png = p.with_extension("png");
            let ok = std::process::Command::new("rsvg-convert")
                .arg("-o")
                .arg(&png)
                .arg(p)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                eprintln!("warning: rsvg-convert failed on {}", p.display());
            }
        }
    }
    Ok(())
}

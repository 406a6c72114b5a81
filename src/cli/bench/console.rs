//! `tidepool bench console`: frame render time at 200×60, keep-up with a
//! full-speed depositor, RSS after N proteins, idle CPU (console spec section 9 and
//! the performance section). The console has no external baseline; each
//! figure is printed next to its budget.

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio_util::sync::CancellationToken;

use crate::error::Report;
use crate::tui::app::{App, Settings};
use crate::tui::event::AppEvent;
use crate::tui::keymap::Keymap;
use crate::tui::source::PoolEvent;
use crate::tui::theme::Theme;
use crate::tui::{demo, local, shots, source, ui, LoopOpts};

fn tempfile_dir() -> Result<std::path::PathBuf, Report> {
    let d = std::env::temp_dir().join(format!(
        "tidepool-bench-console-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).map_err(|e| Report::from(e).context(format!("{}", d.display())))?;
    Ok(d)
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Process CPU time (user + system) from /proc, in seconds.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the parenthesised command name; utime and stime are 14 and 15
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / 100.0)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn render_times(frames: usize) -> Vec<(&'static str, f64, f64)> {
    let mut out = Vec::new();
    for (name, script) in shots::SHOTS {
        let app = shots::app_for(Theme::dark(), script, 200, 60);
        let Ok(mut term) = Terminal::new(TestBackend::new(200, 60));
        let mut times = Vec::with_capacity(frames);
        for _ in 0..frames {
            let t = Instant::now();
            let _ = term.draw(|f| ui::render(&app, f));
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let p50 = percentile(&mut times, 0.5);
        let p99 = percentile(&mut times, 0.99);
        out.push((*name, p50, p99));
    }
    out
}

struct LoopRun {
    frames: u64,
    mean_draw_ms: f64,
    max_draw_ms: f64,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
    seen: u64,
    dropped: u64,
    deposited: u64,
    cpu_pct: f64,
}

async fn run_loop_for(rate: u32, secs: f64, tab_script: &str) -> Result<LoopRun, Report> {
    let mut term = Terminal::new(TestBackend::new(200, 60))
        .map_err(|e| Report::failure(format!("test backend: {e}")))?;
    let mut app = App::new(Theme::dark(), Keymap::default(), Settings::default());
    app.size = (200, 60);
    shots::keys(&mut app, tab_script);
    // the real path: a depositor thread writing an mmap pool, the pool engine's
    // tail, the slaw decoder, the console loop
    let dir = tempfile_dir()?;
    let stop_dep = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dep = demo::spawn_depositor(dir.clone(), rate.max(1), 256 << 20, stop_dep.clone());
    if rate == 0 {
        // idle: the pool exists but nothing deposits after the first protein
        stop_dep.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let (mut handle, end) = source::pools_channel();
    let src = tokio::spawn(local::run(end, dir.clone()));
    let (_ltx, mut logs) = tokio::sync::mpsc::channel(16);
    let mut input = futures::stream::pending::<std::io::Result<crossterm::event::Event>>();
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    let dur = Duration::from_secs_f64(secs);
    tokio::spawn(async move {
        tokio::time::sleep(dur).await;
        stopper.cancel();
    });
    let opts = LoopOpts {
        fps: 60,
        save_dir: std::env::temp_dir(),
    };
    let cpu0 = cpu_seconds().unwrap_or(0.0);
    let t0 = Instant::now();
    crate::tui::run_loop(
        &mut term,
        &mut app,
        &mut input,
        &mut handle,
        &mut crate::tui::calls::source::Link::none(),
        &mut crate::tui::groups::Link::none(),
        &mut logs,
        &stop,
        &opts,
    )
    .await
    .map_err(Report::failure)?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds().unwrap_or(0.0) - cpu0;
    // the counters go out every 250 ms; wait for the last publication
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = handle.stats.borrow().clone();
    drop(handle);
    stop_dep.store(true, std::sync::atomic::Ordering::Relaxed);
    let deposited = dep.join().ok().and_then(|r| r.ok()).unwrap_or(0);
    src.abort();
    let _ = std::fs::remove_dir_all(&dir);
    let fs = &app.frame_stats;
    let mut lag: Vec<f64> = fs.lag.iter().map(|l| f64::from(*l) * 1e3).collect();
    Ok(LoopRun {
        frames: fs.frames,
        mean_draw_ms: fs.draw_ns_total as f64 / fs.frames.max(1) as f64 / 1e6,
        max_draw_ms: fs.draw_ns_max as f64 / 1e6,
        lag_p50_ms: percentile(&mut lag, 0.5),
        lag_p99_ms: percentile(&mut lag, 0.99),
        seen: stats.proteins,
        dropped: stats.dropped,
        deposited,
        cpu_pct: cpu / wall * 100.0,
    })
}

fn rss_after(n: u64) -> (u64, u64, usize, u64) {
    let before = proc_status_kib("VmRSS:").unwrap_or(0);
    let mut app = App::new(Theme::dark(), Keymap::default(), Settings::default());
    app.handle(AppEvent::Pool(PoolEvent::List(vec![source::PoolInfo {
        name: "demo".into(),
        location: source::Location::Demo,
        capacity: 1 << 30,
        used: 0,
        oldest: None,
        newest: None,
    }])));
    // proteins arrive as pool bytes and go through the same decode + summary path
    // as a live tail; the encoding is done once, outside the loop
    let mut g = demo::Generator::new(1);
    let batch: Vec<Vec<u8>> = (0..256)
        .filter_map(|_| demo::encode(&g.protein()))
        .collect();
    for i in 0..n {
        let bytes = batch[(i % batch.len().max(1) as u64) as usize].clone();
        app.handle(AppEvent::Pool(PoolEvent::Protein(local::item_from_entry(
            "demo", i, 0.0, bytes,
        ))));
    }
    let after = proc_status_kib("VmRSS:").unwrap_or(0);
    let held = app.pools.tail.ring.len();
    let evicted = app.pools.tail.ring.evicted();
    drop(app);
    (before, after, held, evicted)
}

/// Runs the console benchmark and prints its table.
pub fn run(quick: bool) -> Result<(), Report> {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let rt = crate::cli::runtime()?;
    let (idle_secs, load_secs, frames, rss_n) = if quick {
        (1.0, 1.0, 50, 200_000u64)
    } else {
        (5.0, 5.0, 1000, 10_000_000u64)
    };
    println!("tidepool bench console ({profile} build, {cores} cores, unpinned; quick={quick})");
    println!();
    let idle = rt.block_on(run_loop_for(0, idle_secs, "2 l"))?;
    println!("{:<44} {:>22} {:>12}", "metric", "measured", "budget");
    println!(
        "{:<44} {:>21.2}% {:>12}",
        format!("idle CPU, pools view, {idle_secs:.0} s"),
        idle.cpu_pct,
        "≤ 1%"
    );
    for (name, p50, p99) in render_times(frames) {
        println!(
            "{:<44} {:>22} {:>12}",
            format!("frame render 200x60: {name}"),
            format!("p50 {p50:.3} / p99 {p99:.3} ms"),
            "≤ 2 ms"
        );
    }
    let load = rt.block_on(run_loop_for(u32::MAX, load_secs, "2 l"))?;
    println!(
        "{:<44} {:>22} {:>12}",
        "full-speed depositor: deposited into mmap pool",
        format!(
            "{} ({:.0}/s)",
            load.deposited,
            load.deposited as f64 / load_secs
        ),
        "-"
    );
    println!(
        "{:<44} {:>22} {:>12}",
        "full-speed depositor: shown in console tail",
        format!("{} ({:.0}/s)", load.seen, load.seen as f64 / load_secs),
        "-"
    );
    println!(
        "{:<44} {:>22} {:>12}",
        "dropped/overwritten before seen",
        load.dropped.to_string(),
        "counted"
    );
    println!(
        "{:<44} {:>22} {:>12}",
        "newest protein on screen after (lag)",
        format!("p50 {:.1} / p99 {:.1} ms", load.lag_p50_ms, load.lag_p99_ms),
        "≤ 100 ms"
    );
    println!(
        "{:<44} {:>22} {:>12}",
        "frames under load (60 fps cap)",
        format!(
            "{} mean {:.2} max {:.2} ms",
            load.frames, load.mean_draw_ms, load.max_draw_ms
        ),
        "-"
    );
    println!(
        "{:<44} {:>21.1}% {:>12}",
        "CPU under load (process, both tasks)", load.cpu_pct, "-"
    );
    let (before, after, held, evicted) = rss_after(rss_n);
    println!(
        "{:<44} {:>22} {:>12}",
        format!("RSS after {rss_n} proteins"),
        format!(
            "{} MiB (+{} MiB)",
            after / 1024,
            after.saturating_sub(before) / 1024
        ),
        "bounded"
    );
    println!(
        "{:<44} {:>22} {:>12}",
        "tail ring held / evicted",
        format!("{held} / {evicted}"),
        "5000 cap"
    );
    Ok(())
}

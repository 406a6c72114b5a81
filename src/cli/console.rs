//! `tidepool` / `tidepool dashboard`: the interactive console (console spec section 1).

use std::io::IsTerminal;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::cli::Global;
use crate::error::{Exit, Report};
use crate::tui::app::{App, Settings, TAIL_CAP, TAIL_CAP_BYTES};
use crate::tui::command::History;
use crate::tui::config::{self, Config};
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;
use crate::tui::{demo, local, log_layer, source, term, LoopEnd, LoopOpts};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Colour policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorPolicy {
    /// Colour unless NO_COLOR or --no-color.
    #[default]
    Auto,
    /// Colour even when NO_COLOR is set.
    Always,
    /// Monochrome.
    Never,
}

/// Options of the dashboard.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Add in-process demo traffic (a demo pool fed with realistic proteins) so the
    /// console is live within seconds.
    #[arg(long)]
    pub demo: bool,

    /// Theme: dark (default), light, high-contrast, mono, a user theme in the config
    /// dir's themes/, or a theme file path.
    #[arg(long, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Pools directory (default: $OB_POOLS_DIR, else the libPlasma default).
    #[arg(long, value_name = "DIR")]
    pub pools_dir: Option<PathBuf>,

    /// Enable mouse capture (off by default so the terminal's text selection works).
    #[arg(long)]
    pub mouse: bool,

    /// Render cap in frames per second (10-60).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(10..=60))]
    pub fps: u32,

    /// Colour policy; `--color always` overrides NO_COLOR and --no-color.
    #[arg(long, value_enum, default_value_t = ColorPolicy::Auto)]
    pub color: ColorPolicy,

    /// Proteins per second of the --demo generator.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub demo_rate: u32,

    /// Tail cap in proteins per pool (default 5000).
    #[arg(long, value_name = "N")]
    pub tail_cap: Option<usize>,

    /// An AMP target for the Calls view (repeatable; config: `[[targets]] kind = "amp"`).
    #[arg(long = "amp", value_name = "HOST:PORT")]
    pub amp_targets: Vec<String>,

    /// A simpy.io RPC target for the Calls view (repeatable; config: `[[targets]] kind = "rpc"`).
    #[arg(long = "rpc", value_name = "HOST:PORT")]
    pub rpc_targets: Vec<String>,

    /// AMP schema (TOML) for the --amp targets: command list and argument types.
    #[arg(long, value_name = "FILE")]
    pub amp_schema: Option<PathBuf>,
    /// Spread daemon for the Groups view: `PORT@HOST`, or `PORT` for its Unix
    /// socket in /tmp (--demo starts an embedded one when this is not given).
    #[arg(long, value_name = "PORT@HOST")]
    pub groups_daemon: Option<String>,

    /// Groups the Groups view joins to watch, comma-separated.
    #[arg(long, value_name = "G1,G2", value_delimiter = ',')]
    pub groups_watch: Vec<String>,
    /// Hive behind the Hive view: embedded:DIR (default: the platform data dir),
    /// resp://host:port, redis://…, rediss://…, redis+cluster://…; also
    /// `[[targets]] kind = "hive"` with `uri = "…"` in the config. With --demo, a
    /// demo store in a temp dir instead.
    #[arg(long, value_name = "TARGET")]
    pub hive: Option<String>,
}

/// The hive target from `[[targets]]` entries with `kind = "hive"` (first wins).
fn hive_target_from_config(cfg: &Config) -> Option<String> {
    cfg.targets.iter().find_map(|t| {
        let kind = t.get("kind")?.as_str()?;
        (kind == "hive")
            .then(|| t.get("uri").and_then(|u| u.as_str()).map(str::to_string))
            .flatten()
    })
}

/// Opens the Hive view's backend on its own task; the console starts at once.
fn open_hive(
    app: &mut App,
    demo: bool,
    target: Option<String>,
) -> (crate::tui::hive::link::Link, Option<PathBuf>) {
    use crate::tui::hive;
    use crate::tui::source::SourceState;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut demo_dir = None;
    if demo {
        let dir = hive::demo::dir();
        app.hive =
            hive::Hive::connected(format!("demo {}", dir.display()), SourceState::Connecting);
        demo_dir = Some(dir.clone());
        tokio::spawn(async move {
            let r = hive::demo::start(&dir)
                .await
                .map(|(h, ev)| (h, ev, SourceState::Local));
            let _ = tx.send(r);
        });
    } else {
        let target = target.unwrap_or_else(|| "embedded:".into());
        let state = if target.starts_with("embedded:") {
            SourceState::Local
        } else {
            SourceState::Up {
                tls: target.starts_with("rediss://"),
            }
        };
        app.hive = hive::Hive::connected(target.clone(), SourceState::Connecting);
        tokio::spawn(async move {
            let r = match crate::cli::hive::open(Some(&target)).await {
                Ok(b) => {
                    let (h, ev) = crate::engine::hive::handle::Handle::spawn(
                        b,
                        std::time::Duration::from_secs(1),
                    );
                    Ok((h, ev, state))
                }
                Err(e) => Err(e.to_string()),
            };
            let _ = tx.send(r);
        });
    }
    (hive::link::Link::opening(rx), demo_dir)
}

/// The headless subcommands to use when there is no terminal.
pub const NOT_A_TERMINAL: &str = "the dashboard needs a terminal on stdin and stdout; headless subcommands: tidepool tail, deposit, nth, pool, slaw, hive, amp, rpc, group, serve, bench, screenshot";

/// Resolves the theme from flag, config and colour policy.
pub fn pick_theme(
    global: &Global,
    args: &Args,
    cfg: &Config,
) -> Result<Theme, crate::tui::theme::Error> {
    let mono = match args.color {
        ColorPolicy::Always => false,
        ColorPolicy::Never => true,
        ColorPolicy::Auto => global.is_no_color(),
    };
    if mono {
        return Ok(Theme::mono());
    }
    let name = args
        .theme
        .clone()
        .or_else(|| cfg.theme.clone())
        .unwrap_or_else(|| "dark".into());
    Theme::load(&name, config::config_dir().as_deref())
}

fn default_pools_dir() -> PathBuf {
    crate::cli::pool::pools_dir()
}

fn rotate_log(path: &std::path::Path) {
    const CAP: u64 = 10 << 20;
    if std::fs::metadata(path)
        .map(|m| m.len() > CAP)
        .unwrap_or(false)
    {
        let _ = std::fs::rename(path, path.with_extension("log.1"));
    }
}

/// Opens the console.
pub fn run(global: &Global, args: Args) -> Result<(), Report> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Report::new(Exit::Usage, NOT_A_TERMINAL));
    }
    let (cfg, cfg_warnings) = Config::load(global.config.as_deref())
        .map_err(|e| Report::new(Exit::Usage, e.to_string()))?;
    let theme =
        pick_theme(global, &args, &cfg).map_err(|e| Report::new(Exit::Usage, e.to_string()))?;
    let (keymap, key_problems) = Keymap::with_overrides(&cfg.keys);

    let log_path = global
        .log_file
        .clone()
        .unwrap_or_else(crate::cli::logging::default_log_path);
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Report::from(e).context(format!("log directory {}", dir.display())))?;
    }
    rotate_log(&log_path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Report::from(e).context(format!("log file {}", log_path.display())))?;
    let (layer, mut logs) = log_layer::channel();
    let filter = EnvFilter::try_from_env("TIDEPOOL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false),
        )
        .with(layer)
        .try_init();
    for w in cfg_warnings
        .iter()
        .chain(&key_problems)
        .chain(&theme.warnings)
    {
        tracing::warn!("{w}");
    }

    let pools_dir = args
        .pools_dir
        .clone()
        .or_else(|| cfg.pools_dir.clone())
        .unwrap_or_else(default_pools_dir);
    let readonly = global.readonly || cfg.readonly;
    let settings = Settings {
        readonly,
        tail_cap: args.tail_cap.or(cfg.tail_cap).unwrap_or(TAIL_CAP),
        tail_cap_bytes: cfg.tail_cap_bytes.unwrap_or(TAIL_CAP_BYTES),
        pools_dir: pools_dir.display().to_string(),
        log_path: log_path.display().to_string(),
        utc: true,
        utc_offset: 0,
    };
    let mut app = App::new(theme.clone(), keymap, settings);
    let history_path = config::data_dir().map(|d| d.join("history.txt"));
    if let Some(p) = &history_path {
        if let Ok(text) = std::fs::read_to_string(p) {
            app.history = History::from_lines(text.lines().map(str::to_string));
        }
    }
    if let Some(first) = cfg_warnings.first().or(key_problems.first()) {
        app.error(first.clone());
    }
    let mouse = args.mouse || cfg.mouse;
    let fps = cfg.fps.map(|f| f.clamp(10, 60)).unwrap_or(args.fps);

    let rt = crate::cli::runtime()?;
    let result = rt.block_on(async {
        let (mut handle, end) = source::pools_channel();
        // Calls view: AMP / simpy.io targets from config and flags, plus the
        // in-process demo servers with --demo
        let calls_shutdown = crate::net::shutdown::Shutdown::new();
        let (mut specs, calls_warnings) = crate::tui::calls::source::specs(
            &cfg.targets,
            &args.amp_targets,
            &args.rpc_targets,
            args.amp_schema.as_deref(),
        );
        for w in &calls_warnings {
            tracing::warn!("{w}");
        }
        if args.demo {
            match crate::tui::calls::demo::start(&calls_shutdown).await {
                Ok(demo) => specs.extend(demo),
                Err(e) => tracing::warn!("calls demo: {e}"),
            }
        }
        app.calls = crate::tui::calls::Calls::new(specs.iter().map(|s| s.info.clone()).collect());
        let mut calls_link = crate::tui::calls::source::spawn(specs, &calls_shutdown);
        let depositor_stop = Arc::new(AtomicBool::new(false));
        let mut depositor = None;
        if args.demo {
            // a real mmap pool in a per-user directory, fed by a depositor thread;
            // other processes can deposit into it too (OB_POOLS_DIR=<dir>)
            let dir = args.pools_dir.clone().unwrap_or_else(demo::demo_dir);
            tracing::info!("demo pools in {}", dir.display());
            depositor = Some(demo::spawn_depositor(
                dir.clone(),
                args.demo_rate,
                64 << 20,
                depositor_stop.clone(),
            ));
            app.pools.dir = dir.display().to_string();
            tokio::spawn(local::run(end, dir));
        } else {
            tokio::spawn(local::run(end, pools_dir.clone()));
        }
        let demo_shutdown = crate::net::shutdown::Shutdown::new();
        let mut groups_link = match (&args.groups_daemon, args.demo) {
            (Some(addr), _) => match crate::engine::groups::io::DaemonAddr::parse(
                addr,
                &crate::engine::groups::io::default_unix_dir(),
            ) {
                Ok(a) => crate::tui::groups::Link::connect(a, "console", &args.groups_watch),
                Err(e) => return Err(format!("--groups-daemon: {e}")),
            },
            (None, true) => match crate::tui::groups::spawn_demo(&demo_shutdown).await {
                Ok(a) => {
                    let mut watch = args.groups_watch.clone();
                    if watch.is_empty() {
                        watch = crate::tui::groups::DEMO_GROUPS
                            .iter()
                            .map(|g| g.to_string())
                            .collect();
                    }
                    crate::tui::groups::Link::connect(a, "console", &watch)
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    crate::tui::groups::Link::none()
                }
            },
            (None, false) => crate::tui::groups::Link::none(),
        };
        tracing::info!(
            "console started (theme {}, fps {fps}, readonly {readonly}, demo {})",
            theme.name,
            args.demo
        );
        let hive_target = args.hive.clone().or_else(|| hive_target_from_config(&cfg));
        let (mut hive_link, hive_demo_dir) = open_hive(&mut app, args.demo, hive_target);
        let stop = CancellationToken::new();
        let sig_stop = stop.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term_sig), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term_sig.recv() => tracing::info!("SIGTERM: quitting"),
                _ = hup.recv() => tracing::info!("SIGHUP: quitting"),
            }
            sig_stop.cancel();
        });
        term::install_panic_hook(log_path.clone());
        let mut terminal = term::enter(mouse).map_err(|e| e.to_string())?;
        let opts = LoopOpts {
            fps,
            save_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        let out = loop {
            let mut input = crossterm::event::EventStream::new();
            let size = terminal.size().map_err(|e| e.to_string())?;
            app.size = (size.width, size.height);
            let r = crate::tui::run_loop_with(
                &mut terminal,
                &mut app,
                &mut input,
                &mut handle,
                &mut calls_link,
                &mut groups_link,
                &mut hive_link,
                &mut logs,
                &stop,
                &opts,
            )
            .await;
            match r {
                Ok(LoopEnd::Suspend) => {
                    drop(input);
                    terminal = term::suspend(mouse).map_err(|e| e.to_string())?;
                    app.dirty = true;
                }
                other => break other,
            }
        };
        let _ = term::restore();
        calls_shutdown.trigger();
        demo_shutdown.trigger();
        depositor_stop.store(true, Ordering::Relaxed);
        if let Some(d) = depositor {
            let _ = d.join();
        }
        if let Some(dir) = hive_demo_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        out
    });
    if let Some(p) = &history_path {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(p, app.history.lines().join("\n") + "\n");
    }
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(Report::failure(format!("console: {e}"))
            .context(format!("log: {}", log_path.display()))),
    }
}

//! The console (console spec): app state, actions, event loop, views, widgets and
//! themes.
//!
//! Layers: `app` (pure state + `update`), `keymap`/`action` (keys as data), `ui` and
//! `views` (pure drawing), `term` (terminal enter/leave), this module's loop (the
//! only place that awaits). Engines reach the console only through handles
//! (`source::PoolsHandle`: bounded mpsc + watch); the loop never awaits the network.

pub mod action;
pub mod app;
pub mod calls;
pub mod command;
pub mod config;
pub mod demo;
pub mod event;
pub mod filter;
pub mod form;
pub mod groups;
pub mod hive;
pub mod keymap;
pub mod local;
pub mod log_layer;
pub mod shots;
pub mod source;
pub mod svg;
pub mod term;
pub mod text;
pub mod theme;
pub mod ui;
pub mod views;
pub mod widgets;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEventKind};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::tui::app::App;
use crate::tui::event::{AppEvent, LogLine};
use crate::tui::source::PoolsHandle;

/// Why the loop returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopEnd {
    /// The user quit (or a termination signal arrived).
    Quit,
    /// Ctrl-z: the caller suspends the terminal and calls the loop again.
    Suspend,
}

/// Loop settings.
#[derive(Debug, Clone)]
pub struct LoopOpts {
    /// Render cap.
    pub fps: u32,
    /// Where the detail overlay saves proteins.
    pub save_dir: PathBuf,
}

/// Maximum events applied between two draws, so a flood of proteins cannot starve
/// input handling or drawing.
const DRAIN_MAX: usize = 4096;

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn terminal_event(ev: Event) -> Option<AppEvent> {
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => Some(AppEvent::Key(k)),
        Event::Paste(s) => Some(AppEvent::Paste(s)),
        Event::Resize(w, h) => Some(AppEvent::Resize(w, h)),
        // only reported with --mouse: wheel scrolls, a click on the header picks a tab
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => Some(AppEvent::Key(KeyEvent::from(KeyCode::Up))),
            MouseEventKind::ScrollDown => Some(AppEvent::Key(KeyEvent::from(KeyCode::Down))),
            MouseEventKind::Down(MouseButton::Left) => Some(AppEvent::Click(m.column, m.row)),
            _ => None,
        },
        _ => None,
    }
}

/// Sends queued commands with `try_send`; a full queue shows "engine busy".
fn flush_outbox(app: &mut App, pools: &PoolsHandle) {
    for cmd in std::mem::take(&mut app.outbox) {
        if let Err(e) = pools.cmd.try_send(cmd) {
            let what = match &e {
                mpsc::error::TrySendError::Full(c) | mpsc::error::TrySendError::Closed(c) => {
                    c.describe()
                }
            };
            tracing::warn!("pool engine busy; dropped {what}");
            app.error(format!("engine busy: {what} not sent"));
        }
    }
}

/// Sends the Calls view's queued requests to their targets' bridges.
fn flush_calls(app: &mut App, calls: &calls::source::Link) {
    for cmd in std::mem::take(&mut app.calls.outbox) {
        let call = match &cmd {
            calls::CallsCmd::Call { target, seq, .. } => Some((*target, *seq)),
            calls::CallsCmd::Abandon { .. } => None,
        };
        if let Err(e) = calls.send(cmd) {
            tracing::warn!("{e}");
            // the row must not wait for a reply that cannot come
            if let Some((target, seq)) = call {
                app.handle(AppEvent::Calls(calls::CallsEvent::Finished {
                    target,
                    seq,
                    latency: Duration::ZERO,
                    outcome: calls::Outcome::Failed {
                        kind: calls::FailKind::Other,
                        text: e.clone(),
                    },
                }));
            }
            app.error(e);
        }
    }
}

/// Sends the Groups view's queued requests without waiting.
fn flush_groups(app: &mut App, link: &groups::Link) {
    for cmd in std::mem::take(&mut app.groups.outbox) {
        if let Err(e) = link.send(&cmd) {
            tracing::warn!("groups: {e}");
            app.error(e);
        }
    }
}

fn save_requests(app: &mut App, dir: &std::path::Path) {
    for (name, yaml) in std::mem::take(&mut app.saved) {
        let path = dir.join(&name);
        match std::fs::write(&path, yaml) {
            Ok(()) => app.info(format!("saved {}", path.display())),
            Err(e) => app.error(format!("saving {}: {e}", path.display())),
        }
    }
}

/// The main loop: input, engine events, counters and a 1 Hz tick feed `App`; it
/// draws only when something changed and at most `fps` times a second. Generic over
/// the backend and the input stream so tests and the benchmark drive it headless.
#[allow(clippy::too_many_arguments)]
pub async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    input: &mut S,
    pools: &mut PoolsHandle,
    calls: &mut calls::source::Link,
    groups: &mut groups::Link,
    logs: &mut mpsc::Receiver<LogLine>,
    stop: &CancellationToken,
    opts: &LoopOpts,
) -> Result<LoopEnd, String>
where
    B: Backend,
    S: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let mut hive = hive::link::Link::none();
    run_loop_with(
        terminal, app, input, pools, calls, groups, &mut hive, logs, stop, opts,
    )
    .await
}

/// [`run_loop`] with the Hive view's link (events, snapshot watch, sends).
#[allow(clippy::too_many_arguments)]
pub async fn run_loop_with<B, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    input: &mut S,
    pools: &mut PoolsHandle,
    calls: &mut calls::source::Link,
    groups: &mut groups::Link,
    hive: &mut hive::link::Link,
    logs: &mut mpsc::Receiver<LogLine>,
    stop: &CancellationToken,
    opts: &LoopOpts,
) -> Result<LoopEnd, String>
where
    B: Backend,
    S: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let gap = Duration::from_secs_f64(1.0 / f64::from(opts.fps.clamp(10, 60)));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_draw: Option<Instant> = None;
    let mut input_open = true;
    let mut logs_open = true;
    let mut pools_open = true;
    let mut calls_open = !calls.targets.is_empty();
    let mut groups_open = groups.attached();
    app.groups.attached = groups.attached();
    app.dirty = true;
    loop {
        app.now = unix_now();
        if app.dirty {
            let due = last_draw.map(|t| t.elapsed() >= gap).unwrap_or(true);
            if due {
                if app.full_redraw {
                    terminal.clear().map_err(|e| e.to_string())?;
                    app.full_redraw = false;
                }
                let started = Instant::now();
                terminal
                    .draw(|f| ui::render(app, f))
                    .map_err(|e| e.to_string())?;
                let took = started.elapsed();
                let lag = (app.tab == app::Tab::Pools)
                    .then(|| app.pools.tail.ring.back().map(|r| unix_now() - r.timestamp))
                    .flatten();
                app.frame_stats.record(took.as_nanos() as u64, lag);
                if took > Duration::from_millis(8) {
                    tracing::debug!("frame {:.2} ms ({:?})", took.as_secs_f64() * 1e3, app.tab);
                }
                last_draw = Some(Instant::now());
                app.dirty = false;
            }
        }
        if app.debug_panic {
            panic!("requested with :debug panic");
        }
        let next_draw = last_draw.map(|t| t + gap).unwrap_or_else(Instant::now);
        tokio::select! {
            ev = input.next(), if input_open => match ev {
                Some(Ok(ev)) => {
                    if let Some(ev) = terminal_event(ev) {
                        if let AppEvent::Resize(w, h) = ev {
                            // a resize redraws at once, bypassing the frame cap
                            terminal.autoresize().map_err(|e| e.to_string())?;
                            last_draw = None;
                            app.handle(AppEvent::Resize(w, h));
                        } else {
                            app.handle(ev);
                        }
                    }
                }
                Some(Err(e)) => return Err(format!("reading terminal input: {e}")),
                None => input_open = false,
            },
            ev = pools.events.recv(), if pools_open => match ev {
                Some(ev) => app.handle(AppEvent::Pool(ev)),
                None => {
                    pools_open = false;
                    app.error("pool engine stopped");
                }
            },
            changed = pools.stats.changed(), if pools_open => {
                if changed.is_ok() {
                    let s = pools.stats.borrow_and_update().clone();
                    app.handle(AppEvent::PoolStats(s));
                }
            },
            ev = calls.events.recv(), if calls_open => match ev {
                Some(ev) => app.handle(AppEvent::Calls(ev)),
                None => calls_open = false,
            },
            ev = groups::next_event(&mut groups.handle), if groups_open => match ev {
                Some(ev) => app.handle(AppEvent::Groups(ev)),
                None => {
                    groups_open = false;
                    app.error("groups engine stopped");
                }
            },
            st = groups::next_stats(&mut groups.stats), if groups_open => match st {
                Some(st) => app.handle(AppEvent::GroupsStats(st)),
                // the engine task is gone: stop polling instead of spinning on a closed watch
                None => groups_open = false,
            },
            ev = hive.next() => app.handle(ev),
            line = logs.recv(), if logs_open => match line {
                Some(l) => app.handle(AppEvent::Log(l)),
                None => logs_open = false,
            },
            _ = tick.tick() => {
                app.now = unix_now();
                app.handle(AppEvent::Tick);
            },
            _ = tokio::time::sleep_until(next_draw.into()), if app.dirty => {},
            _ = stop.cancelled() => return Ok(LoopEnd::Quit),
        }
        // drain what is already queued before drawing once (bounded per frame)
        let mut n = 0;
        while n < DRAIN_MAX {
            match pools.events.try_recv() {
                Ok(ev) => app.handle(AppEvent::Pool(ev)),
                Err(_) => break,
            }
            n += 1;
        }
        while n < DRAIN_MAX {
            match calls.events.try_recv() {
                Ok(ev) => app.handle(AppEvent::Calls(ev)),
                Err(_) => break,
            }
            n += 1;
        }
        while n < DRAIN_MAX {
            match groups.try_event() {
                Some(ev) => app.handle(AppEvent::Groups(ev)),
                None => break,
            }
            n += 1;
        }
        while let Ok(l) = logs.try_recv() {
            app.handle(AppEvent::Log(l));
        }
        while n < DRAIN_MAX {
            match hive.try_next() {
                Some(ev) => app.handle(ev),
                None => break,
            }
            n += 1;
        }
        flush_outbox(app, pools);
        flush_calls(app, calls);
        flush_groups(app, groups);
        hive.flush(app);
        save_requests(app, &opts.save_dir);
        if app.quit {
            return Ok(LoopEnd::Quit);
        }
        if app.suspend {
            app.suspend = false;
            return Ok(LoopEnd::Suspend);
        }
    }
}

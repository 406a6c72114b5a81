//! The console side of the local pool engine: adapts `engine::pool::PoolHandle`
//! (list snapshot on a watch, command results as events, one `Tail` per pool) and
//! the slaw decoder to the console's pool handle shape (`source`). Runs as its own
//! task; the console never awaits it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::pool::handle::{Event, Snapshot};
use crate::engine::pool::io::{From, Tail, TailItem as PoolTailItem};
use crate::engine::pool::{CreateOptions, PoolHandle};
use crate::engine::slaw::{self, value::Slaw};
use crate::tui::source::{
    Location, PoolCmd, PoolEvent, PoolInfo, PoolStats, PoolsEnd, Protein, Retort, SourceState,
    TailItem,
};

/// One slaw as compact one-line YAML-ish text (strings bare, lists `[a, b]`,
/// maps `{k: v}`, numbers with their tag as the lossless YAML writes them).
pub fn compact(s: &Slaw) -> String {
    match s {
        Slaw::Nil => "~".into(),
        Slaw::Bool(b) => b.to_string(),
        Slaw::String(t) => t.clone(),
        Slaw::List(v) => format!("[{}]", v.iter().map(compact).collect::<Vec<_>>().join(", ")),
        Slaw::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", compact(k), compact(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => {
            let opts = slaw::yaml::EmitOptions {
                directives: false,
                ..slaw::yaml::EmitOptions::default()
            };
            let text = slaw::yaml::to_yaml_docs(std::slice::from_ref(other), &opts);
            let body: Vec<&str> = text
                .lines()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty() && *l != "..." && *l != "---")
                .collect();
            body.join(" ").trim_start_matches("--- ").to_string()
        }
    }
}

/// The console's view of a decoded protein.
pub fn display_protein(p: &slaw::value::Protein) -> Protein {
    let descrips = match &p.descrips {
        Some(Slaw::List(v)) => v.iter().map(compact).collect(),
        Some(other) => vec![compact(other)],
        None => Vec::new(),
    };
    let ingests = match &p.ingests {
        Some(Slaw::Map(m)) => m.iter().map(|(k, v)| (compact(k), compact(v))).collect(),
        Some(other) => vec![("(ingests)".into(), compact(other))],
        None => Vec::new(),
    };
    Protein {
        descrips,
        ingests,
        rude: p.rude.clone(),
    }
}

/// The lossless slaw YAML of protein bytes, or `None` when they do not decode.
pub fn protein_yaml(bytes: &[u8]) -> Option<String> {
    slaw::decode_protein(bytes)
        .ok()
        .map(|p| slaw::yaml::protein_to_yaml(&p))
}

/// The annotated hex dump of protein bytes (one line per oct, each header labelled),
/// or `None` when the bytes are not a valid protein.
pub fn annotated_hex(bytes: &[u8]) -> Option<String> {
    let e = slaw::codec::validate_protein_bytes(bytes).ok()?;
    let view = slaw::view::SlawView::new(bytes, e).ok()?;
    let mut out = String::new();
    slaw::dump::dump(&view, 0, &mut out);
    Some(out)
}

/// A tail item from a pool entry; undecodable bytes still show (as hex) with the
/// decode error as their only descrip.
pub fn item_from_entry(pool: &str, index: u64, timestamp: f64, bytes: Vec<u8>) -> TailItem {
    // the YAML for the detail view is produced when the detail opens (see
    // `TailItem::yaml_text`), not for every protein that streams past
    let (protein, yaml) = match slaw::decode_protein(&bytes) {
        Ok(p) => (display_protein(&p), String::new()),
        Err(e) => (
            Protein {
                descrips: vec![format!("(undecodable: {e})")],
                ..Protein::default()
            },
            format!("# not a valid protein: {e}\n"),
        ),
    };
    TailItem {
        pool: pool.to_string(),
        index,
        timestamp,
        protein: Arc::new(protein),
        raw: Arc::from(bytes),
        yaml: Arc::from(yaml),
    }
}

fn list(snap: &Snapshot) -> Vec<PoolInfo> {
    snap.pools
        .iter()
        .map(|p| PoolInfo {
            name: p.name.clone(),
            location: Location::Local,
            capacity: p.size,
            used: p.used,
            oldest: p.oldest.and_then(|i| u64::try_from(i).ok()),
            newest: p.newest.and_then(|i| u64::try_from(i).ok()),
        })
        .collect()
}

fn retort(e: &crate::engine::pool::Error) -> Retort {
    Retort {
        name: format!("{} ({e})", e.retort_name()),
        code: e.retort(),
    }
}

/// Runs the adapter for the pools directory `dir` until the console drops its
/// handle.
pub async fn run(mut end: PoolsEnd, dir: PathBuf) {
    let (ph, mut events) = PoolHandle::spawn(&dir, Duration::from_secs(1));
    let mut snap = ph.snapshot();
    let mut tail: Option<Tail> = None;
    let mut stats = PoolStats {
        state: SourceState::Local,
        ..PoolStats::default()
    };
    let send_list = |end: &PoolsEnd, s: &Snapshot| {
        let _ = end.events.try_send(PoolEvent::List(list(s)));
    };
    send_list(&end, &snap.borrow_and_update());
    end.stats.send_replace(stats.clone());
    // counters go out on a timer so a flood of proteins does not flood the watch
    let mut publish = tokio::time::interval(Duration::from_millis(250));
    publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = publish.tick() => {
                end.stats.send_if_modified(|s| {
                    if *s != stats {
                        *s = stats.clone();
                        true
                    } else {
                        false
                    }
                });
            }
            cmd = end.cmd.recv() => {
                let Some(cmd) = cmd else { break };
                let sent = match &cmd {
                    PoolCmd::Refresh => ph.refresh(),
                    PoolCmd::Tail { pool, backlog } => {
                        let newest = snap
                            .borrow()
                            .pools
                            .iter()
                            .find(|p| &p.name == pool)
                            .and_then(|p| p.newest);
                        let from = match newest {
                            Some(n) => From::Index((n - *backlog as i64 + 1).max(0)),
                            None => From::Oldest,
                        };
                        tail = Some(ph.tail(pool, from, 1024));
                        Ok(())
                    }
                    PoolCmd::Deposit { pool, encoded, .. } => ph.deposit(pool, encoded.clone()),
                    PoolCmd::Create { pool, capacity } => ph.create(
                        pool,
                        CreateOptions {
                            size: *capacity,
                            ..CreateOptions::default()
                        },
                    ),
                    PoolCmd::Resize { pool, capacity } => ph.resize(pool, *capacity),
                    PoolCmd::Dispose { pool } => {
                        if tail.as_ref().is_some_and(|t| &**t.pool() == pool.as_str()) {
                            tail = None;
                        }
                        ph.dispose(pool)
                    }
                };
                if let Err(e) = sent {
                    let _ = end.events.try_send(PoolEvent::Failed(format!("{}: {e}", cmd.describe())));
                }
            }
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                let out = match ev {
                    Event::Deposited { pool, index, .. } => {
                        stats.deposits += 1;
                        PoolEvent::Deposited { pool, result: Ok(index.max(0) as u64) }
                    }
                    Event::Created { pool } => PoolEvent::Admin { what: format!("create {pool}"), result: Ok(()) },
                    Event::Disposed { pool } => PoolEvent::Admin { what: format!("dispose {pool}"), result: Ok(()) },
                    Event::Changed { pool } => PoolEvent::Admin { what: format!("resize {pool}"), result: Ok(()) },
                    Event::Renamed { from, to } => PoolEvent::Admin { what: format!("rename {from} {to}"), result: Ok(()) },
                    Event::Info { .. } => continue,
                    Event::Failed { op, pool, error } => {
                        stats.errors += 1;
                        if op == "deposit" {
                            PoolEvent::Deposited { pool, result: Err(retort(&error)) }
                        } else {
                            let verb = if op == "change" { "resize" } else { op };
                            PoolEvent::Admin { what: format!("{verb} {pool}"), result: Err(retort(&error)) }
                        }
                    }
                };
                let _ = end.events.try_send(out);
                end.stats.send_replace(stats.clone());
            }
            changed = snap.changed() => {
                if changed.is_err() { break }
                let s = snap.borrow_and_update().clone();
                stats.state = match &s.error {
                    Some(e) => SourceState::Down { error: e.clone() },
                    None => SourceState::Local,
                };
                send_list(&end, &s);
                end.stats.send_replace(stats.clone());
            }
            item = next_item(&mut tail) => {
                let Some((pool, item)) = item else {
                    tail = None;
                    continue;
                };
                match item {
                    PoolTailItem::Protein(e) => {
                        let it = item_from_entry(&pool, e.index.max(0) as u64, e.timestamp, e.protein);
                        match end.events.try_send(PoolEvent::Protein(it)) {
                            Ok(()) => stats.proteins += 1,
                            Err(_) => stats.dropped += 1,
                        }
                    }
                    // overwritten before the tail reached them: reported below with
                    // the channel drops
                    PoolTailItem::Skipped(n) => stats.dropped += n,
                    PoolTailItem::Failed(e) => {
                        stats.errors += 1;
                        let _ = end.events.try_send(PoolEvent::Failed(format!("tail {pool}: {e}")));
                    }
                }
                if stats.dropped > stats.drops_reported {
                    let pending = stats.dropped - stats.drops_reported;
                    let pool = tail.as_ref().map(|t| t.pool().to_string()).unwrap_or_default();
                    if end.events.try_send(PoolEvent::Dropped { pool, count: pending }).is_ok() {
                        stats.drops_reported = stats.dropped;
                    }
                }
            }
        }
    }
}

async fn next_item(tail: &mut Option<Tail>) -> Option<(String, PoolTailItem)> {
    match tail {
        Some(t) => {
            let name = t.pool().to_string();
            t.next().await.map(|i| (name, i))
        }
        None => std::future::pending().await,
    }
}

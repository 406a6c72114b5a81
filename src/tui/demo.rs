//! Demo data (console spec sections 1 and 10): a generator of realistic proteins,
//! an in-process pool source that `--demo` runs, and the fixed-clock fixture that
//! screenshots, snapshot tests and benchmarks render.
//!
//! The in-process pools keep proteins in memory. Until the slaw engine lands, the
//! "encoded bytes" a demo protein carries are its slaw-YAML text, so the hex view
//! shows that text rather than binary slaw v2.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::tui::app::{App, Settings};
use crate::tui::event::{AppEvent, Level, LogLine};
use crate::tui::keymap::Keymap;
use crate::tui::source::{
    Location, PoolCmd, PoolEvent, PoolInfo, PoolStats, PoolsEnd, Protein, Retort, SourceState,
    TailItem,
};
use crate::tui::theme::Theme;

/// The fixed clock of fixtures: 2026-11-23 14:05:00 UTC.
pub const FIXED_NOW: f64 = 1_795_442_700.0;

/// Generates realistic proteins for one of the demo streams.
#[derive(Debug)]
pub struct Generator {
    rng: StdRng,
    seq: u64,
}

const ROOMS: [&str; 5] = ["3.114", "3.120", "lobby", "lab-b", "2.007"];
const AIRPORTS: [&str; 6] = ["SFO", "LAX", "JFK", "ORD", "SEA", "BOS"];
const GESTURES: [&str; 4] = ["swipe", "pinch", "point", "grab"];

impl Generator {
    /// A generator with a fixed seed (deterministic output).
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            seq: 0,
        }
    }

    /// The next protein.
    pub fn protein(&mut self) -> Protein {
        self.seq += 1;
        let seq = self.seq;
        match self.rng.random_range(0..10u8) {
            0..=3 => {
                let room = ROOMS[self.rng.random_range(0..ROOMS.len())];
                let c: f64 = 19.0 + f64::from(self.rng.random_range(0..80u32)) / 10.0;
                Protein {
                    descrips: vec!["sensor".into(), "temperature".into(), room.into()],
                    ingests: vec![
                        ("celsius".into(), format!("!f64 {c:.1}")),
                        ("room".into(), room.into()),
                        ("seq".into(), format!("!i64 {seq}")),
                    ],
                    rude: Vec::new(),
                }
            }
            4..=6 => {
                let g = GESTURES[self.rng.random_range(0..GESTURES.len())];
                let conf = f64::from(self.rng.random_range(60..100u32)) / 100.0;
                let hand = if self.rng.random_bool(0.5) {
                    "left"
                } else {
                    "right"
                };
                Protein {
                    descrips: vec!["gesture".into(), g.into(), hand.into()],
                    ingests: vec![
                        ("confidence".into(), format!("!f64 {conf:.2}")),
                        ("hand".into(), hand.into()),
                        (
                            "position".into(),
                            format!(
                                "[!f32 {:.2}, !f32 {:.2}, !f32 {:.2}]",
                                self.rng.random_range(-100..100i32) as f32 / 100.0,
                                self.rng.random_range(-100..100i32) as f32 / 100.0,
                                self.rng.random_range(0..200i32) as f32 / 100.0
                            ),
                        ),
                        ("pid".into(), format!("!i64 {}", 10457)),
                    ],
                    rude: Vec::new(),
                }
            }
            7..=8 => {
                let a = AIRPORTS[self.rng.random_range(0..AIRPORTS.len())];
                let delay = self.rng.random_range(0..90u32);
                Protein {
                    descrips: vec!["arf".into(), "airports".into(), a.into()],
                    ingests: vec![
                        ("iata".into(), a.into()),
                        ("delay_min".into(), format!("!i32 {delay}")),
                        ("on_time".into(), (delay < 15).to_string()),
                    ],
                    rude: Vec::new(),
                }
            }
            _ => {
                let n = self.rng.random_range(4..24usize);
                let rude: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
                Protein {
                    descrips: vec!["debug".into(), "heartbeat".into()],
                    ingests: vec![
                        ("uptime_s".into(), format!("!u64 {}", seq * 3)),
                        ("host".into(), "render-02".into()),
                    ],
                    rude,
                }
            }
        }
    }
}

/// The slaw-YAML text of a protein (tagged, as `tail --yaml` prints it).
pub fn protein_yaml(p: &Protein) -> String {
    let mut s =
        String::from("%YAML 1.1\n%TAG ! tag:oblong.com,2009:slaw/\n--- !protein\ndescrips:\n");
    for d in &p.descrips {
        s.push_str(&format!("- {}\n", quoted(d)));
    }
    if p.ingests.is_empty() {
        s.push_str("ingests: {}\n");
    } else {
        s.push_str("ingests:\n");
        for (k, v) in &p.ingests {
            // tagged values and flow collections are YAML already; text is quoted so
            // room "3.120" stays a string
            let v = if v.starts_with('!') || v.starts_with('[') || v == "true" || v == "false" {
                v.clone()
            } else {
                quoted(v)
            };
            s.push_str(&format!("  {}: {v}\n", quoted(k)));
        }
    }
    if !p.rude.is_empty() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&p.rude);
        s.push_str(&format!("rude_data: !!binary {b64}\n"));
    }
    s.push_str("...\n");
    s
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A tail item for `protein` at `index`.
pub fn item(pool: &str, index: u64, timestamp: f64, protein: Protein) -> TailItem {
    let yaml = protein_yaml(&protein);
    // the generator's text goes through the real slaw YAML parser and encoder, so
    // the tail, detail and hex views show genuine binary slaw
    if let Ok(crate::engine::slaw::value::Slaw::Protein(p)) =
        crate::engine::slaw::yaml::from_yaml(&yaml)
    {
        let bytes = crate::engine::slaw::encode_protein(&p);
        return crate::tui::local::item_from_entry(pool, index, timestamp, bytes);
    }
    TailItem {
        pool: pool.to_string(),
        index,
        timestamp,
        raw: Arc::from(yaml.as_bytes()),
        yaml: Arc::from(yaml.as_str()),
        protein: Arc::new(protein),
    }
}

/// Builds the fixture app: fixed clock, seeded data, pre-baked rates.
pub fn fixture_app(theme: Theme, readonly: bool) -> App {
    let settings = Settings {
        readonly,
        pools_dir: "/var/ob/pools".into(),
        log_path: "~/.local/state/tidepool/tidepool.log".into(),
        ..Settings::default()
    };
    let mut app = App::new(theme, Keymap::default(), settings);
    app.now = FIXED_NOW - 60.0;
    let pools = vec![
        PoolInfo {
            name: "demo".into(),
            location: Location::Demo,
            capacity: 64 << 20,
            used: 23 << 20,
            oldest: Some(0),
            newest: Some(4186),
        },
        PoolInfo {
            name: "gestures".into(),
            location: Location::Local,
            capacity: 16 << 20,
            used: 15 << 20,
            oldest: Some(90_211),
            newest: Some(131_070),
        },
        PoolInfo {
            name: "sensors".into(),
            location: Location::Local,
            capacity: 128 << 20,
            used: 4 << 20,
            oldest: Some(0),
            newest: Some(811),
        },
        PoolInfo {
            name: "airports".into(),
            location: Location::Remote {
                addr: "plasma.lab:65456".into(),
                tls: true,
            },
            capacity: 32 << 20,
            used: 9 << 20,
            oldest: Some(120),
            newest: Some(9_044),
        },
    ];
    app.handle(AppEvent::PoolStats(PoolStats {
        proteins: 41_873,
        dropped: 0,
        deposits: 12,
        errors: 0,
        state: SourceState::Local,
        ..PoolStats::default()
    }));
    // 60 s of pre-baked rates
    let mut rng = StdRng::seed_from_u64(7);
    let mut totals: Vec<u64> = pools.iter().map(|p| p.newest.unwrap_or(0)).collect();
    for t in 0..60 {
        let mut list = pools.clone();
        for (i, p) in list.iter_mut().enumerate() {
            let base = [18u64, 60, 2, 9][i];
            let wave = ((t as f64 / 6.0).sin() * base as f64 * 0.4) as i64;
            let step = (base as i64 + wave + rng.random_range(0..4)).max(0) as u64;
            totals[i] += step;
            p.newest = Some(totals[i].saturating_sub(60 * base));
        }
        app.now = FIXED_NOW - 60.0 + t as f64;
        app.handle(AppEvent::Pool(PoolEvent::List(list)));
        app.handle(AppEvent::Tick);
    }
    app.handle(AppEvent::Pool(PoolEvent::List(pools)));
    app.outbox.clear();
    app.now = FIXED_NOW;
    app.pools.tail.pool = Some("demo".into());
    let mut generator = Generator::new(42);
    for i in 4147..=4186u64 {
        let ts = FIXED_NOW - (4186 - i) as f64 * 0.37;
        app.handle(AppEvent::Pool(PoolEvent::Protein(item(
            "demo",
            i,
            ts,
            generator.protein(),
        ))));
    }
    for (i, (lvl, target, msg)) in [
        (
            Level::Info,
            "tidepool::tui",
            "console started (theme dark, fps 30)",
        ),
        (
            Level::Info,
            "tidepool::tui::demo",
            "demo pool \"demo\" created (64.0 MiB)",
        ),
        (Level::Debug, "tidepool::tui", "frame 0.41 ms (pools)"),
        (
            Level::Info,
            "tidepool::tui::demo",
            "generator running at 20 proteins/s",
        ),
        (
            Level::Warn,
            "tidepool::tui",
            "pool \"gestures\" is 94% full; oldest proteins are being overwritten",
        ),
        (Level::Info, "tidepool::tui", "deposited #4180 into demo"),
    ]
    .into_iter()
    .enumerate()
    {
        app.handle(AppEvent::Log(LogLine {
            time: FIXED_NOW - 50.0 + i as f64 * 7.3,
            level: lvl,
            target: target.into(),
            message: msg.into(),
        }));
    }
    crate::tui::calls::demo::install_fixture(&mut app, FIXED_NOW);
    crate::tui::hive::demo::fixture(&mut app.hive, FIXED_NOW);
    app.log.unseen = 0;
    app.status = None;
    app.dirty = true;
    crate::tui::groups::fixture(&mut app);
    app
}

/// One in-memory pool of the demo source.
#[derive(Debug)]
struct MemPool {
    capacity: u64,
    used: u64,
    next: u64,
    entries: VecDeque<(u64, f64, TailItem)>,
}

impl MemPool {
    fn new(capacity: u64) -> MemPool {
        MemPool {
            capacity,
            used: 0,
            next: 0,
            entries: VecDeque::new(),
        }
    }

    fn deposit(&mut self, pool: &str, now: f64, p: Protein) -> Result<TailItem, Retort> {
        self.push(item(pool, self.next, now, p))
    }

    fn push(&mut self, it: TailItem) -> Result<TailItem, Retort> {
        let now = it.timestamp;
        let size = it.raw.len() as u64 + 64;
        if size > self.capacity {
            return Err(Retort {
                name: "POOL_PROTEIN_BIGGER_THAN_POOL".into(),
                code: -200_700,
            });
        }
        // a ring buffer: the oldest proteins are overwritten to make room
        while self.used + size > self.capacity {
            match self.entries.pop_front() {
                Some((_, _, old)) => self.used -= old.raw.len() as u64 + 64,
                None => break,
            }
        }
        self.used += size;
        self.next += 1;
        self.entries.push_back((it.index, now, it.clone()));
        Ok(it)
    }

    fn info(&self, name: &str) -> PoolInfo {
        PoolInfo {
            name: name.to_string(),
            location: Location::Demo,
            capacity: self.capacity,
            used: self.used,
            oldest: self.entries.front().map(|e| e.0),
            newest: self.entries.back().map(|e| e.0),
        }
    }
}

/// Options of the in-process demo source.
#[derive(Debug, Clone)]
pub struct DemoOpts {
    /// Proteins per second into the `demo` pool (0 = no generator; `u32::MAX` = as
    /// fast as possible, used by the benchmark).
    pub rate: u32,
    /// Create the `demo` pool at start.
    pub create_demo_pool: bool,
    /// Capacity of the demo pool.
    pub capacity: u64,
}

impl Default for DemoOpts {
    fn default() -> Self {
        DemoOpts {
            rate: 20,
            create_demo_pool: true,
            capacity: 64 << 20,
        }
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Runs the in-process demo pools until the console drops its handle.
pub async fn run(mut end: PoolsEnd, opts: DemoOpts) {
    let mut pools: HashMap<String, MemPool> = HashMap::new();
    if opts.create_demo_pool {
        pools.insert("demo".into(), MemPool::new(opts.capacity));
        tracing::info!("demo pool \"demo\" created ({} bytes)", opts.capacity);
    }
    let mut tailing: Option<String> = None;
    let mut stats = PoolStats {
        state: SourceState::Local,
        ..PoolStats::default()
    };
    let mut generator = Generator::new(unix_now() as u64);
    let send_list = |pools: &HashMap<String, MemPool>, end: &PoolsEnd| {
        let mut list: Vec<PoolInfo> = pools.iter().map(|(n, p)| p.info(n)).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        let _ = end.events.try_send(PoolEvent::List(list));
    };
    send_list(&pools, &end);
    end.stats.send_replace(stats.clone());
    let period = match opts.rate {
        0 => Duration::from_secs(3600),
        u32::MAX => Duration::from_millis(1),
        r => Duration::from_secs_f64(1.0 / f64::from(r.min(10_000))),
    };
    let mut gen_tick = tokio::time::interval(period);
    gen_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut list_tick = tokio::time::interval(Duration::from_millis(500));
    let burst = if opts.rate == u32::MAX { 5_000 } else { 1 };
    loop {
        tokio::select! {
            cmd = end.cmd.recv() => {
                let Some(cmd) = cmd else { break };
                match cmd {
                    PoolCmd::Refresh => send_list(&pools, &end),
                    PoolCmd::Tail { pool, backlog } => {
                        if let Some(p) = pools.get(&pool) {
                            let skip = p.entries.len().saturating_sub(backlog);
                            for (_, _, it) in p.entries.iter().skip(skip) {
                                deliver(&end, &mut stats, it.clone());
                            }
                        }
                        tailing = Some(pool);
                    }
                    PoolCmd::Deposit { pool, encoded, .. } => {
                        let result = match pools.get_mut(&pool) {
                            Some(p) => {
                                let it = crate::tui::local::item_from_entry(&pool, p.next, unix_now(), encoded);
                                p.push(it)
                            }
                            None => Err(Retort { name: "POOL_NO_SUCH_POOL".into(), code: -200_540 }),
                        };
                        let reply = match result {
                            Ok(it) => {
                                stats.deposits += 1;
                                let idx = it.index;
                                if tailing.as_deref() == Some(pool.as_str()) {
                                    deliver(&end, &mut stats, it);
                                }
                                Ok(idx)
                            }
                            Err(r) => { stats.errors += 1; Err(r) }
                        };
                        let _ = end.events.try_send(PoolEvent::Deposited { pool, result: reply });
                    }
                    PoolCmd::Create { pool, capacity } => {
                        let result = if pools.contains_key(&pool) {
                            Err(Retort { name: "POOL_EXISTS".into(), code: -200_520 })
                        } else {
                            pools.insert(pool.clone(), MemPool::new(capacity));
                            Ok(())
                        };
                        let _ = end.events.try_send(PoolEvent::Admin { what: format!("create {pool}"), result });
                        send_list(&pools, &end);
                    }
                    PoolCmd::Resize { pool, capacity } => {
                        let result = match pools.get_mut(&pool) {
                            Some(p) => { p.capacity = capacity; Ok(()) }
                            None => Err(Retort { name: "POOL_NO_SUCH_POOL".into(), code: -200_540 }),
                        };
                        let _ = end.events.try_send(PoolEvent::Admin { what: format!("resize {pool}"), result });
                        send_list(&pools, &end);
                    }
                    PoolCmd::Dispose { pool } => {
                        let result = match pools.remove(&pool) {
                            Some(_) => Ok(()),
                            None => Err(Retort { name: "POOL_NO_SUCH_POOL".into(), code: -200_540 }),
                        };
                        let _ = end.events.try_send(PoolEvent::Admin { what: format!("dispose {pool}"), result });
                        send_list(&pools, &end);
                    }
                }
                end.stats.send_replace(stats.clone());
            }
            _ = gen_tick.tick(), if opts.rate > 0 => {
                if let Some(p) = pools.get_mut("demo") {
                    for _ in 0..burst {
                        if let Ok(it) = p.deposit("demo", unix_now(), generator.protein()) {
                            if tailing.as_deref() == Some("demo") {
                                deliver(&end, &mut stats, it);
                            }
                        }
                    }
                }
            }
            _ = list_tick.tick() => {
                send_list(&pools, &end);
                end.stats.send_replace(stats.clone());
            }
        }
    }
}

fn deliver(end: &PoolsEnd, stats: &mut PoolStats, it: TailItem) {
    // never block the source on a slow console: count the drop instead, and report
    // drops as one event once the channel has room again
    if stats.dropped > stats.drops_reported {
        let pending = stats.dropped - stats.drops_reported;
        if end
            .events
            .try_send(PoolEvent::Dropped {
                pool: it.pool.clone(),
                count: pending,
            })
            .is_ok()
        {
            stats.drops_reported = stats.dropped;
        }
    }
    match end.events.try_send(PoolEvent::Protein(it)) {
        Ok(()) => stats.proteins += 1,
        Err(_) => stats.dropped += 1,
    }
}

/// A source for when no pool engine is available: reports why and refuses writes.
pub async fn unavailable(mut end: PoolsEnd, reason: String) {
    end.stats.send_replace(PoolStats {
        state: SourceState::Down {
            error: reason.clone(),
        },
        ..PoolStats::default()
    });
    let _ = end.events.try_send(PoolEvent::List(Vec::new()));
    while let Some(cmd) = end.cmd.recv().await {
        let retort = Retort {
            name: "NOT_BUILT".into(),
            code: 0,
        };
        let ev = match cmd {
            PoolCmd::Deposit { pool, .. } => PoolEvent::Deposited {
                pool,
                result: Err(retort),
            },
            PoolCmd::Create { pool, .. } => PoolEvent::Admin {
                what: format!("create {pool}"),
                result: Err(retort),
            },
            PoolCmd::Resize { pool, .. } => PoolEvent::Admin {
                what: format!("resize {pool}"),
                result: Err(retort),
            },
            PoolCmd::Dispose { pool } => PoolEvent::Admin {
                what: format!("dispose {pool}"),
                result: Err(retort),
            },
            PoolCmd::Refresh | PoolCmd::Tail { .. } => PoolEvent::List(Vec::new()),
        };
        let _ = end.events.try_send(ev);
    }
}

/// Encodes a generated protein as binary slaw (through the slaw YAML parser, so
/// the demo exercises the real codec).
pub fn encode(p: &Protein) -> Option<Vec<u8>> {
    match crate::engine::slaw::yaml::from_yaml(&protein_yaml(p)) {
        Ok(crate::engine::slaw::value::Slaw::Protein(p)) => {
            Some(crate::engine::slaw::encode_protein(&p))
        }
        _ => None,
    }
}

/// The per-user directory `--demo` keeps its pools in.
pub fn demo_dir() -> std::path::PathBuf {
    let uid = nix::unistd::getuid();
    std::env::temp_dir().join(format!("tidepool-demo-{uid}"))
}

/// Creates the `demo` pool in `dir` (if missing) and deposits generated proteins
/// into it from a blocking thread at `rate` per second (`u32::MAX` = as fast as
/// possible) until `stop` is set. It uses the mmap pool directly, exactly like a
/// separate depositor process would. Returns the number deposited.
pub fn spawn_depositor(
    dir: std::path::PathBuf,
    rate: u32,
    capacity: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Result<u64, String>> {
    use std::sync::atomic::Ordering;
    std::thread::spawn(move || {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let pools = crate::engine::pool::Pools::new(&dir);
        let opts = crate::engine::pool::CreateOptions {
            size: capacity,
            ..crate::engine::pool::CreateOptions::default()
        };
        let (mut pool, created) = pools
            .open_or_create("demo", &opts)
            .map_err(|e| e.to_string())?;
        if created {
            tracing::info!("demo pool \"demo\" created in {}", dir.display());
        }
        let mut generator = Generator::new(unix_now() as u64);
        // pre-encode a batch so a full-speed run measures the pool and console, not
        // the YAML generator
        let batch: Vec<Vec<u8>> = (0..256)
            .filter_map(|_| encode(&generator.protein()))
            .collect();
        let period = match rate {
            0 => return Ok(0),
            u32::MAX => None,
            r => Some(Duration::from_secs_f64(1.0 / f64::from(r.min(100_000)))),
        };
        let mut n = 0u64;
        let mut next = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let bytes = match period {
                Some(_) => encode(&generator.protein()).unwrap_or_default(),
                None => batch[(n % batch.len().max(1) as u64) as usize].clone(),
            };
            if let Err(e) = pool.deposit(&bytes, unix_now()) {
                tracing::warn!("demo depositor: {e}");
                return Err(e.to_string());
            }
            n += 1;
            if let Some(p) = period {
                next += p;
                let now = std::time::Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else if now - next > Duration::from_secs(1) {
                    next = now;
                }
            }
        }
        Ok(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic() {
        let a: Vec<Protein> = (0..20)
            .map({
                let mut g = Generator::new(1);
                move |_| g.protein()
            })
            .collect();
        let b: Vec<Protein> = (0..20)
            .map({
                let mut g = Generator::new(1);
                move |_| g.protein()
            })
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn mem_pool_overwrites_oldest() {
        let mut p = MemPool::new(2000);
        let mut g = Generator::new(3);
        for _ in 0..50 {
            p.deposit("x", 0.0, g.protein()).expect("fits");
        }
        assert!(p.used <= 2000);
        assert!(p.entries.front().map(|e| e.0).unwrap_or(0) > 0);
        let big = Protein {
            rude: vec![0; 5000],
            ..Protein::default()
        };
        assert_eq!(
            p.deposit("x", 0.0, big).map(|_| ()).map_err(|r| r.name),
            Err("POOL_PROTEIN_BIGGER_THAN_POOL".to_string())
        );
    }

    #[tokio::test]
    async fn demo_source_answers_deposits_and_tails() {
        let (mut h, end) = crate::tui::source::pools_channel();
        let task = tokio::spawn(run(
            end,
            DemoOpts {
                rate: 0,
                ..DemoOpts::default()
            },
        ));
        h.cmd
            .try_send(PoolCmd::Tail {
                pool: "demo".into(),
                backlog: 10,
            })
            .expect("room");
        h.cmd
            .try_send(PoolCmd::Deposit {
                pool: "demo".into(),
                protein: Protein::default(),
                encoded: crate::engine::slaw::encode_protein(
                    &crate::engine::slaw::value::Protein::new(
                        crate::engine::slaw::value::Slaw::List(vec![
                            crate::engine::slaw::value::Slaw::String("x".into()),
                        ]),
                        crate::engine::slaw::value::Slaw::Map(Vec::new()),
                    ),
                ),
            })
            .expect("room");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut got_protein = false;
        let mut got_reply = false;
        while !(got_protein && got_reply) {
            let ev = tokio::time::timeout_at(deadline, h.events.recv())
                .await
                .expect("in time")
                .expect("open");
            match ev {
                PoolEvent::Protein(it) => got_protein = it.index == 0,
                PoolEvent::Deposited { result, .. } => got_reply = result == Ok(0),
                _ => {}
            }
        }
        drop(h);
        task.await.expect("source ends when the handle drops");
    }
}

//! The Hive view's `--demo` source and fixture (console spec sections 1 and 10):
//! an embedded store in a temp dir filled with entries of every value format
//! (JSON, UTF-8, slaw, a wrpme pickle, binary, a sliced document, expiring
//! sessions) plus a little live traffic; and the same entries as fixture state
//! for screenshots and snapshot tests (fixed clock, no engine).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::engine::hive::handle::{Event, Handle, Snapshot};
use crate::engine::hive::store::{Config, Store};
use crate::engine::hive::{Backend, EntryMeta, Expiry, Hive as _, HiveStats, PrefixPage};
use crate::engine::slaw::{self, Slaw};
use crate::tui::hive::{Hive, Msg, Req};
use crate::tui::source::SourceState;

/// The id of the demo's sliced document (`<id>-slice_count`, `<id>0`, …).
pub const DOC_ID: &str = "docs:7f3c9a1e";

fn slaw_entry() -> Vec<u8> {
    let s = Slaw::Map(vec![
        (
            Slaw::String("descrips".into()),
            Slaw::List(vec![
                Slaw::String("gesture".into()),
                Slaw::String("point".into()),
            ]),
        ),
        (Slaw::String("hand".into()), Slaw::String("left".into())),
        (
            Slaw::String("confidence".into()),
            Slaw::String("0.93".into()),
        ),
    ]);
    slaw::file::write(&[s], slaw::Endian::Little)
}

/// A protocol-2 pickle of `{'name': 'alice', 'visits': 7}` as wrpme.Client
/// stored it; the console only labels it.
const PICKLE: &[u8] = b"\x80\x02}q\x00(X\x04\x00\x00\x00nameq\x01X\x05\x00\x00\x00aliceq\x02X\x06\x00\x00\x00visitsq\x03K\x07u.";

/// The demo entries: (alias, content, expiry in seconds from now).
pub fn entries() -> Vec<(String, Vec<u8>, Option<u64>)> {
    let mut v: Vec<(String, Vec<u8>, Option<u64>)> = Vec::new();
    let names = [
        "ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances",
    ];
    for (i, n) in names.iter().enumerate() {
        v.push((
            format!("user:{}", 1001 + i),
            format!(
                "{{\"name\":\"{n}\",\"plan\":\"{}\",\"logins\":{},\"tags\":[\"ops\",\"oncall\"]}}",
                if i % 3 == 0 { "pro" } else { "free" },
                17 * (i + 1)
            )
            .into_bytes(),
            None,
        ));
    }
    v.push((
        "user:1001:avatar".into(),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
            .to_vec(),
        None,
    ));
    v.push(("config:app:theme".into(), b"dark".to_vec(), None));
    v.push((
        "config:app:motd".into(),
        b"maintenance window: sunday 02:00-04:00 UTC\nping #ops before deploying".to_vec(),
        None,
    ));
    v.push((
        "config:limits".into(),
        br#"{"max_sessions":5000,"rate":{"burst":200,"per_s":50}}"#.to_vec(),
        None,
    ));
    v.push(("gesture:last".into(), slaw_entry(), None));
    v.push(("legacy:wrpme:profile:7".into(), PICKLE.to_vec(), None));
    v.push((format!("{DOC_ID}-slice_count"), b"3".to_vec(), None));
    for (i, part) in [
        "# runbook\n\n1. drain the node\n",
        "2. snapshot the hive\n3. upgrade\n",
        "4. rejoin and watch ops/s\n",
    ]
    .iter()
    .enumerate()
    {
        v.push((format!("{DOC_ID}{i}"), part.as_bytes().to_vec(), None));
    }
    for (i, ttl) in [45u64, 600, 3_000, 7_200].iter().enumerate() {
        v.push((
            format!("session:{:04x}", 0xa11 + i * 0x101),
            format!("{{\"user\":{},\"ip\":\"10.0.0.{}\"}}", 1001 + i, 20 + i).into_bytes(),
            Some(*ttl),
        ));
    }
    v.push((
        "metrics:cpu:host-a".into(),
        br#"{"load":0.42,"cores":2}"#.to_vec(),
        None,
    ));
    v.push((
        "notes:\x1b[2Jshout".into(),
        b"escape \x1b[31mred\x1b[0m".to_vec(),
        None,
    ));
    v
}

/// Opens a durable embedded store in `dir`, writes the demo entries, starts a
/// little live traffic (reads, metric updates, sessions coming and going) and
/// returns the handle the console uses.
pub async fn start(dir: &Path) -> Result<(Handle, mpsc::Receiver<Event>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let store = Store::open(Config::new(dir)).map_err(|e| e.to_string())?;
    let now = crate::engine::hive::now_ms();
    for (alias, content, ttl) in entries() {
        let expiry = ttl.map_or(Expiry::Never, |s| Expiry::At(now + s * 1000));
        store
            .update(alias.as_bytes(), Bytes::from(content), expiry)
            .await
            .map_err(|e| e.to_string())?;
    }
    let traffic = Backend::Embedded(store.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            n += 1;
            let _ = traffic
                .get(format!("user:{}", 1001 + n % 8).as_bytes())
                .await;
            let _ = traffic.get(b"config:app:theme").await;
            let load = 0.3 + ((n as f64) / 7.0).sin().abs() * 0.6;
            let _ = traffic
                .update(
                    b"metrics:cpu:host-a",
                    Bytes::from(format!("{{\"load\":{load:.2},\"cores\":2}}")),
                    Expiry::Never,
                )
                .await;
            if n.is_multiple_of(8) {
                let at = crate::engine::hive::now_ms() + 20_000;
                let _ = traffic
                    .update(
                        format!("session:live{:02}", n / 8 % 6).as_bytes(),
                        Bytes::from(format!("{{\"seq\":{n}}}")),
                        Expiry::At(at),
                    )
                    .await;
            }
        }
    });
    Ok(Handle::spawn(
        Backend::Embedded(store),
        Duration::from_secs(1),
    ))
}

/// The directory of this process's demo store (removed on exit).
pub fn dir() -> PathBuf {
    crate::tui::demo::demo_dir().join(format!("hive-{}", std::process::id()))
}

/// Fills `hive` as if the demo store had answered: keys with sizes and expiry,
/// a selected JSON value, stats and a minute of ops/s history (fixed clock `now`).
pub fn fixture(hive: &mut Hive, now: f64) {
    *hive = Hive::connected("embedded /var/lib/tidepool/hive", SourceState::Local);
    let entries = entries();
    let now_ms = (now * 1000.0) as u64;
    let mut tag = 0u64;
    let mut reply = |hive: &mut Hive, req: Req, r: crate::engine::hive::handle::Reply| {
        tag += 1;
        hive.sent(tag, req);
        hive.apply(Msg::Event(Event { tag, result: Ok(r) }), now);
    };
    hive.outbox.clear();
    hive.listing = false;
    let aliases = entries.iter().map(|e| Bytes::from(e.0.clone())).collect();
    let generation = hive.generation;
    hive.listing = true;
    reply(
        hive,
        Req::List { generation },
        crate::engine::hive::handle::Reply::Page(PrefixPage {
            aliases,
            next: None,
        }),
    );
    for (alias, content, ttl) in &entries {
        let meta = EntryMeta {
            size: content.len() as u64,
            expiry: ttl.map_or(Expiry::Never, |s| Expiry::At(now_ms + s * 1000)),
            resident: Some(true),
        };
        if let Some(slot) = hive.keys.get_mut(alias.as_bytes()) {
            *slot = Some(meta);
        }
    }
    hive.outbox.clear();
    hive.pending.clear();
    hive.meta_asked.clear();
    hive.loading = None;
    let stats = HiveStats {
        backend: "embedded".into(),
        durability: "immediate".into(),
        root: "/var/lib/tidepool/hive".into(),
        db_file_bytes: 1_572_864,
        live_entries: entries.len() as u64,
        entries_with_expiry: 4,
        limiter_max_bytes: 1 << 30,
        limiter_max_entries_count: 1_000,
        limiter_resident_bytes: 3_917,
        limiter_resident_entries: entries.len() as u64,
        cache_hits: 18_220,
        cache_misses: 311,
        keyspace_hits: 18_402,
        keyspace_misses: 129,
        group_commit_batches: 2_204,
        group_commit_ops: 4_871,
        group_commit_p50_us: 180,
        group_commit_p99_us: 2_400,
        ..HiveStats::default()
    };
    let mut total = 18_402 + 129 + 4_871 - 60 * 12;
    for t in 0..60u64 {
        total += 8 + (t * 7 % 9);
        hive.ops
            .push(8 + (t * 7 % 9) + if t % 10 == 0 { 14 } else { 0 });
        hive.evictions.push(0);
    }
    hive.apply(
        Msg::Snapshot(Snapshot {
            stats,
            ops: total,
            errors: 1,
            dropped_events: 0,
        }),
        now,
    );
    hive.errors = 1;
    hive.last_error = None;
    // open the user: folder and show user:1001 (JSON)
    if let Some(i) = hive
        .rows
        .iter()
        .position(|r| matches!(r, crate::tui::hive::Row::Folder { label, .. } if label == "user:"))
    {
        hive.sel = i;
        hive.enter();
    }
    hive.outbox.clear();
    hive.loading = None;
    let first = entries
        .iter()
        .find(|e| e.0 == "user:1001")
        .map(|e| (Bytes::from(e.0.clone()), Bytes::from(e.1.clone())));
    if let Some((alias, content)) = first {
        if let Some(i) = hive
            .rows
            .iter()
            .position(|r| matches!(r, crate::tui::hive::Row::Key { alias: a, .. } if *a == alias))
        {
            hive.sel = i;
        }
        hive.value = Some(crate::tui::hive::value::Value::new(
            alias, content, hive.mode,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::hive::handle::{Command, Reply};

    #[tokio::test]
    async fn demo_store_answers_and_has_traffic() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (h, mut events) = start(tmp.path()).await.expect("demo store");
        let tag = h
            .send(Command::List {
                prefix: Bytes::new(),
                cursor: None,
                limit: 500,
            })
            .expect("send");
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("reply in time")
            .expect("event");
        assert_eq!(ev.tag, tag);
        match ev.result {
            Ok(Reply::Page(p)) => assert!(p.aliases.len() >= entries().len()),
            other => panic!("{other:?}"),
        }
        // live traffic: the backend's op counters move within a few seconds
        let mut watch = h.watch();
        let first = super::super::total_ops(&watch.borrow_and_update().clone());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let _ = tokio::time::timeout_at(deadline, watch.changed()).await;
            let now = super::super::total_ops(&watch.borrow_and_update().clone());
            if now > first + 4 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no live traffic");
        }
    }

    #[test]
    fn fixture_shows_a_folder_and_a_json_value() {
        let mut h = Hive::default();
        fixture(&mut h, 1_700_000_000.0);
        assert_eq!(h.path, Bytes::from("user:"));
        assert!(h.value.is_some());
        assert!(h.outbox.is_empty());
    }
}

//! The embedded backend (hive spec section 6): limiter bounds and reload,
//! transient eviction, group-commit linearizability, restart persistence.

use std::time::Duration;

use bytes::Bytes;
use tidepool::engine::hive::store::{Config, Durability, Store};
use tidepool::engine::hive::{Backend, CasOutcome, ErrorCode, Expiry, Hive};

#[tokio::test]
async fn limiter_bounds_the_cache_and_evicted_entries_reload() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        limiter_max_entries_count: 10,
        limiter_max_bytes: 1_000,
        ..Config::new(dir.path())
    };
    let h = Backend::Embedded(Store::open(config).unwrap());
    for i in 0..100 {
        h.put(
            format!("k{i:03}").as_bytes(),
            Bytes::from(vec![b'v'; 50]),
            Expiry::Never,
        )
        .await
        .unwrap();
        let st = h.stats().await.unwrap();
        assert!(st.limiter_resident_entries <= 10, "{st:?}");
        assert!(st.limiter_resident_bytes <= 1_000, "{st:?}");
    }
    for i in 0..100 {
        assert_eq!(
            h.get(format!("k{i:03}").as_bytes()).await.unwrap().len(),
            50
        );
    }
    let st = h.stats().await.unwrap();
    assert!(st.limiter_evictions >= 90, "{st:?}");
    assert!(st.cache_misses > 0, "{st:?}");
    assert_eq!(st.live_entries, 100);
    assert!(st.limiter_resident_entries <= 10);
    // an entry larger than the byte bound is served without being cached
    h.put(b"big", Bytes::from(vec![b'b'; 5_000]), Expiry::Never)
        .await
        .unwrap();
    assert_eq!(h.get(b"big").await.unwrap().len(), 5_000);
    assert_eq!(h.meta(b"big").await.unwrap().resident, Some(false));
}

#[tokio::test]
async fn transient_eviction_deletes() {
    let config = Config {
        limiter_max_entries_count: 10,
        ..Config::transient()
    };
    let h = Backend::Embedded(Store::open(config).unwrap());
    for i in 0..100 {
        h.update(
            format!("k{i}").as_bytes(),
            Bytes::from_static(b"v"),
            Expiry::Never,
        )
        .await
        .unwrap();
    }
    let mut present = 0;
    for i in 0..100 {
        match h.get(format!("k{i}").as_bytes()).await {
            Ok(_) => present += 1,
            Err(e) => assert_eq!(e.code, ErrorCode::AliasNotFound),
        }
    }
    assert_eq!(present, 10);
    assert_eq!(h.stats().await.unwrap().live_entries, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_writers_to_one_alias_are_serial() {
    let dir = tempfile::tempdir().unwrap();
    let h = Backend::Embedded(Store::open(Config::new(dir.path())).unwrap());
    h.put(b"counter", Bytes::from_static(b"0"), Expiry::Never)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            let mut cur = h.get(b"counter").await.unwrap();
            while done < 10 {
                let n: u64 = std::str::from_utf8(&cur).unwrap().parse().unwrap();
                let next = Bytes::from((n + 1).to_string());
                match h
                    .compare_and_swap(b"counter", next, &cur, Expiry::Never)
                    .await
                    .unwrap()
                {
                    CasOutcome::Swapped { .. } => {
                        done += 1;
                        cur = h.get(b"counter").await.unwrap();
                    }
                    CasOutcome::Unmatched { current } => cur = current,
                }
            }
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(120), t)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(h.get(b"counter").await.unwrap(), Bytes::from_static(b"500"));
    let st = h.stats().await.unwrap();
    assert!(
        st.group_commit_batches > 0 && st.group_commit_ops >= 501,
        "{st:?}"
    );
}

#[tokio::test]
async fn batch_conditionals_see_earlier_writes() {
    let dir = tempfile::tempdir().unwrap();
    let h = Backend::Embedded(Store::open(Config::new(dir.path())).unwrap());
    // issued together so they usually share one writer batch; the outcome must
    // be the serial one either way
    let (a, b, c) = tokio::join!(
        h.put(b"x", Bytes::from_static(b"1"), Expiry::Never),
        h.put(b"x", Bytes::from_static(b"2"), Expiry::Never),
        h.get_and_remove(b"x"),
    );
    a.unwrap();
    assert_eq!(b.unwrap_err().code, ErrorCode::AliasAlreadyExists);
    assert_eq!(c.unwrap(), Bytes::from_static(b"1"));
}

#[tokio::test]
async fn entries_and_expiry_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let at = tidepool::engine::hive::now_ms() + 3_600_000;
    {
        let store = Store::open(Config::new(dir.path())).unwrap();
        let h = Backend::Embedded(store.clone());
        h.put(b"a", Bytes::from_static(b"1"), Expiry::At(at))
            .await
            .unwrap();
        h.put(b"b", Bytes::from_static(b"2"), Expiry::Never)
            .await
            .unwrap();
        h.delete(b"b").await.unwrap();
        store.close().await;
        assert_eq!(
            h.put(b"c", Bytes::from_static(b"3"), Expiry::Never)
                .await
                .unwrap_err()
                .code,
            ErrorCode::TryAgain
        );
    }
    let h = Backend::Embedded(Store::open(Config::new(dir.path())).unwrap());
    assert_eq!(h.get(b"a").await.unwrap(), Bytes::from_static(b"1"));
    assert_eq!(h.get_expiry(b"a").await.unwrap(), Expiry::At(at));
    assert_eq!(
        h.get(b"b").await.unwrap_err().code,
        ErrorCode::AliasNotFound
    );
    let st = h.stats().await.unwrap();
    assert_eq!((st.live_entries, st.entries_with_expiry), (1, 1));
}

#[tokio::test]
async fn interval_mode_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        durability: Durability::Interval(Duration::from_secs(1)),
        ..Config::new(dir.path())
    };
    let store = Store::open(config).unwrap();
    let h = Backend::Embedded(store.clone());
    h.put(b"k", Bytes::from_static(b"v"), Expiry::Never)
        .await
        .unwrap();
    assert_eq!(h.stats().await.unwrap().durability, "interval:1");
    store.close().await;
    drop(h);
    drop(store);
    // the closing batch commits durably
    let h = Backend::Embedded(Store::open(Config::new(dir.path())).unwrap());
    assert_eq!(h.get(b"k").await.unwrap(), Bytes::from_static(b"v"));
}

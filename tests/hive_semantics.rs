//! One semantics suite (hive spec sections 2, 7.2 and 11.3) run against every
//! backend: embedded (durable and transient), the front door over `resp://`,
//! a throwaway redis-server and a 3-master Redis Cluster.

#[path = "hive_support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use tidepool::engine::hive::redis::RedisHive;
use tidepool::engine::hive::store::{Config, Store};
use tidepool::engine::hive::{
    io, now_ms, Backend, CasOutcome, Cursor, ErrorCode, Expiry, Hive, HiveError,
};
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{Listener, LocalAddr};

fn code<T: std::fmt::Debug>(r: Result<T, HiveError>) -> ErrorCode {
    r.expect_err("expected a wrpme error").code
}

fn b(s: &str) -> Bytes {
    Bytes::from(s.to_string())
}

/// Lists every alias under `prefix` in pages of `limit`, de-duplicated.
async fn list_all(h: &Backend, prefix: &[u8], limit: usize) -> BTreeSet<Bytes> {
    let mut cursor: Option<Cursor> = None;
    let mut all = BTreeSet::new();
    for _ in 0..100_000 {
        let page = h
            .prefix_list(prefix, cursor, limit)
            .await
            .expect("prefix_list");
        all.extend(page.aliases);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
    panic!("listing did not finish");
}

async fn suite(h: &Backend) {
    // put / get / update
    h.put(b"a", b("1"), Expiry::Never).await.expect("put");
    assert_eq!(
        code(h.put(b"a", b("2"), Expiry::Never).await),
        ErrorCode::AliasAlreadyExists
    );
    assert_eq!(h.get(b"a").await.unwrap(), b("1"));
    h.update(b"a", b("3"), Expiry::Never).await.unwrap();
    h.update(b"fresh", b("x"), Expiry::Never).await.unwrap();
    assert_eq!(h.get(b"a").await.unwrap(), b("3"));
    assert_eq!(code(h.get(b"missing").await), ErrorCode::AliasNotFound);

    // delete
    h.delete(b"fresh").await.unwrap();
    assert_eq!(code(h.delete(b"fresh").await), ErrorCode::AliasNotFound);

    // get_and_update of an absent alias writes nothing
    assert_eq!(
        code(h.get_and_update(b"ghost", b("x"), Expiry::Never).await),
        ErrorCode::AliasNotFound
    );
    assert_eq!(code(h.get(b"ghost").await), ErrorCode::AliasNotFound);
    assert_eq!(
        h.get_and_update(b"a", b("4"), Expiry::Never).await.unwrap(),
        b("3")
    );
    assert_eq!(h.get(b"a").await.unwrap(), b("4"));

    // get_and_remove
    h.put(b"gr", b("v"), Expiry::Never).await.unwrap();
    assert_eq!(h.get_and_remove(b"gr").await.unwrap(), b("v"));
    assert_eq!(
        code(h.get_and_remove(b"gr").await),
        ErrorCode::AliasNotFound
    );

    // compare_and_swap: match, mismatch, absent
    assert_eq!(
        h.compare_and_swap(b"a", b("5"), b"4", Expiry::Never)
            .await
            .unwrap(),
        CasOutcome::Swapped { previous: b("4") }
    );
    assert_eq!(
        h.compare_and_swap(b"a", b("6"), b"4", Expiry::Never)
            .await
            .unwrap(),
        CasOutcome::Unmatched { current: b("5") }
    );
    assert_eq!(h.get(b"a").await.unwrap(), b("5"));
    assert_eq!(
        code(
            h.compare_and_swap(b"nope", b("1"), b"1", Expiry::Never)
                .await
        ),
        ErrorCode::AliasNotFound
    );

    // remove_if: mismatch, match, absent
    assert_eq!(
        code(h.remove_if(b"a", b"zzz").await),
        ErrorCode::UnmatchedContent
    );
    h.remove_if(b"a", b"5").await.unwrap();
    assert_eq!(
        code(h.remove_if(b"a", b"5").await),
        ErrorCode::AliasNotFound
    );

    // expiry set, read, cleared; absent
    h.put(b"e", b("v"), Expiry::Never).await.unwrap();
    assert_eq!(h.get_expiry(b"e").await.unwrap(), Expiry::Never);
    let at = now_ms() + 3_600_000;
    h.expires_at(b"e", Expiry::At(at)).await.unwrap();
    assert_eq!(h.get_expiry(b"e").await.unwrap(), Expiry::At(at));
    let meta = h.meta(b"e").await.unwrap();
    assert_eq!((meta.size, meta.expiry), (1, Expiry::At(at)));
    h.expires_at(b"e", Expiry::Never).await.unwrap();
    assert_eq!(h.get_expiry(b"e").await.unwrap(), Expiry::Never);
    assert_eq!(
        code(h.expires_at(b"absent", Expiry::At(at)).await),
        ErrorCode::AliasNotFound
    );
    assert_eq!(
        code(h.get_expiry(b"absent").await),
        ErrorCode::AliasNotFound
    );
    // update without expiry clears it
    h.update(b"e", b("w"), Expiry::At(at)).await.unwrap();
    h.update(b"e", b("w"), Expiry::Never).await.unwrap();
    assert_eq!(h.get_expiry(b"e").await.unwrap(), Expiry::Never);

    // an expired entry behaves as absent
    h.put(b"short", b("v"), Expiry::At(now_ms() + 200))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match h.get(b"short").await {
            Err(e) if e.code == ErrorCode::AliasNotFound => break,
            _ if std::time::Instant::now() > deadline => panic!("entry did not expire"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    h.put(b"short", b("again"), Expiry::Never)
        .await
        .expect("expired alias is free");

    // alias and content limits, checked before any traffic
    let max = vec![b'k'; 4096];
    h.put(&max, b("v"), Expiry::Never).await.unwrap();
    assert_eq!(h.get(&max).await.unwrap(), b("v"));
    h.put(b"1", b("v"), Expiry::Never).await.unwrap();
    assert_eq!(
        code(h.put(&vec![b'k'; 4097], b("v"), Expiry::Never).await),
        ErrorCode::AliasTooLong
    );
    assert_eq!(
        code(h.put(b"", b("v"), Expiry::Never).await),
        ErrorCode::InvalidInput
    );
    assert_eq!(
        code(h.put(b"empty", Bytes::new(), Expiry::Never).await),
        ErrorCode::InvalidInput
    );
    assert_eq!(code(h.get(b"").await), ErrorCode::InvalidInput);

    // binary aliases with glob characters list correctly by prefix
    let prefix: &[u8] = b"g*?[\\\x00]";
    let mut expected = BTreeSet::new();
    for i in 0..7 {
        let mut a = prefix.to_vec();
        a.extend_from_slice(format!("-{i}").as_bytes());
        h.put(&a, b("v"), Expiry::Never).await.unwrap();
        expected.insert(Bytes::from(a));
    }
    // neighbours a glob would wrongly match
    h.put(b"gx?[\\\x00]-0", b("v"), Expiry::Never)
        .await
        .unwrap();
    h.put(b"g*?[\\\x00", b("v"), Expiry::Never).await.unwrap();
    assert_eq!(list_all(h, prefix, 2).await, expected);
    assert_eq!(
        code(h.prefix_list(b"", None, 0).await),
        ErrorCode::InvalidArgument
    );
}

#[tokio::test]
async fn semantics_embedded_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Config::new(dir.path())).unwrap();
    suite(&Backend::Embedded(store.clone())).await;
    store.close().await;
}

#[tokio::test]
async fn semantics_embedded_transient() {
    let store = Store::open(Config::transient()).unwrap();
    suite(&Backend::Embedded(store)).await;
}

#[tokio::test]
async fn semantics_embedded_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        durability: tidepool::engine::hive::store::Durability::Interval(Duration::from_secs(1)),
        ..Config::new(dir.path())
    };
    suite(&Backend::Embedded(Store::open(config).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantics_front_door_over_resp() {
    let store = Store::open(Config::transient()).unwrap();
    let shutdown = Shutdown::new();
    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = io::start(
        listener,
        Backend::Embedded(store),
        io::Config::default(),
        &shutdown,
    )
    .unwrap();
    let LocalAddr::Tcp(addr) = server.local_addr().clone() else {
        unreachable!()
    };
    let client = RedisHive::connect(&format!("resp://{addr}")).await.unwrap();
    suite(&Backend::Redis(client)).await;
    assert!(shutdown.drain(Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantics_redis_single_node() {
    if !support::have_redis("semantics_redis_single_node") {
        return;
    }
    let server = tokio::task::spawn_blocking(|| support::RedisServer::start(false))
        .await
        .unwrap();
    let client = RedisHive::connect(&server.url()).await.unwrap();
    suite(&Backend::Redis(client)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantics_redis_cluster_three_masters() {
    if !support::have_redis("semantics_redis_cluster_three_masters") {
        return;
    }
    let cluster = tokio::task::spawn_blocking(support::RedisCluster::start)
        .await
        .unwrap();
    let client = RedisHive::connect(&cluster.url()).await.unwrap();
    let h = Backend::Redis(client);
    suite(&h).await;

    // 1,000 aliases sharing a prefix spread over all masters, listed once each
    let mut expected = BTreeSet::new();
    for i in 0..1_000 {
        let a = format!("doc:{i}");
        h.put(a.as_bytes(), b("v"), Expiry::Never).await.unwrap();
        expected.insert(Bytes::from(a));
    }
    for n in &cluster.nodes {
        let count: u64 = n
            .cli(&["eval", "return #redis.call('keys', 'doc:*')", "0"])
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(count >= 1, "master {} holds no doc:* alias", n.port);
    }
    assert_eq!(list_all(&h, b"doc:", 100).await, expected);
    let st = h.stats().await.unwrap();
    assert_eq!(st.redis_nodes, 3);
    assert_eq!(st.redis_cluster_state, "ok");
}

#[tokio::test]
async fn redis_target_refused_maps_to_connection_refused() {
    let port = support::free_port(false);
    let err = RedisHive::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .err()
        .expect("nothing listens there");
    let tidepool::engine::hive::Error::Connect { source, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(source.code, ErrorCode::ConnectionRefused);
    let Err(tidepool::engine::hive::Error::Connect { source, .. }) =
        RedisHive::connect("memcache://x:1").await
    else {
        panic!("scheme accepted")
    };
    assert_eq!(source.code, ErrorCode::InvalidProtocol);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantics_front_door_over_redis_backend() {
    if !support::have_redis("semantics_front_door_over_redis_backend") {
        return;
    }
    let redis = tokio::task::spawn_blocking(|| support::RedisServer::start(false))
        .await
        .unwrap();
    let backend = Backend::Redis(RedisHive::connect(&redis.url()).await.unwrap());
    let shutdown = Shutdown::new();
    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = io::start(listener, backend, io::Config::default(), &shutdown).unwrap();
    let LocalAddr::Tcp(addr) = server.local_addr().clone() else {
        unreachable!()
    };
    let client = RedisHive::connect(&format!("resp://{addr}")).await.unwrap();
    suite(&Backend::Redis(client)).await;
    assert!(shutdown.drain(Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_over_tls() {
    if !support::have_redis("redis_backend_over_tls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let port = support::free_port(false);
    let mut child = std::process::Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--tls-auth-clients",
            "no",
        ])
        .arg("--tls-cert-file")
        .arg(&cert_pem)
        .arg("--tls-key-file")
        .arg(&key_pem)
        .arg("--tls-ca-cert-file")
        .arg(&cert_pem)
        .arg("--dir")
        .arg(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("rediss://127.0.0.1:{port}/#insecure");
    let mut client = None;
    for _ in 0..100 {
        if let Ok(c) = RedisHive::connect(&url).await {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(client) = client else {
        let _ = child.kill();
        let _ = child.wait();
        // Debian's redis-server is built with TLS; a build without it cannot serve this
        support::skip("redis_backend_over_tls", "redis-server did not accept TLS");
        return;
    };
    let h = Backend::Redis(client);
    h.put(b"tls", b("v"), Expiry::Never).await.unwrap();
    assert_eq!(h.get(b"tls").await.unwrap(), b("v"));
    let _ = child.kill();
    let _ = child.wait();
}

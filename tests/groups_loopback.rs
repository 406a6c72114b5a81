//! Client ↔ embedded daemon over real sockets (127.0.0.1 port 0 and a Unix
//! socket in a temp dir): the single-daemon sequences of groups spec section
//! 12, the handshake and its rejects, malformed input, slow readers and
//! concurrent membership changes.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tidepool::engine::groups::codec::{
    self, Endian, Name, AGREED_MESS, FIFO_MESS, SAFE_MESS, SELF_DISCARD,
};
use tidepool::engine::groups::io::RecvLimits;
use tidepool::engine::groups::protocol::{self, Cause, Message};
use tidepool::engine::groups::{Client, ConnectOptions, Daemon, DaemonAddr, DaemonConfig};
use tidepool::net::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(10);

struct Fixture {
    daemon: Daemon,
    shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Fixture {
        Self::with(|_| {}).await
    }

    async fn with(tweak: impl FnOnce(&mut DaemonConfig)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = DaemonConfig {
            tcp: Some("127.0.0.1:0".parse().unwrap()),
            unix_dir: Some(dir.path().to_path_buf()),
            ..DaemonConfig::default()
        };
        tweak(&mut config);
        let shutdown = Shutdown::new();
        let daemon = Daemon::start(config, &shutdown, 1_795_375_012)
            .await
            .unwrap();
        Fixture {
            daemon,
            shutdown,
            _dir: dir,
        }
    }

    fn tcp(&self) -> DaemonAddr {
        let a = self.daemon.tcp_addr.unwrap();
        DaemonAddr::Tcp {
            host: a.ip().to_string(),
            port: a.port(),
        }
    }

    async fn client(&self, name: &str) -> Client {
        self.client_with(name, true).await
    }

    async fn client_with(&self, name: &str, membership: bool) -> Client {
        let opts = ConnectOptions {
            name: name.into(),
            membership,
            ..ConnectOptions::default()
        };
        Client::connect(&self.tcp(), &opts).await.unwrap()
    }

    async fn raw(&self) -> TcpStream {
        TcpStream::connect(self.daemon.tcp_addr.unwrap())
            .await
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

async fn recv(c: &mut Client) -> Message {
    tokio::time::timeout(T, c.receive())
        .await
        .expect("message within the deadline")
        .expect("message")
}

fn members(m: &Message) -> (Cause, i32, Vec<String>) {
    match m {
        Message::Membership {
            cause,
            group_id,
            members,
            ..
        } => (
            *cause,
            group_id.index,
            members.iter().map(|m| m.to_string()).collect(),
        ),
        other => panic!("expected a membership, got {other:?}"),
    }
}

/// Section 12.1: two clients join, message, leave.
#[tokio::test]
async fn two_clients_join_message_leave() {
    let f = Fixture::start().await;
    let mut alice = f.client("alice").await;
    let mut bob = f.client("bob").await;
    assert_eq!(alice.private_group(), &n("#alice#localhost"));
    assert_eq!(alice.daemon_version(), (5, 0, 1));
    alice.join("grp").await.unwrap();
    let m = recv(&mut alice).await;
    assert_eq!(
        members(&m),
        (Cause::Join, 1, vec!["#alice#localhost".into()])
    );
    assert_eq!(m.extra(), &[n("#alice#localhost")]);
    bob.join("grp").await.unwrap();
    for (c, idx) in [(&mut alice, 0), (&mut bob, 1)] {
        let m = recv(c).await;
        let me = c.private_group().clone();
        assert_eq!(
            members(&m),
            (
                Cause::Join,
                2,
                vec!["#alice#localhost".into(), "#bob#localhost".into()]
            )
        );
        assert_eq!(m.member_index(&me), idx);
        assert_eq!(m.changed_member(), Some(&n("#bob#localhost")));
    }
    alice
        .multicast(SAFE_MESS, &["grp"], 0, Bytes::from("hello"))
        .await
        .unwrap();
    for c in [&mut alice, &mut bob] {
        match recv(c).await {
            Message::Regular {
                service,
                sender,
                groups,
                data,
                msg_type,
                endian_mismatch,
            } => {
                assert_eq!(service, SAFE_MESS);
                assert_eq!(sender, n("#alice#localhost"));
                assert_eq!(groups, [n("grp")]);
                assert_eq!(&data[..], b"hello");
                assert_eq!(msg_type, 0);
                assert!(!endian_mismatch);
            }
            other => panic!("{other:?}"),
        }
    }
    alice
        .multicast(AGREED_MESS | SELF_DISCARD, &["grp"], -2, Bytes::from("x"))
        .await
        .unwrap();
    assert!(matches!(
        recv(&mut bob).await,
        Message::Regular { msg_type: -2, .. }
    ));
    bob.leave("grp").await.unwrap();
    assert_eq!(recv(&mut bob).await, Message::SelfLeave { group: n("grp") });
    let m = recv(&mut alice).await;
    assert_eq!(
        members(&m),
        (Cause::Leave, 3, vec!["#alice#localhost".into()])
    );
    assert_eq!(m.extra(), &[n("#bob#localhost")]);
    // SELF_DISCARD: alice got nothing but the leave.
    assert!(alice
        .receive_timeout(Duration::from_millis(50))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        alice.state().views[&n("grp")].members,
        [n("#alice#localhost")]
    );
}

/// Section 12.2: a disconnect is announced to the remaining members of every
/// group, and the departed client gets nothing more.
#[tokio::test]
async fn disconnect_is_announced_in_every_group() {
    let f = Fixture::start().await;
    let mut alice = f.client("alice").await;
    let mut bob = f.client("bob").await;
    for g in ["g1", "g2"] {
        alice.join(g).await.unwrap();
        recv(&mut alice).await;
        bob.join(g).await.unwrap();
        recv(&mut alice).await;
        recv(&mut bob).await;
    }
    bob.disconnect().await.unwrap();
    for g in ["g1", "g2"] {
        let m = recv(&mut alice).await;
        assert_eq!(
            members(&m),
            (Cause::Disconnect, 3, vec!["#alice#localhost".into()])
        );
        assert!(matches!(&m, Message::Membership { group, .. } if group == &n(g)));
        assert_eq!(m.changed_member(), Some(&n("#bob#localhost")));
    }
    assert!(bob.receive().await.is_err(), "closed mailbox");
    // A process that dies (socket closed without KILL) is the same to others.
    let mut carol = f.client("carol").await;
    carol.join("g1").await.unwrap();
    recv(&mut alice).await;
    drop(carol);
    let m = recv(&mut alice).await;
    assert_eq!(members(&m).0, Cause::Disconnect);
}

/// Section 12.3 plus the group id evolution of 9.7: the group is deleted when
/// empty and re-created at index 1.
#[tokio::test]
async fn self_leave_and_group_recreation() {
    let f = Fixture::start().await;
    let mut a = f.client("a").await;
    a.join("solo").await.unwrap();
    assert_eq!(members(&recv(&mut a).await).1, 1);
    a.join("solo").await.unwrap(); // duplicate: ignored
    a.leave("other").await.unwrap(); // not a member: ignored
    a.leave("solo").await.unwrap();
    assert_eq!(recv(&mut a).await, Message::SelfLeave { group: n("solo") });
    a.join("solo").await.unwrap();
    assert_eq!(members(&recv(&mut a).await).1, 1);
    assert!(f.daemon.groups_now().iter().any(|(g, _)| g == &n("solo")));
}

#[tokio::test]
async fn unix_socket_named_after_the_port() {
    let f = Fixture::start().await;
    let path = f.daemon.unix_path.clone().unwrap();
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        f.daemon.tcp_addr.unwrap().port().to_string()
    );
    let spread_name = f.daemon.tcp_addr.unwrap().port().to_string();
    let addr = DaemonAddr::parse(&spread_name, path.parent().unwrap()).unwrap();
    assert_eq!(addr, DaemonAddr::Unix(path.clone()));
    let mut u = Client::connect(&addr, &ConnectOptions::default())
        .await
        .unwrap();
    assert!(
        u.private_group().as_str().starts_with("#r"),
        "daemon-assigned name"
    );
    let mut t = f.client("tcp").await;
    u.join("mixed").await.unwrap();
    recv(&mut u).await;
    t.multicast(FIFO_MESS, &["mixed"], 7, Bytes::from("over tcp"))
        .await
        .unwrap();
    assert!(matches!(
        recv(&mut u).await,
        Message::Regular { msg_type: 7, .. }
    ));
    // Point-to-point to a private group needs no join.
    let to = u.private_group().to_string();
    t.multicast(RELIABLE, &[&to], 0, Bytes::from("p2p"))
        .await
        .unwrap();
    match recv(&mut u).await {
        Message::Regular { data, groups, .. } => {
            assert_eq!(&data[..], b"p2p");
            assert_eq!(groups[0].to_string(), to);
        }
        other => panic!("{other:?}"),
    }
}

const RELIABLE: u32 = codec::RELIABLE_MESS;

#[tokio::test]
async fn membership_flag_off_receives_data_only() {
    let f = Fixture::start().await;
    let mut quiet = f.client_with("quiet", false).await;
    let mut loud = f.client("loud").await;
    quiet.join("g").await.unwrap();
    loud.join("g").await.unwrap();
    recv(&mut loud).await;
    loud.multicast(AGREED_MESS, &["g"], 0, Bytes::from("d"))
        .await
        .unwrap();
    assert!(matches!(recv(&mut quiet).await, Message::Regular { .. }));
    quiet.leave("g").await.unwrap();
    assert!(quiet
        .receive_timeout(Duration::from_millis(50))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn handshake_rejects() {
    let f = Fixture::with(|c| c.limits.max_sessions = 2).await;
    let _a = f.client("dup").await;
    let opts = ConnectOptions {
        name: "dup".into(),
        ..ConnectOptions::default()
    };
    let err = Client::connect(&f.tcp(), &opts).await.err().unwrap();
    assert_eq!(err.code(), codec::REJECT_NOT_UNIQUE, "{err}");
    let err = Client::connect(
        &f.tcp(),
        &ConnectOptions {
            name: "bad name".into(),
            ..opts.clone()
        },
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.code(), codec::REJECT_ILLEGAL_NAME);

    for (hello, code) in [
        (&b"\x03\x00\x01\x02pa"[..], codec::REJECT_VERSION),
        (
            &b"\x05\x00\x01\x01\x0babcdefghijk"[..],
            codec::REJECT_ILLEGAL_NAME,
        ),
        (&b"\x05\x00\x01\x01\x02p#"[..], codec::REJECT_ILLEGAL_NAME),
        (&b"\x05\x00\x01\x01\xffp"[..], codec::REJECT_ILLEGAL_NAME),
    ] {
        let mut s = f.raw().await;
        s.write_all(hello).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(T, s.read_to_end(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, [code as i8 as u8], "{hello:?}");
    }
    // A wrong auth choice is refused in place of the accept.
    let mut s = f.raw().await;
    s.write_all(b"\x05\x00\x01\x01\x02zz").await.unwrap();
    let mut offer = [0u8; 6];
    s.read_exact(&mut offer).await.unwrap();
    assert_eq!(&offer, b"\x05NULL ");
    let mut choice = [0u8; 90];
    choice[..3].copy_from_slice(b"IP\0");
    s.write_all(&choice).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, [codec::REJECT_AUTH as i8 as u8]);

    let _b = f.client("b").await;
    let err = Client::connect(
        &f.tcp(),
        &ConnectOptions {
            name: "c".into(),
            ..opts
        },
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.code(), codec::REJECT_QUOTA, "{err}");
}

#[tokio::test]
async fn old_libraries_skip_authentication_and_patch_bytes() {
    let f = Fixture::start().await;
    // 3.14.0: no patch byte in the hello, no auth exchange, no patch in the accept.
    let mut s = f.raw().await;
    s.write_all(b"\x03\x0e\x01\x02ol").await.unwrap();
    let mut accept = [0u8; 4 + 13];
    s.read_exact(&mut accept).await.unwrap();
    assert_eq!(&accept[..4], &[1, 5, 0, 13]);
    assert_eq!(&accept[4..], b"#ol#localhost");
    // 3.15.x sends the patch byte and gets one back, still without auth.
    let mut s = f.raw().await;
    s.write_all(b"\x03\x0f\x00\x01\x02om").await.unwrap();
    let mut accept = [0u8; 5 + 13];
    s.read_exact(&mut accept).await.unwrap();
    assert_eq!(&accept[..5], &[1, 5, 0, 1, 13]);
}

/// A hello split across segments is still accepted (the reference daemon
/// would not, section 4.6 asks us to).
#[tokio::test]
async fn split_hello_is_reassembled() {
    let f = Fixture::start().await;
    let mut s = f.raw().await;
    for part in [&b"\x05"[..], b"\x00\x01", b"\x01\x02", b"s", b"p"] {
        s.write_all(part).await.unwrap();
        s.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    let mut offer = [0u8; 6];
    s.read_exact(&mut offer).await.unwrap();
    let mut choice = BytesMut::new();
    codec::encode_auth_choice(&["NULL"], &mut choice);
    s.write_all(&choice).await.unwrap();
    let mut accept = [0u8; 5 + 13];
    s.read_exact(&mut accept).await.unwrap();
    assert_eq!(&accept[5..], b"#sp#localhost");
}

async fn raw_session(f: &Fixture, name: &str) -> TcpStream {
    let mut s = f.raw().await;
    let mut out = BytesMut::new();
    codec::Hello {
        version: (5, 0, 1),
        membership: true,
        priority: 0,
        name: Bytes::copy_from_slice(name.as_bytes()),
    }
    .encode(&mut out);
    s.write_all(&out).await.unwrap();
    let mut offer = [0u8; 6];
    s.read_exact(&mut offer).await.unwrap();
    out.clear();
    codec::encode_auth_choice(&["NULL"], &mut out);
    s.write_all(&out).await.unwrap();
    let mut accept = vec![0u8; 5 + 2 + name.len() + "localhost".len()];
    s.read_exact(&mut accept).await.unwrap();
    assert_eq!(accept[0], 1);
    s
}

/// Malformed requests kill only the offender; the others see a DISCONNECT.
#[tokio::test]
async fn malformed_requests_kill_only_the_offender() {
    let f = Fixture::start().await;
    let mut watcher = f.client("w").await;
    watcher.join("g").await.unwrap();
    recv(&mut watcher).await;
    let me = n("#x#localhost");
    let join = protocol::join_request(&me, &n("g")).to_bytes();
    let mut oversized = protocol::join_request(&me, &n("g"));
    oversized.header.ty = SAFE_MESS;
    let mut over = oversized.to_bytes().to_vec();
    over[44..48].copy_from_slice(&200_000u32.to_le_bytes());
    let mut two_services = join.to_vec();
    two_services[0] |= 0x30;
    let mut reserved_hint = join.to_vec();
    reserved_hint[43] = 0x81;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("oversized data_len", over),
        (
            "wrong sender",
            protocol::join_request(&n("#y#localhost"), &n("g"))
                .to_bytes()
                .to_vec(),
        ),
        ("two service bits", two_services),
        ("negative num_groups", {
            let mut b = join.to_vec();
            b[36..40].copy_from_slice(&(-1i32).to_le_bytes());
            b
        }),
        ("reserved hint bits", reserved_hint),
        ("truncated header then close", join[..30].to_vec()),
        ("garbage", vec![0xa5; 300]),
    ];
    for (what, bytes) in cases {
        let mut s = raw_session(&f, "x").await;
        s.write_all(&join).await.unwrap();
        let m = recv(&mut watcher).await;
        assert_eq!(members(&m).0, Cause::Join, "{what}");
        s.write_all(&bytes).await.unwrap();
        if what.starts_with("truncated") {
            s.shutdown().await.unwrap();
        }
        let m = recv(&mut watcher).await;
        assert_eq!(
            members(&m),
            (
                Cause::Disconnect,
                members(&m).1,
                vec!["#w#localhost".into()]
            ),
            "{what}"
        );
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(T, s.read_to_end(&mut rest))
            .await
            .expect(what);
    }
    // The watcher is unaffected.
    watcher
        .multicast(FIFO_MESS, &["g"], 0, Bytes::from("still here"))
        .await
        .unwrap();
    assert!(matches!(recv(&mut watcher).await, Message::Regular { .. }));
}

/// A big-endian client's requests are understood and its hint reaches
/// little-endian receivers unchanged (endian_mismatch).
#[tokio::test]
async fn big_endian_clients_interoperate() {
    let f = Fixture::start().await;
    let mut le = f.client("le").await;
    le.join("g").await.unwrap();
    recv(&mut le).await;
    let mut be = raw_session(&f, "be").await;
    let me = n("#be#localhost");
    let mut join = protocol::join_request(&me, &n("g"));
    join.header.endian = Endian::Big;
    join.header.hint_endian = Endian::Big;
    be.write_all(&join.to_bytes()).await.unwrap();
    assert_eq!(members(&recv(&mut le).await).0, Cause::Join);
    let mut mcast =
        protocol::multicast_request(&me, FIFO_MESS, vec![n("g")], 5, Bytes::from("ab")).unwrap();
    mcast.header.endian = Endian::Big;
    mcast.header.hint_endian = Endian::Big;
    be.write_all(&mcast.to_bytes()).await.unwrap();
    match recv(&mut le).await {
        Message::Regular {
            msg_type,
            endian_mismatch,
            data,
            ..
        } => {
            assert_eq!(msg_type, 5);
            assert_eq!(endian_mismatch, Endian::NATIVE == Endian::Little);
            assert_eq!(&data[..], b"ab");
        }
        other => panic!("{other:?}"),
    }
}

/// A client that stops reading is dropped once its queue passes the limit;
/// senders and other members carry on.
#[tokio::test]
async fn client_that_stops_reading_is_dropped() {
    let f = Fixture::with(|c| c.max_queued = 50).await;
    let mut watcher = f.client("w").await;
    watcher.join("g").await.unwrap();
    recv(&mut watcher).await;
    let mut stuck = raw_session(&f, "stuck").await;
    stuck
        .write_all(&protocol::join_request(&n("#stuck#localhost"), &n("g")).to_bytes())
        .await
        .unwrap();
    assert_eq!(members(&recv(&mut watcher).await).0, Cause::Join);
    let mut sender = f.client_with("s", false).await;
    let groups = [n("g")];
    let payload = Bytes::from(vec![7u8; 8 * 1024]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut sent = 0u32;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stuck client never dropped"
        );
        assert!(
            sent < 100_000,
            "stuck client never dropped after {sent} messages"
        );
        for _ in 0..20 {
            sender
                .multicast_feed(FIFO_MESS, &groups, 0, payload.clone())
                .await
                .unwrap();
            sent += 1;
        }
        sender.flush().await.unwrap();
        // The watcher keeps reading; it sees data, then the DISCONNECT.
        let mut dropped = false;
        while let Some(m) = watcher
            .receive_timeout(Duration::from_millis(1))
            .await
            .unwrap()
        {
            if let Message::Membership { cause, .. } = m {
                assert_eq!(cause, Cause::Disconnect);
                dropped = true;
            }
        }
        if dropped {
            break;
        }
    }
    assert!(f.daemon.stats_now().slow_kills >= 1);
    drop(stuck.shutdown().await);
}

/// Many clients join and leave at once; every client that stays sees the same
/// membership sequence, with the group id advancing by one per change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_churn_gives_one_membership_order() {
    const CHURNERS: usize = 12;
    const CHANGES_EACH: usize = 5 * 2 + 2;
    let f = Fixture::start().await;
    let mut stayers = Vec::new();
    for i in 0..3 {
        let mut c = f.client(&format!("stay{i}")).await;
        c.join("churn").await.unwrap();
        stayers.push(c);
    }
    // Wait until every stayer has the view with all three.
    for c in &mut stayers {
        loop {
            if members(&recv(c).await).2.len() == 3 {
                break;
            }
        }
    }
    let mut tasks = Vec::new();
    for i in 0..CHURNERS {
        let addr = f.tcp();
        tasks.push(tokio::spawn(async move {
            let opts = ConnectOptions {
                name: format!("c{i}"),
                membership: false,
                ..ConnectOptions::default()
            };
            let mut c = Client::connect(&addr, &opts).await.unwrap();
            for _ in 0..5 {
                c.join("churn").await.unwrap();
                c.leave("churn").await.unwrap();
            }
            c.join("churn").await.unwrap();
            c.disconnect().await.unwrap();
        }));
    }
    for t in tasks {
        tokio::time::timeout(T, t).await.unwrap().unwrap();
    }
    let mut seqs = Vec::new();
    for c in &mut stayers {
        let mut seq = Vec::new();
        for _ in 0..CHURNERS * CHANGES_EACH {
            seq.push(members(&recv(c).await));
        }
        seqs.push(seq);
    }
    for s in &seqs[1..] {
        assert_eq!(s, &seqs[0]);
    }
    for w in seqs[0].windows(2) {
        assert_eq!(w[1].1, w[0].1 + 1, "gid index advances by one per change");
    }
    assert_eq!(
        seqs[0].last().unwrap().2.len(),
        3,
        "only the stayers remain"
    );
    for c in &mut stayers {
        assert!(c
            .receive_timeout(Duration::from_millis(20))
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn short_buffers_keep_the_message_until_it_fits() {
    let f = Fixture::start().await;
    let mut a = f.client("a").await;
    a.join("g").await.unwrap();
    recv(&mut a).await;
    a.multicast(
        FIFO_MESS,
        &["g", "#a#localhost"],
        0,
        Bytes::from(vec![1u8; 100]),
    )
    .await
    .unwrap();
    let small = RecvLimits {
        max_groups: 1,
        max_data: 10,
        drop: false,
    };
    let err = a.receive_limited(small).await.unwrap_err();
    assert_eq!(
        (
            err.code(),
            matches!(
                err,
                tidepool::engine::groups::Error::TooShort { needed: 2, .. }
            )
        ),
        (codec::GROUPS_TOO_SHORT, true)
    );
    assert!(a.poll() > 0);
    let err = a
        .receive_limited(RecvLimits {
            max_groups: 2,
            ..small
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), codec::BUFFER_TOO_SHORT);
    let (m, truncated) = a
        .receive_limited(RecvLimits {
            drop: true,
            ..small
        })
        .await
        .unwrap();
    assert!(truncated);
    match m {
        Message::Regular { groups, data, .. } => {
            assert_eq!(groups.len(), 1);
            assert_eq!(data.len(), 10);
        }
        other => panic!("{other:?}"),
    }
    // The stream stayed in sync.
    a.multicast(FIFO_MESS, &["g"], 3, Bytes::from("next"))
        .await
        .unwrap();
    assert!(matches!(
        recv(&mut a).await,
        Message::Regular { msg_type: 3, .. }
    ));
    assert_eq!(a.poll(), 0);
}

#[tokio::test]
async fn client_refuses_illegal_requests_locally() {
    let f = Fixture::start().await;
    let mut a = f.client("a").await;
    assert_eq!(
        a.join("#priv").await.unwrap_err().code(),
        codec::ILLEGAL_GROUP
    );
    assert_eq!(
        a.join(&"x".repeat(32)).await.unwrap_err().code(),
        codec::ILLEGAL_GROUP
    );
    let err = a
        .multicast(AGREED_MESS | SAFE_MESS, &["g"], 0, Bytes::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), codec::ILLEGAL_SERVICE);
    let err = a
        .multicast(SAFE_MESS, &["g"], 0, Bytes::from(vec![0; 144_000]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codec::MESSAGE_TOO_LONG);
    // The connection is still usable.
    a.join("g").await.unwrap();
    recv(&mut a).await;
    a.disconnect().await.unwrap();
    assert!(matches!(
        a.join("g").await,
        Err(tidepool::engine::groups::Error::Closed)
    ));
}

#[tokio::test]
async fn handle_joins_sends_and_reports() {
    use tidepool::engine::groups::handle::{ConnState, Event};
    use tidepool::engine::groups::{Handle, Service};
    let f = Fixture::start().await;
    let mut h = Handle::spawn(
        f.tcp(),
        ConnectOptions {
            name: "console".into(),
            ..ConnectOptions::default()
        },
    );
    h.watch(&["ops".to_string()]).unwrap();
    assert!(h.join("#bad").is_err());
    let mut saw_join = false;
    let mut saw_data = false;
    let deadline = tokio::time::Instant::now() + T;
    while !(saw_join && saw_data) {
        let ev = tokio::time::timeout_at(deadline, h.next_event())
            .await
            .unwrap()
            .unwrap();
        match ev {
            Event::Connected { private_group, .. } => {
                assert_eq!(private_group, n("#console#localhost"))
            }
            Event::Message(Message::Membership {
                cause: Cause::Join, ..
            }) => {
                saw_join = true;
                h.send(
                    &["ops".into()],
                    Service::Agreed,
                    false,
                    0,
                    Bytes::from("hi"),
                )
                .unwrap();
            }
            Event::Message(Message::Regular { data, .. }) => {
                assert_eq!(&data[..], b"hi");
                saw_data = true;
            }
            other => panic!("{other:?}"),
        }
    }
    let stats = h.stats().borrow().clone();
    assert_eq!(stats.state, ConnState::Connected);
    assert_eq!(stats.messages_in, 1);
    assert!(stats.views.contains_key(&n("ops")));
    h.disconnect().unwrap();
    loop {
        match tokio::time::timeout(T, h.next_event()).await.unwrap() {
            Some(Event::Disconnected { retry_in: None, .. }) | None => break,
            Some(_) => {}
        }
    }
}

/// A connection that never finishes its handshake is closed after the
/// timeout and holds up nobody else meanwhile.
#[tokio::test]
async fn stalled_handshakes_time_out_without_blocking_others() {
    let f = Fixture::with(|c| c.handshake_timeout = Duration::from_millis(200)).await;
    let mut silent = f.raw().await;
    let mut half = f.raw().await;
    half.write_all(b"\x05\x00").await.unwrap();
    // Others connect and talk while the two stall.
    let mut a = f.client("a").await;
    a.join("g").await.unwrap();
    recv(&mut a).await;
    for s in [&mut silent, &mut half] {
        let mut rest = Vec::new();
        let n = tokio::time::timeout(T, s.read_to_end(&mut rest))
            .await
            .expect("closed by the daemon")
            .unwrap_or(0);
        assert_eq!(n, 0, "no reply to an unfinished hello");
    }
    assert!(f.daemon.stats_now().refused >= 2);
}

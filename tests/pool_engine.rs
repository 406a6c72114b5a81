//! Local mmap pools across processes: the golden header, pool.conf against the
//! shared vector, concurrent depositor processes, a depositor killed with
//! SIGKILL mid-stream, resize under live readers, await woken by another
//! process, permissions. Every test uses its own temporary pools directory.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tidepool::engine::pool::io::{await_index, await_next, Wait};
use tidepool::engine::pool::{codec, CreateOptions, Error, Pools};

fn tidepool(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidepool"));
    c.env("OB_POOLS_DIR", dir).stdin(Stdio::null());
    c
}

fn vector(name: &str) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/pool/slaw-v2.tsv"
    );
    let text = std::fs::read_to_string(path).expect("vector file");
    let hex = text
        .lines()
        .find_map(|l| {
            let mut f = l.split('\t');
            (f.next() == Some(name)).then(|| f.nth(1).unwrap_or("").to_string())
        })
        .expect("vector present");
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn le(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

#[test]
fn fresh_16k_pool_with_toc_10_has_the_spec_header() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    let opts = CreateOptions {
        size: 16384,
        toc_capacity: 10,
        flock: true,
        ..Default::default()
    };
    pools.create("golden", &opts).unwrap();
    let file = std::fs::read(tmp.path().join("golden/mmap-pool")).unwrap();
    assert_eq!(file.len(), 16384);
    // Spec 6.1/6.2, field by field; sem_key is random and masked.
    let mut want: Vec<u8> = vec![0xff, 0xff, 0x0b, 0x10, 2, 2, 0, 0];
    for w in [
        0x1badd00d_636f6e66u64, // conf
        8,
        1,                   // mmap version
        0x4000,              // file size
        0x178,               // header size
        0,                   // sem key (masked)
        0x10,                // flags: flock
        0,                   // next index
        0x1badd00d_70747273, // ptrs
        4,
        0x178,               // oldest
        0,                   // newest
        0x1badd00d_7065726d, // perm
        5,
        u64::MAX,
        u64::MAX,
        u64::MAX,
        0x1badd00d_696e6478, // indx
        29,
        0x00BE_EF00_FEED_0011,
        10, // capacity
        0,  // count
        0,  // start
        1,  // step
        0,  // first
        0,  // last
        u64::MAX,
        (-1.0f64).to_bits(),
    ] {
        want.extend_from_slice(&le(w));
    }
    want.resize(0x178, 0);
    let mut got = file[..0x178].to_vec();
    got[0x30..0x38].copy_from_slice(&[0; 8]);
    assert_eq!(got, want);
    let key = u64::from_le_bytes(file[0x30..0x38].try_into().unwrap());
    assert_eq!(key & !0x7f_ffff, 0x0b80_0000);

    // After the first deposit oldest = newest = 0x178.
    let mut p = pools.open("golden").unwrap();
    p.deposit(&codec::encode_simple_protein(&["a".into()], &[]), 1.0)
        .unwrap();
    let file = std::fs::read(tmp.path().join("golden/mmap-pool")).unwrap();
    assert_eq!(file[0x58..0x60], le(0x178));
    assert_eq!(file[0x60..0x68], le(0x178));
    assert_eq!(file[0x40..0x48], le(1));
}

#[test]
fn pool_conf_matches_the_v5_vector() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("c", &CreateOptions::default()).unwrap();
    let conf = std::fs::read(tmp.path().join("c/pool.conf")).unwrap();
    assert_eq!(conf, vector("file-pool-conf-v5"));
    assert_eq!(codec::parse_pool_conf(&conf).unwrap().version, 5);
    pools.dispose("c").unwrap();
}

#[test]
fn vector_proteins_deposit_and_read_back_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("v", &CreateOptions::default()).unwrap();
    let mut p = pools.open("v").unwrap();
    let names = [
        "protein-empty",
        "protein-wee-rude",
        "protein-very-rude",
        "endian-test-protein",
        "be-endian-test-protein",
    ];
    for (i, n) in names.iter().enumerate() {
        let bytes = vector(n);
        assert_eq!(p.deposit(&bytes, 0.0).unwrap().0, i as i64);
    }
    let mut r = pools.open("v").unwrap();
    for (i, n) in names.iter().enumerate() {
        assert_eq!(r.nth(i as i64).unwrap().protein, vector(n), "{n}");
    }
    drop((p, r));
    pools.dispose("v").unwrap();
}

fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn concurrent_depositors(flock: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools
        .create(
            "busy",
            &CreateOptions {
                size: 16 << 20,
                toc_capacity: 64,
                flock,
                ..Default::default()
            },
        )
        .unwrap();
    const PER: u64 = 1500;
    const WRITERS: u64 = 3;
    let reader = tidepool(tmp.path())
        .args(["tail", "busy", "--follow", "--format", "json", "-n"])
        .arg((PER * WRITERS).to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let writers: Vec<Child> = (0..WRITERS)
        .map(|w| {
            tidepool(tmp.path())
                .args(["deposit", "busy", "-d", &format!("writer-{w}"), "--count"])
                .arg(PER.to_string())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut w in writers {
        assert!(w.wait().unwrap().success());
    }
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success());
    let mut seen = Vec::new();
    let mut per_writer: BTreeMap<String, u64> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.get("skipped").is_none(), "reader skipped: {line}");
        seen.push(v["index"].as_i64().unwrap());
        *per_writer
            .entry(v["descrips"][0].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let want: Vec<i64> = (0..(PER * WRITERS) as i64).collect();
    assert_eq!(seen, want, "indices lost or duplicated");
    assert!(per_writer.values().all(|&n| n == PER), "{per_writer:?}");
    // A fresh reader agrees.
    let mut p = pools.open("busy").unwrap();
    assert_eq!(
        p.index_range().unwrap(),
        Some((0, (PER * WRITERS) as i64 - 1))
    );
    drop(p);
    pools.dispose("busy").unwrap();
}

#[test]
fn concurrent_depositor_processes_semaphores_lose_and_duplicate_nothing() {
    concurrent_depositors(false);
}

#[test]
fn concurrent_depositor_processes_flock_lose_and_duplicate_nothing() {
    concurrent_depositors(true);
}

fn killed_depositor(flock: bool, checksum: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools
        .create(
            "k",
            &CreateOptions {
                size: 64 << 10,
                flock,
                checksum,
                ..Default::default()
            },
        )
        .unwrap();
    let long = "y".repeat(3000);
    let mut child = tidepool(tmp.path())
        .args(["deposit", "k", "-d", "kill", "-i"])
        .arg(format!("payload:{long}"))
        .args(["--count", "100000000"])
        .spawn()
        .unwrap();
    let mut p = pools.open("k").unwrap();
    wait_for(
        || p.newest_index().ok().flatten().is_some_and(|n| n > 300),
        "the child to deposit",
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    // Every visible protein is whole.
    let (o, n) = p.index_range().unwrap().unwrap();
    let want = codec::encode_simple_protein(
        &["kill".into()],
        &[("payload".into(), codec::Scalar::Str(long.clone()))],
    );
    for i in o..=n {
        assert_eq!(p.nth(i).unwrap().protein, want, "index {i}");
    }
    // The lock was released with the process: depositing continues the numbering.
    let (idx, _) = p.deposit(&want, 0.0).unwrap();
    assert_eq!(idx, n + 1);
    drop(p);
    pools.dispose("k").unwrap();
}

#[test]
fn sigkill_mid_deposit_leaves_no_torn_protein_semaphores() {
    killed_depositor(false, false);
}

#[test]
fn sigkill_mid_deposit_leaves_no_torn_protein_flock() {
    killed_depositor(true, false);
}

/// Every read of a checksum pool verifies the entry's checksum, so this also
/// shows no visible entry has a torn checksum.
#[test]
fn sigkill_mid_deposit_leaves_no_torn_protein_checksum() {
    killed_depositor(false, true);
}

#[test]
fn resize_with_live_readers() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools
        .create(
            "rz",
            &CreateOptions {
                size: 32 << 10,
                toc_capacity: 16,
                ..Default::default()
            },
        )
        .unwrap();
    let mut w = pools.open("rz").unwrap();
    let prot = |i: i64| {
        codec::encode_simple_protein(&[format!("p{i}")], &[("i".into(), codec::Scalar::Int(i))])
    };
    for i in 0..200 {
        w.deposit(&prot(i), i as f64).unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Reads per reader so far: the resizing goes on until both have read while
    // it runs (a loaded machine may not schedule them at first).
    let counts: std::sync::Arc<[std::sync::atomic::AtomicU64; 2]> = Default::default();
    let readers: Vec<_> = (0..2)
        .map(|k| {
            let pools = pools.clone();
            let stop = stop.clone();
            let counts = counts.clone();
            std::thread::spawn(move || {
                let mut r = pools.open("rz").unwrap();
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Some((o, n)) = r.index_range().unwrap() else {
                        continue;
                    };
                    for i in [o, (o + n) / 2, n] {
                        match r.nth(i) {
                            Ok(e) => {
                                assert_eq!(e.protein, prot(i));
                                reads += 1;
                                counts[k].store(reads, std::sync::atomic::Ordering::Relaxed);
                            }
                            Err(Error::NoSuchProtein { .. }) => {}
                            Err(e) => panic!("reader failed: {e}"),
                        }
                    }
                }
                reads
            })
        })
        .collect();
    let sizes = [8 << 10, 64 << 10, 16 << 10, 128 << 10, 12 << 10];
    let mut next = 200i64;
    let before: Vec<u64> = counts
        .iter()
        .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for (k, s) in sizes.iter().cycle().enumerate() {
        let both_read = counts
            .iter()
            .zip(&before)
            .all(|(c, b)| c.load(std::sync::atomic::Ordering::Relaxed) > *b);
        if k >= 20 && both_read {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readers never ran during resizes"
        );
        w.resize(*s).unwrap();
        for _ in 0..(20 + k % 40) {
            w.deposit(&prot(next), next as f64).unwrap();
            next += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    let mut r = pools.open("rz").unwrap();
    let (o, n) = r.index_range().unwrap().unwrap();
    assert_eq!(n, next - 1);
    for i in o..=n {
        assert_eq!(r.nth(i).unwrap().protein, prot(i));
    }
    drop((r, w));
    pools.dispose("rz").unwrap();
}

#[test]
fn await_is_woken_by_a_depositor_process() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("aw", &CreateOptions::default()).unwrap();
    let mut p = pools.open("aw").unwrap();
    assert!(matches!(
        await_index(&mut p, 0, Wait::NoWait),
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        await_index(&mut p, 0, Wait::For(Duration::from_millis(20))),
        Err(Error::Timeout { .. })
    ));
    drop(p);
    let dir = tmp.path().to_path_buf();
    let t = std::thread::spawn(move || {
        let mut p = Pools::new(&dir).open("aw").unwrap();
        await_index(&mut p, 0, Wait::For(Duration::from_secs(30)))
    });
    // Depositing only once the awaiter's FIFO exists proves the wake came through it.
    let notify = tmp.path().join("aw/notification");
    wait_for(
        || std::fs::read_dir(&notify).unwrap().count() > 0,
        "the awaiter FIFO",
    );
    assert!(tidepool(tmp.path())
        .args(["deposit", "aw", "-d", "wake"])
        .status()
        .unwrap()
        .success());
    let e = t.join().unwrap().unwrap();
    assert_eq!(e.index, 0);
    // The awaiter removed its FIFO when its hose closed.
    wait_for(
        || std::fs::read_dir(&notify).unwrap().count() == 0,
        "FIFO cleanup",
    );
    pools.dispose("aw").unwrap();
}

#[test]
fn planted_files_in_the_notification_dir_are_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("nf", &CreateOptions::default()).unwrap();
    let notify = tmp.path().join("nf/notification");
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, notify.join("iton-LINK00000000")).unwrap();
    std::fs::write(notify.join("iton-FILE00000000"), b"").unwrap();
    let mut p = pools.open("nf").unwrap();
    for _ in 0..3 {
        p.deposit(&codec::encode_simple_protein(&["x".into()], &[]), 0.0)
            .unwrap();
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    let planted = notify.join("iton-FILE00000000");
    assert!(!planted.exists() || std::fs::read(&planted).unwrap().is_empty());
    drop(p);
    pools.dispose("nf").unwrap();
}

#[test]
fn waker_cancels_a_blocking_await() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("wk", &CreateOptions::default()).unwrap();
    let mut p = pools.open("wk").unwrap();
    let w = tidepool::engine::pool::io::waker(&mut p).unwrap();
    let t = std::thread::spawn(move || await_index(&mut p, 0, Wait::Forever));
    // Whether the wake lands before or during the await, the await ends woken.
    w.wake();
    assert!(matches!(t.join().unwrap(), Err(Error::Woken { .. })));
    pools.dispose("wk").unwrap();
}

#[test]
fn unreadable_pool_is_refused_not_crashed() {
    if nix::unistd::geteuid().is_root() {
        eprintln!("skipping unreadable_pool_is_refused_not_crashed: running as root, permissions are not enforced");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("locked", &CreateOptions::default()).unwrap();
    let f = tmp.path().join("locked/mmap-pool");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    assert!(pools.open("locked").is_err());
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o444)).unwrap();
    let mut p = pools.open("locked").unwrap();
    assert!(!p.is_writable());
    assert!(p
        .deposit(&codec::encode_simple_protein(&[], &[]), 0.0)
        .is_err());
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(p);
    pools.dispose("locked").unwrap();
}

#[test]
fn corrupt_and_truncated_backing_files_give_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("bad", &CreateOptions::default()).unwrap();
    let f = tmp.path().join("bad/mmap-pool");
    let good = std::fs::read(&f).unwrap();
    // truncated below the header's file size
    std::fs::write(&f, &good[..8192]).unwrap();
    assert!(matches!(pools.open("bad"), Err(Error::Corrupt { .. })));
    // garbage header
    let mut bad = good.clone();
    bad[0x50] = 0xee;
    std::fs::write(&f, &bad).unwrap();
    assert!(matches!(pools.open("bad"), Err(Error::Corrupt { .. })));
    // newest pointing into garbage: reads fail cleanly
    let mut bad = good.clone();
    bad[0x60..0x68].copy_from_slice(&le(0x1000));
    std::fs::write(&f, &bad).unwrap();
    let mut p = pools.open("bad").unwrap();
    assert!(p.nth(0).is_err());
    assert!(p.info().is_ok() || p.info().is_err());
    std::fs::write(&f, &good).unwrap();
    drop(p);
    pools.dispose("bad").unwrap();
}

#[test]
fn cli_exit_codes_name_the_retort() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| tidepool(tmp.path()).args(args).output().unwrap();
    assert!(run(&["pool", "create", "x", "-s", "64K"]).status.success());
    let o = run(&["pool", "create", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("POOL_EXISTS"));
    let o = run(&["nth", "missing", "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("POOL_NO_SUCH_POOL"));
    let o = run(&["pool", "create", "a/../b"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("POOL_POOLNAME_BADTH"));
    let o = run(&["nth", "x", "5"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("POOL_NO_SUCH_PROTEIN"));
    let o = run(&["deposit", "x", "-d", "a", "--readonly"]);
    assert_eq!(o.status.code(), Some(3));
    let o = run(&["pool", "create", "frozen", "-s", "8K", "--frozen"]);
    assert!(o.status.success());
    let o = run(&["deposit", "frozen", "-d", "a"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("POOL_FROZEN"));
    assert!(run(&["deposit", "x", "-d", "a", "-i", "n:5"])
        .status
        .success());
    let o = run(&["tail", "x", "--format", "json"]);
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(line.contains("\"index\":0"), "{line}");
    assert!(run(&["deposit", "frozen", "-d", "a"]).status.code() == Some(1));
    assert!(run(&["pool", "create", "g2", "-s", "64K"]).status.success());
    assert!(run(&["deposit", "g2", "-d", "from-g2", "-d", "extra"])
        .status
        .success());
    let o = run(&["tail", "x", "g2", "--format", "json"]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        text.contains("\"pool\":\"x\"") && text.contains("\"pool\":\"g2\""),
        "{text}"
    );
    let o = run(&["tail", "x", "g2", "--filter", "extra", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    assert!(run(&["pool", "rm", "g2"]).status.success());
    let o = run(&["pool", "ls"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "frozen\nx\n");
    assert!(run(&["pool", "rename", "x", "y/z"]).status.success());
    assert!(run(&["pool", "resize", "y/z", "128K"]).status.success());
    let o = run(&["pool", "info", "y/z"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("size: 131072"));
    assert!(run(&["pool", "rm", "y/z", "frozen"]).status.success());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// A `tidepool tail --follow` child: it holds a hose on `pool` until killed.
fn hose_holder(dir: &std::path::Path, pool: &str) -> Child {
    tidepool(dir)
        .args(["tail", pool, "--follow"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn hose_of_a_killed_process_stops_counting_as_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("held", &CreateOptions::default()).unwrap();
    assert!(!pools.in_use("held").unwrap());
    let mut child = hose_holder(tmp.path(), "held");
    wait_for(|| pools.in_use("held").unwrap(), "the child's hose");
    let ls = tidepool(tmp.path())
        .args(["pool", "ls", "-i"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&ls.stdout).contains("in-use"));
    let e = pools.dispose_unused("held").unwrap_err();
    assert!(matches!(e, Error::InUse { .. }), "{e}");
    assert!(matches!(
        pools.rename_unused("held", "moved"),
        Err(Error::InUse { .. })
    ));
    let out = tidepool(tmp.path())
        .args(["pool", "rm", "held"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("POOL_IN_USE"));
    // SIGKILL: no withdraw runs, but the kernel drops the child's lock.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    assert!(!pools.in_use("held").unwrap());
    pools.dispose_unused("held").unwrap();
    assert!(!pools.exists("held"));
}

#[test]
fn auto_dispose_waits_for_the_last_hose_even_after_a_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("ad", &CreateOptions::default()).unwrap();
    let mut child = hose_holder(tmp.path(), "ad");
    wait_for(|| pools.in_use("ad").unwrap(), "the child's hose");
    let mut p = pools.open("ad").unwrap();
    p.deposit(&codec::encode_simple_protein(&["x".into()], &[]), 0.0)
        .unwrap();
    assert!(tidepool(tmp.path())
        .args(["pool", "set", "ad", "--auto-dispose", "true"])
        .status()
        .unwrap()
        .success());
    drop(p);
    assert!(pools.exists("ad"), "the child still has a hose open");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    // The killed hose ran no housekeeping; the next last close disposes.
    assert!(pools.exists("ad"));
    let mut p = pools.open("ad").unwrap();
    assert_eq!(p.newest_index().unwrap(), Some(0));
    drop(p);
    assert!(!pools.exists("ad"));
}

#[test]
fn await_next_follows_the_hose_position_across_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools.create("an", &CreateOptions::default()).unwrap();
    let mut p = pools.open("an").unwrap();
    assert!(matches!(
        await_next(&mut p, Wait::NoWait),
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        await_next(&mut p, Wait::For(Duration::from_millis(20))),
        Err(Error::Timeout { .. })
    ));
    let deposit = |d: &str| {
        assert!(tidepool(tmp.path())
            .args(["deposit", "an", "-d", d])
            .status()
            .unwrap()
            .success());
    };
    deposit("first");
    deposit("second");
    assert_eq!(await_next(&mut p, Wait::NoWait).unwrap().index, 0);
    assert_eq!(p.index(), 1);
    p.runout().unwrap();
    assert_eq!(p.index(), 2);
    let dir = tmp.path().to_path_buf();
    let t = std::thread::spawn(move || {
        let r = await_next(&mut p, Wait::For(Duration::from_secs(30)));
        (r.map(|e| e.index), p.index())
    });
    let notify = tmp.path().join("an/notification");
    wait_for(
        || std::fs::read_dir(&notify).unwrap().count() > 0,
        "the awaiter FIFO",
    );
    let _ = dir;
    deposit("third");
    let (got, pos) = t.join().unwrap();
    assert_eq!(got.unwrap(), 2);
    assert_eq!(pos, 3);
    pools.dispose("an").unwrap();
}

/// Rewrites a little-endian pool as a big-endian machine would have written it:
/// every header word (TOC included) and every entry's timestamp, index and
/// jumpback byte-swapped, the header's big-endian flag set, pool.conf as a
/// big-endian slaw file. Proteins keep their own byte order.
fn make_big_endian(dir: &std::path::Path, entries: &[usize]) {
    use tidepool::engine::slaw::{self, Endian};
    let backing = dir.join("mmap-pool");
    let mut raw = std::fs::read(&backing).unwrap();
    let hs = u64::from_le_bytes(raw[0x28..0x30].try_into().unwrap()) as usize;
    let swap = |raw: &mut Vec<u8>, at: usize| raw[at..at + 8].reverse();
    let mut at = hs;
    for &plen in entries {
        let size = 16 + plen + 8;
        swap(&mut raw, at);
        swap(&mut raw, at + 8);
        swap(&mut raw, at + size - 8);
        at += size;
    }
    for w in (8..hs).step_by(8) {
        swap(&mut raw, w);
    }
    raw[7] |= 1;
    std::fs::write(&backing, &raw).unwrap();
    let conf = dir.join("pool.conf");
    let slawx = slaw::file::read(&std::fs::read(&conf).unwrap()).unwrap();
    std::fs::write(&conf, slaw::file::write(&slawx, Endian::Big)).unwrap();
}

#[test]
fn big_endian_pools_are_read_and_refused_for_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    pools
        .create(
            "be",
            &CreateOptions {
                size: 65536,
                toc_capacity: 10,
                ..Default::default()
            },
        )
        .unwrap();
    let proteins = [
        vector("be-endian-test-protein"),
        codec::encode_simple_protein(&["x".into(), "y".into()], &[]),
        vector("protein-wee-rude"),
    ];
    {
        let mut p = pools.open("be").unwrap();
        for (i, pr) in proteins.iter().enumerate() {
            p.deposit(pr, 100.0 + i as f64).unwrap();
        }
    }
    let lens: Vec<usize> = proteins.iter().map(Vec::len).collect();
    make_big_endian(&tmp.path().join("be"), &lens);
    let mut p = pools.open("be").unwrap();
    assert!(p.is_big_endian());
    assert_eq!(p.index_range().unwrap(), Some((0, 2)));
    for (i, pr) in proteins.iter().enumerate() {
        let e = p.nth(i as i64).unwrap();
        assert_eq!((&e.protein, e.timestamp), (pr, 100.0 + i as f64));
    }
    let info = p.info().unwrap();
    assert_eq!((info.size, info.toc_count, info.next_index), (65536, 3, 3));
    assert_eq!(
        p.seek_time(101.2, tidepool::engine::pool::store::TimeMatch::Closest)
            .unwrap(),
        Some(1)
    );
    assert_eq!(p.next().unwrap().index, 0);
    assert_eq!(
        p.probe_slaw(0, &tidepool::engine::slaw::Slaw::str("y"), true)
            .unwrap()
            .index,
        1
    );
    let e = p.deposit(&proteins[1], 0.0).unwrap_err();
    assert!(matches!(e, Error::WrongVersion { .. }), "{e}");
    assert!(e.to_string().contains("big-endian"));
    assert!(p.resize(32768).is_err());
    let out = tidepool(tmp.path())
        .args(["nth", "be", "1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains('y'));
}

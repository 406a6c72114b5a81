//! Checksum pools: libLoam's CityHash64 against values computed by libLoam
//! itself, and checksum pools created, written, read and verified.

use tidepool::engine::pool::checksum::{city_hash64, city_hash64_with_seeds};

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).expect("hex u64")
}

#[test]
fn city_hash_matches_libloams_own_values() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/pool/cityhash64.tsv"
    );
    let text = std::fs::read_to_string(path).expect("vector file");
    let data: Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 5, "{line}");
        let len: usize = f[0].parse().unwrap();
        let s = &data[..len];
        assert_eq!(city_hash64(s), hex(f[3]), "city64 len {len}");
        assert_eq!(
            city_hash64_with_seeds(s, hex(f[1]), hex(f[2])),
            hex(f[4]),
            "with_seeds len {len} seeds {} {}",
            f[1],
            f[2]
        );
        rows += 1;
    }
    assert!(rows > 400, "only {rows} rows");
}

use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};

use tidepool::engine::pool::checksum::entry_checksum;
use tidepool::engine::pool::{codec, CreateOptions, Error, Pools};

fn prot(i: i64, pad: usize) -> Vec<u8> {
    codec::encode_simple_protein(
        &[format!("p{i}")],
        &[
            ("i".into(), codec::Scalar::Int(i)),
            ("pad".into(), codec::Scalar::Str("z".repeat(pad))),
        ],
    )
}

fn checksum_pool(pools: &Pools, name: &str, size: u64, toc: u64) {
    pools
        .create(
            name,
            &CreateOptions {
                size,
                toc_capacity: toc,
                checksum: true,
                ..Default::default()
            },
        )
        .unwrap();
}

#[test]
fn checksum_pool_entries_have_libplasmas_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    checksum_pool(&pools, "ck", 16384, 10);
    let mut p = pools.open("ck").unwrap();
    let info = p.info().unwrap();
    assert!(info.checksum);
    let bytes = prot(0, 5);
    let ts = 1_763_933_640.25;
    assert_eq!(p.deposit(&bytes, ts).unwrap().0, 0);
    let e = p.nth(0).unwrap();
    assert_eq!((e.index, e.timestamp, &e.protein), (0, ts, &bytes));
    // The first entry sits right after the header: ts, index, checksum, protein, jumpback.
    let raw = std::fs::read(tmp.path().join("ck/mmap-pool")).unwrap();
    let at = info.header_size as usize;
    let word = |o: usize| u64::from_le_bytes(raw[at + o..at + o + 8].try_into().unwrap());
    assert_eq!(word(0), ts.to_bits());
    assert_eq!(word(8), 0);
    assert_eq!(word(16), entry_checksum(&bytes, ts, 0));
    assert_eq!(&raw[at + 24..at + 24 + bytes.len()], &bytes[..]);
    let size = 24 + bytes.len() + 8;
    assert_eq!(word(size - 8), size as u64);
}

#[test]
fn damaged_checksum_entry_is_reported_corrupt_and_others_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    checksum_pool(&pools, "dmg", 16384, 0);
    let mut p = pools.open("dmg").unwrap();
    for i in 0..3 {
        p.deposit(&prot(i, 10), i as f64).unwrap();
    }
    let hs = p.info().unwrap().header_size;
    let entry = 24 + prot(0, 10).len() as u64 + 8;
    // flip one byte inside the second protein's rude-free body
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(tmp.path().join("dmg/mmap-pool"))
        .unwrap();
    let off = hs + entry + 24 + 40;
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, off).unwrap();
    f.write_all_at(&[b[0] ^ 0x20], off).unwrap();
    let mut r = pools.open("dmg").unwrap();
    assert_eq!(r.nth(0).unwrap().protein, prot(0, 10));
    match r.nth(1) {
        Err(e @ Error::Corrupt { .. }) => assert!(e.to_string().contains("checksum"), "{e}"),
        other => panic!("expected POOL_CORRUPT, got {other:?}"),
    }
    assert_eq!(r.nth(2).unwrap().protein, prot(2, 10));
}

#[test]
fn checksum_pool_wraps_and_resizes_with_valid_sums() {
    let tmp = tempfile::tempdir().unwrap();
    let pools = Pools::new(tmp.path());
    checksum_pool(&pools, "wr", 8192, 8);
    let mut p = pools.open("wr").unwrap();
    for i in 0..300 {
        assert_eq!(
            p.deposit(&prot(i, (i % 50) as usize), i as f64).unwrap().0,
            i
        );
    }
    let check = |p: &mut tidepool::engine::pool::Pool| {
        let (o, n) = p.index_range().unwrap().unwrap();
        assert_eq!(n, 299);
        for i in o..=n {
            let e = p.nth(i).unwrap();
            assert_eq!(e.protein, prot(i, (i % 50) as usize));
            assert_eq!(e.timestamp, i as f64);
        }
        o
    };
    let o = check(&mut p);
    assert!(o > 0);
    p.resize(32768).unwrap();
    check(&mut p);
    p.resize(4096).unwrap();
    check(&mut pools.open("wr").unwrap());
}

#[test]
fn cli_creates_and_reads_checksum_pools() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tidepool"))
            .env("OB_POOLS_DIR", tmp.path())
            .stdin(Stdio::null())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["pool", "create", "-c", "cc"]).status.success());
    assert!(run(&["deposit", "cc", "-d", "hello", "-i", "n:1"])
        .status
        .success());
    let out = run(&["nth", "cc", "0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello"));
    let info = run(&["pool", "info", "cc"]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("checksum: true"));
}

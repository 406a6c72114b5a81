//! `Pool::advance_oldest` (libPlasma's `pool_advance_oldest`, served as pool TCP
//! op 24): erasing old proteins in wrapped and unwrapped pools, emptying a pool,
//! and deposits carrying on afterwards.

use tidepool::engine::pool::{CreateOptions, Error, Pools};
use tidepool::engine::slaw::{encode_protein, Protein, Slaw};

fn protein(n: i64, pad: usize) -> Vec<u8> {
    encode_protein(&Protein::new(
        Slaw::strings(["adv"]),
        Slaw::map([("n", Slaw::i64(n)), ("pad", Slaw::str("x".repeat(pad)))]),
    ))
}

fn small_pool() -> (tempfile::TempDir, Pools) {
    let dir = tempfile::tempdir().unwrap();
    let pools = Pools::new(dir.path());
    let opts = CreateOptions {
        size: 16 * 1024,
        ..CreateOptions::default()
    };
    pools.create("p", &opts).unwrap();
    (dir, pools)
}

#[test]
fn advance_oldest_in_an_unwrapped_pool() {
    let (_d, pools) = small_pool();
    let mut p = pools.open("p").unwrap();
    for n in 0..6 {
        p.deposit(&protein(n, 10), 1.0 + n as f64).unwrap();
    }
    assert!(p.advance_oldest(3).unwrap());
    assert_eq!(p.index_range().unwrap(), Some((3, 5)));
    assert!(matches!(p.nth(2), Err(Error::NoSuchProtein { .. })));
    assert_eq!(p.nth(3).unwrap().protein, protein(3, 10));
    assert!(!p.advance_oldest(3).unwrap());
    assert!(!p.advance_oldest(-4).unwrap());
    assert!(matches!(
        p.advance_oldest(7),
        Err(Error::NoSuchProtein { .. })
    ));
    // Another handle (another process in real life) sees the same.
    let mut q = pools.open("p").unwrap();
    assert_eq!(q.oldest_index().unwrap(), Some(3));
}

#[test]
fn advance_oldest_in_a_wrapped_pool_then_deposits_carry_on() {
    let (_d, pools) = small_pool();
    let mut p = pools.open("p").unwrap();
    let mut next = 0;
    // Several laps of a 16 KiB pool.
    while next < 200 {
        p.deposit(&protein(next, 300), next as f64).unwrap();
        next += 1;
    }
    let (old, new) = p.index_range().unwrap().unwrap();
    assert!(old > 0, "pool wrapped");
    let mid = (old + new) / 2;
    assert!(p.advance_oldest(mid).unwrap());
    assert_eq!(p.index_range().unwrap(), Some((mid, new)));
    for i in mid..=new {
        assert_eq!(p.nth(i).unwrap().protein, protein(i, 300), "index {i}");
    }
    for _ in 0..50 {
        p.deposit(&protein(next, 300), next as f64).unwrap();
        next += 1;
    }
    let (old, new) = p.index_range().unwrap().unwrap();
    assert_eq!(new, next - 1);
    for i in old..=new {
        assert_eq!(p.nth(i).unwrap().protein, protein(i, 300), "index {i}");
    }
}

#[test]
fn advancing_past_the_newest_empties_the_pool_and_keeps_counting() {
    let (_d, pools) = small_pool();
    let mut p = pools.open("p").unwrap();
    for n in 0..80 {
        p.deposit(&protein(n, 300), n as f64).unwrap();
    }
    assert!(p.advance_oldest(80).unwrap());
    assert_eq!(p.index_range().unwrap(), None);
    assert_eq!(p.next_index().unwrap(), 80);
    // An empty pool: only index 0 "empties" it again (libPlasma compares with
    // newest index -1), anything newer is POOL_NO_SUCH_PROTEIN.
    assert!(matches!(
        p.advance_oldest(80),
        Err(Error::NoSuchProtein { .. })
    ));
    for n in 80..160 {
        assert_eq!(p.deposit(&protein(n, 300), n as f64).unwrap().0, n);
    }
    let (old, new) = p.index_range().unwrap().unwrap();
    assert_eq!(new, 159);
    for i in old..=new {
        assert_eq!(p.nth(i).unwrap().protein, protein(i, 300), "index {i}");
    }
    let info = p.info().unwrap();
    assert!(info.size_used <= info.size);
}

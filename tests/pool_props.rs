//! Property tests of the pool's on-disk decoders and ring arithmetic: no panic
//! on arbitrary bytes, encode/parse round trips, and random deposit sequences
//! through a real pool file keep every index readable exactly once.

use proptest::prelude::*;
use tidepool::engine::pool::checksum;
use tidepool::engine::pool::codec::{self, NewHeader, Perm, Scalar};
use tidepool::engine::pool::protocol;
use tidepool::engine::pool::store::inspect_header;
use tidepool::engine::pool::{CreateOptions, Pools};
use tidepool::engine::slaw::{self, Slaw};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn header_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = codec::parse_header(&bytes);
        let _ = codec::peek_header_size(&bytes);
        let _ = inspect_header(&bytes);
        let _ = codec::parse_pool_conf(&bytes);
        let _ = codec::descrip_strings(&bytes);
        let _ = codec::check_protein(&bytes);
        for needle in [
            Slaw::str("a"),
            Slaw::strings(["a", "b"]),
            Slaw::list([]),
            Slaw::i32(1),
            Slaw::Nil,
        ] {
            let _ = protocol::protein_search(&bytes, &needle);
        }
    }

    #[test]
    fn city_hash_takes_any_length(bytes in proptest::collection::vec(any::<u8>(), 0..600), s0 in any::<u64>(), s1 in any::<u64>()) {
        let h = checksum::city_hash64_with_seeds(&bytes, s0, s1);
        prop_assert_eq!(h, checksum::city_hash64_with_seeds(&bytes, s0, s1));
        let _ = checksum::entry_checksum(&bytes, f64::from_bits(s0), s1 as i64);
    }

    #[test]
    fn protein_search_agrees_with_an_owned_tree_search(
        d in proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..6),
        w in proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..3),
    ) {
        let bytes = slaw::encode_protein(&slaw::Protein::new(Slaw::strings(d.clone()), Slaw::Nil));
        // reference: greedy in-order subsequence over the strings
        let mut it = d.iter();
        let want_hit = w.iter().all(|x| it.any(|y| y == x));
        let got = protocol::protein_search(&bytes, &Slaw::strings(w.clone()));
        prop_assert_eq!(got.is_some(), want_hit);
        if let (Some(pos), Some(first)) = (got, w.first()) {
            prop_assert_eq!(d.iter().position(|y| y == first), Some(pos));
        }
    }

    #[test]
    fn mutated_headers_never_panic(toc in 0u64..40, flip in proptest::collection::vec((0usize..600, any::<u8>()), 1..8)) {
        let mut h = codec::encode_header(&NewHeader {
            file_size: 65536,
            toc_capacity: toc,
            sem_key: 0x0b80_0001,
            flags: 0,
            perm: Perm::default(),
        });
        for (at, v) in flip {
            if let Some(b) = h.get_mut(at) {
                *b = v;
            }
        }
        let _ = codec::parse_header(&h);
    }

    #[test]
    fn header_round_trips(size_k in 4u64..100_000, toc in 0u64..500, flags in 0u64..32, key in any::<i32>()) {
        let nh = NewHeader {
            file_size: size_k * 4096,
            toc_capacity: toc,
            sem_key: i64::from(key),
            flags: flags & codec::KNOWN_LOW_FLAGS,
            perm: Perm { mode: 0o660, uid: 1, gid: 2 },
        };
        let b = codec::encode_header(&nh);
        prop_assume!(nh.file_size > b.len() as u64);
        let l = codec::parse_header(&b).unwrap();
        prop_assert_eq!(l.file_size, nh.file_size);
        prop_assert_eq!(l.header_size, b.len() as u64);
        prop_assert_eq!(l.sem_key, nh.sem_key);
        prop_assert_eq!(l.flags, nh.flags);
        prop_assert_eq!(l.toc_capacity, codec::normalize_toc_capacity(toc));
        prop_assert_eq!(l.perm, Some(Perm { mode: 0o660, uid: 1, gid: 2 }));
    }

    #[test]
    fn simple_proteins_are_well_formed(
        descrips in proptest::collection::vec("[a-z ]{0,20}", 0..5),
        ingests in proptest::collection::vec(("[a-z]{1,10}", any::<i64>()), 0..5),
    ) {
        let ing: Vec<(String, Scalar)> = ingests.into_iter().map(|(k, v)| (k, Scalar::Int(v))).collect();
        let p = codec::encode_simple_protein(&descrips, &ing);
        prop_assert_eq!(codec::check_protein(&p).unwrap().len_bytes, p.len() as u64);
        if !descrips.is_empty() {
            prop_assert_eq!(codec::descrip_strings(&p).unwrap(), descrips);
        }
    }

    #[test]
    fn remodulate_properties(old in 0u64..u32::MAX as u64, m in 1u64..100_000, phys_seed in any::<u64>()) {
        let phys = phys_seed % m;
        let x = protocol::remodulate(old, phys, m);
        prop_assert!(x > old);
        prop_assert_eq!(x % m, phys);
        prop_assert!(x - old <= m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_deposits_stay_readable(sizes in proptest::collection::vec(16usize..1500, 1..300), toc in 0u64..12) {
        let tmp = tempfile::tempdir().unwrap();
        let pools = Pools::new(tmp.path());
        pools.create("p", &CreateOptions { size: 8192, toc_capacity: toc, flock: true, ..Default::default() }).unwrap();
        let mut w = pools.open("p").unwrap();
        let mut made = Vec::new();
        for (i, s) in sizes.iter().enumerate() {
            let p = codec::encode_simple_protein(&["x".repeat(*s)], &[("i".into(), Scalar::Int(i as i64))]);
            match w.deposit(&p, i as f64) {
                Ok((idx, _)) => { prop_assert_eq!(idx, made.len() as i64); made.push(p); }
                Err(tidepool::engine::pool::Error::TooBig { .. }) => {}
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }
        let mut r = pools.open("p").unwrap();
        if let Some((o, n)) = r.index_range().unwrap() {
            prop_assert_eq!(n, made.len() as i64 - 1);
            for i in o..=n {
                prop_assert_eq!(&r.nth(i).unwrap().protein, &made[i as usize]);
            }
            if o > 0 {
                let gone = matches!(r.nth(o - 1), Err(tidepool::engine::pool::Error::NoSuchProtein { .. }));
                prop_assert!(gone);
            }
        }
    }
}

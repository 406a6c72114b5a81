//! Entry checksums of `checksum` pools (plasma spec 6.3, 13): libLoam's
//! `ob_city_hash64_with_seeds` over the protein bytes, seeded with the entry's
//! timestamp (its f64 bit pattern) and index. libLoam's hash is CityHash64 in
//! its 1.0 form (the short-input paths differ from later CityHash releases), so
//! the general-purpose crates do not match it.
//!
//! Pure arithmetic, checked against values computed by libLoam's own x86-64
//! build (`tests/vectors/pool/cityhash64.tsv`).

const K0: u64 = 0xc3a5_c85c_97cb_3127;
const K1: u64 = 0xb492_b66f_be98_f273;
const K2: u64 = 0x9ae1_6a3b_2f90_404f;
const K3: u64 = 0xc949_d7c7_509e_6557;
const KMUL: u64 = 0x9ddf_ea08_eb38_2d69;

// The readers below index without a check: every caller's offsets come from
// the length dispatch in `city_hash64` (e.g. `n - 16` only when n > 16), so they
// are always in bounds; `city_hash_takes_any_length` (tests/pool_props.rs)
// runs every length from 0 to 600.
#[inline]
fn le64(s: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(a)
}

#[inline]
fn le32(s: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&s[at..at + 4]);
    u64::from(u32::from_le_bytes(a))
}

#[inline]
fn shift_mix(v: u64) -> u64 {
    v ^ (v >> 47)
}

/// CityHash's 128 → 64 bit reduction (`HashLen16`).
#[inline]
fn mix2(u: u64, v: u64) -> u64 {
    let a = shift_mix((u ^ v).wrapping_mul(KMUL));
    let b = shift_mix((v ^ a).wrapping_mul(KMUL));
    b.wrapping_mul(KMUL)
}

fn up_to_16(s: &[u8]) -> u64 {
    let n = s.len();
    if n > 8 {
        let a = le64(s, 0);
        let b = le64(s, n - 8);
        // n is 9..=16: the rotation amount is never 0
        return mix2(a, b.wrapping_add(n as u64).rotate_right(n as u32)) ^ b;
    }
    if n >= 4 {
        let a = le32(s, 0);
        return mix2((n as u64).wrapping_add(a << 3), le32(s, n - 4));
    }
    if n > 0 {
        let y = u32::from(s[0]).wrapping_add(u32::from(s[n >> 1]) << 8);
        let z = (n as u32).wrapping_add(u32::from(s[n - 1]) << 2);
        return shift_mix(u64::from(y).wrapping_mul(K2) ^ u64::from(z).wrapping_mul(K3))
            .wrapping_mul(K2);
    }
    K2
}

fn up_to_32(s: &[u8]) -> u64 {
    let n = s.len();
    let a = le64(s, 0).wrapping_mul(K1);
    let b = le64(s, 8);
    let c = le64(s, n - 8).wrapping_mul(K2);
    let d = le64(s, n - 16).wrapping_mul(K0);
    mix2(
        a.wrapping_sub(b)
            .rotate_right(43)
            .wrapping_add(c.rotate_right(30))
            .wrapping_add(d),
        a.wrapping_add((b ^ K3).rotate_right(20))
            .wrapping_sub(c)
            .wrapping_add(n as u64),
    )
}

fn up_to_64(s: &[u8]) -> u64 {
    let n = s.len();
    let mut z = le64(s, 24);
    let mut a = le64(s, 0).wrapping_add((n as u64).wrapping_add(le64(s, n - 16)).wrapping_mul(K0));
    let mut b = a.wrapping_add(z).rotate_right(52);
    let mut c = a.rotate_right(37);
    a = a.wrapping_add(le64(s, 8));
    c = c.wrapping_add(a.rotate_right(7));
    a = a.wrapping_add(le64(s, 16));
    let vf = a.wrapping_add(z);
    let vs = b.wrapping_add(a.rotate_right(31)).wrapping_add(c);
    a = le64(s, 16).wrapping_add(le64(s, n - 32));
    z = le64(s, n - 8);
    b = a.wrapping_add(z).rotate_right(52);
    c = a.rotate_right(37);
    a = a.wrapping_add(le64(s, n - 24));
    c = c.wrapping_add(a.rotate_right(7));
    a = a.wrapping_add(le64(s, n - 16));
    let wf = a.wrapping_add(z);
    let ws = b.wrapping_add(a.rotate_right(31)).wrapping_add(c);
    let r = shift_mix(
        vf.wrapping_add(ws)
            .wrapping_mul(K2)
            .wrapping_add(wf.wrapping_add(vs).wrapping_mul(K0)),
    );
    shift_mix(r.wrapping_mul(K0).wrapping_add(vs)).wrapping_mul(K2)
}

/// Mixes 32 bytes at `at` into the pair `(a, b)`.
#[inline]
fn weak32(s: &[u8], at: usize, a: u64, b: u64) -> (u64, u64) {
    let (w, x, y, z) = (
        le64(s, at),
        le64(s, at + 8),
        le64(s, at + 16),
        le64(s, at + 24),
    );
    let mut a = a.wrapping_add(w);
    let mut b = b.wrapping_add(a).wrapping_add(z).rotate_right(21);
    let c = a;
    a = a.wrapping_add(x).wrapping_add(y);
    b = b.wrapping_add(a.rotate_right(44));
    (a.wrapping_add(z), b.wrapping_add(c))
}

/// libLoam's `ob_city_hash64` (CityHash64, 1.0 form).
pub fn city_hash64(s: &[u8]) -> u64 {
    let n = s.len();
    if n <= 16 {
        return up_to_16(s);
    }
    if n <= 32 {
        return up_to_32(s);
    }
    if n <= 64 {
        return up_to_64(s);
    }
    let mut x = le64(s, 0);
    let mut y = le64(s, n - 16) ^ K1;
    let mut z = le64(s, n - 56) ^ K0;
    let mut v = weak32(s, n - 64, n as u64, y);
    let mut w = weak32(s, n - 32, (n as u64).wrapping_mul(K1), K0);
    z = z.wrapping_add(shift_mix(v.1).wrapping_mul(K1));
    x = z.wrapping_add(x).rotate_right(39).wrapping_mul(K1);
    y = y.rotate_right(33).wrapping_mul(K1);
    // Whole 64-byte blocks from the start; the tail was folded in above.
    let blocks = (n - 1) / 64;
    for blk in 0..blocks {
        let at = blk * 64;
        x = x
            .wrapping_add(y)
            .wrapping_add(v.0)
            .wrapping_add(le64(s, at + 16))
            .rotate_right(37)
            .wrapping_mul(K1);
        y = y
            .wrapping_add(v.1)
            .wrapping_add(le64(s, at + 48))
            .rotate_right(42)
            .wrapping_mul(K1);
        x ^= w.1;
        y ^= v.0;
        z = (z ^ w.0).rotate_right(33);
        v = weak32(s, at, v.1.wrapping_mul(K1), x.wrapping_add(w.0));
        w = weak32(s, at + 32, z.wrapping_add(w.1), y);
        std::mem::swap(&mut z, &mut x);
    }
    mix2(
        mix2(v.0, w.0)
            .wrapping_add(shift_mix(y).wrapping_mul(K1))
            .wrapping_add(z),
        mix2(v.1, w.1).wrapping_add(x),
    )
}

/// libLoam's `ob_city_hash64_with_seeds`.
pub fn city_hash64_with_seeds(s: &[u8], seed0: u64, seed1: u64) -> u64 {
    mix2(city_hash64(s).wrapping_sub(seed0), seed1)
}

/// The checksum libPlasma stores in an entry of a `checksum` pool: the hash of
/// the protein bytes seeded with the timestamp's bit pattern and the index.
pub fn entry_checksum(protein: &[u8], timestamp: f64, index: i64) -> u64 {
    city_hash64_with_seeds(protein, timestamp.to_bits(), index as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inputs_take_every_path() {
        assert_eq!(city_hash64(&[]), K2);
        // lengths 1..=3, 4..=8, 9..=16, 17..=32, 33..=64, > 64 all differ
        let data: Vec<u8> = (0..200u8).collect();
        let mut seen = std::collections::HashSet::new();
        for n in [1, 3, 4, 8, 9, 16, 17, 32, 33, 64, 65, 128, 129, 200] {
            assert!(seen.insert(city_hash64(&data[..n])), "collision at {n}");
        }
    }
}

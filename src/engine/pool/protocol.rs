//! Ring-buffer arithmetic of mmap pools (plasma spec 6.2, 6.3, 6.9) and pool
//! name rules (spec 5.2). Sans-IO: entries are read through [`Ring`], TOC words
//! through [`Words`], and no clock is read here.
//!
//! Virtual offsets grow forever; the physical position is `offset % file_size`.
//! An entry never straddles the end of the file: when it would reach the end
//! (libPlasma wraps when the entry would end at or past the end), the write
//! moves to the header end of the next lap.

use super::codec::{TOC_FIXED_BYTES, TOC_UNKNOWN_OFFSET, TOC_UNKNOWN_TIME};
use crate::engine::slaw::{self, Kind, Slaw};

/// Smallest `x > old` with `x % modulo == phys` (spec 6.9). `phys < modulo`.
pub fn remodulate(old: u64, phys: u64, modulo: u64) -> u64 {
    let z = old % modulo;
    let mut y = (phys + modulo - z) % modulo;
    if y == 0 {
        y = modulo;
    }
    old + y
}

/// The virtual offset of the first entry position of the lap containing `v`.
pub fn lap_first(v: u64, file_size: u64, header_size: u64) -> u64 {
    v - v % file_size + header_size
}

/// Whether an entry of `len` bytes starting at virtual `at` must move to the next
/// lap (libPlasma wraps when it would end at or past the file end).
pub fn must_wrap(at: u64, len: u64, file_size: u64) -> bool {
    at % file_size + len >= file_size
}

/// libPlasma's `protein_search` (gap search), used by probes: where `needle`
/// matches the protein's descrips, `None` when it does not.
///
/// - A list needle matches when its elements occur among the descrips in order,
///   gaps allowed; the result is the position of the first matched element. An
///   empty list matches every protein (position 0), even one without descrips.
/// - Any other needle (string, number, map, …) matches a descrips element equal
///   to it; the result is that element's position.
///
/// Equality is libPlasma's `slawx_equal`: the same encoded bytes, in the
/// protein's byte order. Descrips that are a map are searched as its cons pairs;
/// descrips that are neither list nor map match nothing. Malformed proteins
/// match nothing.
pub fn protein_search(protein: &[u8], needle: &Slaw) -> Option<usize> {
    if let Slaw::List(want) = needle {
        if want.is_empty() {
            return Some(0);
        }
    }
    let view = slaw::validate_protein(protein).ok()?;
    let descrips = view.descrips()?;
    if !matches!(descrips.kind(), Kind::List | Kind::Map) {
        return None;
    }
    let endian = view.endian();
    let enc = |s: &Slaw| {
        let mut out = Vec::new();
        slaw::encode_into(s, endian, &mut out);
        out
    };
    match needle {
        Slaw::List(want) => {
            let want: Vec<Vec<u8>> = want.iter().map(enc).collect();
            let mut next = want.iter().peekable();
            let mut hit = None;
            for (i, d) in descrips.children().enumerate() {
                let Some(w) = next.peek() else { break };
                if d.bytes() == w.as_slice() {
                    hit.get_or_insert(i);
                    next.next();
                }
            }
            next.peek().is_none().then_some(hit).flatten()
        }
        other => {
            let w = enc(other);
            descrips.children().position(|d| d.bytes() == w.as_slice())
        }
    }
}

/// Read access to entries of the ring, as a depositor holding the lock sees it.
pub trait Ring {
    /// Entry size at a virtual offset (from the protein's header).
    fn entry_size(&self, at: u64) -> Option<u64>;
    /// Index stored in the entry at a virtual offset.
    fn entry_index(&self, at: u64) -> Option<i64>;
}

/// The pool's pointers as a depositor sees them under the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ptrs {
    /// ptrs.oldest_entry.
    pub oldest: u64,
    /// ptrs.newest_entry (0 = empty).
    pub newest: u64,
    /// conf.file_size.
    pub file_size: u64,
    /// conf.header_size.
    pub header_size: u64,
}

/// Where a deposit goes and what it does to `oldest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritePlan {
    /// Virtual offset of the new entry.
    pub write: u64,
    /// New value of oldest_entry (equal to the old one when nothing is overwritten).
    pub new_oldest: u64,
}

/// Why a deposit cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The entry is larger than the ring.
    TooBig,
    /// The walk met an inconsistent entry.
    Corrupt(String),
}

/// Plans a deposit of an entry of `len` bytes (spec 6.3 steps 2-4), following
/// libPlasma's prepare-write: overwritten entries are skipped by walking forward
/// from `oldest`; when everything is overwritten the new oldest is the write
/// position itself.
pub fn plan_write(ring: &impl Ring, p: Ptrs, len: u64) -> Result<WritePlan, PlanError> {
    if len > p.file_size.saturating_sub(p.header_size) {
        return Err(PlanError::TooBig);
    }
    if p.newest == 0 {
        // Empty: the write goes where oldest points.
        let mut write = p.oldest;
        if must_wrap(write, len, p.file_size) {
            write = lap_first(write, p.file_size, p.header_size) + p.file_size;
        }
        return Ok(WritePlan {
            write,
            new_oldest: write,
        });
    }
    let bad = |what: &str| PlanError::Corrupt(what.to_string());
    let newest_size = ring
        .entry_size(p.newest)
        .ok_or_else(|| bad("newest entry unreadable"))?;
    let mut write = p.newest + newest_size;
    let first = lap_first(p.newest, p.file_size, p.header_size);
    let first_index = ring.entry_index(first);
    let mut new_oldest = p.oldest;
    if must_wrap(write, len, p.file_size) {
        write = first + p.file_size;
        new_oldest = first;
    }
    let wphys = write % p.file_size;
    let mut steps = 0u64;
    loop {
        let ophys = new_oldest % p.file_size;
        if !(wphys <= ophys && wphys + len > ophys) {
            break;
        }
        if new_oldest == p.newest {
            new_oldest = write;
            break;
        }
        let idx = ring
            .entry_index(new_oldest)
            .ok_or_else(|| bad("oldest entry unreadable"))?;
        if Some(idx + 1) == first_index && new_oldest != first {
            new_oldest = first;
        } else {
            let sz = ring
                .entry_size(new_oldest)
                .ok_or_else(|| bad("entry size unreadable"))?;
            new_oldest += sz;
        }
        if new_oldest > write {
            return Err(bad("oldest passed the write position"));
        }
        steps += 1;
        if steps > p.file_size / 8 {
            return Err(bad("entry walk does not terminate"));
        }
    }
    if new_oldest > p.newest && new_oldest != write {
        return Err(bad("oldest ahead of newest"));
    }
    Ok(WritePlan { write, new_oldest })
}

/// Candidate positions of the entry after the one at `at` (of `size` bytes):
/// either the next lap's first position (if a wrap happened) or `at + size`.
/// Readers check the stored index to pick; see [`next_entry`].
pub fn next_candidates(at: u64, size: u64, file_size: u64, header_size: u64) -> (u64, u64) {
    let wrapped = lap_first(at, file_size, header_size) + file_size;
    (wrapped, at + size)
}

/// Picks the entry following the one at `at` with index `idx`, given `newest`.
/// The first position of a lap always holds an entry start, so its index field
/// says whether the ring wrapped after `at`.
pub fn next_entry(
    ring: &impl Ring,
    at: u64,
    idx: i64,
    size: u64,
    newest: u64,
    file_size: u64,
    header_size: u64,
) -> Option<u64> {
    if at >= newest {
        return None;
    }
    let (wrapped, straight) = next_candidates(at, size, file_size, header_size);
    if wrapped <= newest && ring.entry_index(wrapped) == Some(idx + 1) {
        return Some(wrapped);
    }
    if straight <= newest && straight % file_size + 16 <= file_size {
        return Some(straight);
    }
    None
}

// ---------------------------------------------------------------------------
// TOC (spec 6.2), mirroring libPlasma's pool-toc behaviour so libPlasma readers
// that trust it find what they expect.

/// Word access to a TOC block (word 0 = signature).
pub trait Words {
    /// Reads word `i`.
    fn get(&self, i: u64) -> u64;
    /// Writes word `i`.
    fn set(&mut self, i: u64, v: u64);
}

impl Words for Vec<u64> {
    fn get(&self, i: u64) -> u64 {
        self.as_slice().get(i as usize).copied().unwrap_or(0)
    }
    fn set(&mut self, i: u64, v: u64) {
        if let Some(w) = self.as_mut_slice().get_mut(i as usize) {
            *w = v;
        }
    }
}

const W_CAP: u64 = 1;
const W_COUNT: u64 = 2;
const W_START: u64 = 3;
const W_STEP: u64 = 4;
const W_FIRST: u64 = 5;
const W_LAST: u64 = 6;
const W_ENTRIES: u64 = TOC_FIXED_BYTES / 8;

/// A TOC entry: where a protein index lives and when it was deposited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TocEntry {
    /// Protein index.
    pub index: i64,
    /// Virtual offset of its entry.
    pub offset: u64,
    /// Deposit time.
    pub timestamp: f64,
}

/// Header fields of a TOC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TocState {
    /// Capacity in entries.
    pub capacity: u64,
    /// Entries in use.
    pub count: u64,
    /// Physical slot of logical entry 0.
    pub start: u64,
    /// Index distance between entries.
    pub step: u64,
    /// Index of logical entry 0.
    pub first: i64,
    /// Index of the last protein added.
    pub last: i64,
}

/// Reads a TOC's header words; `None` when they are inconsistent.
pub fn toc_state(w: &impl Words) -> Option<TocState> {
    let s = TocState {
        capacity: w.get(W_CAP),
        count: w.get(W_COUNT),
        start: w.get(W_START),
        step: w.get(W_STEP),
        first: w.get(W_FIRST) as i64,
        last: w.get(W_LAST) as i64,
    };
    (s.capacity > 0 && s.count <= s.capacity && s.step > 0 && s.first >= 0).then_some(s)
}

fn slot(s: &TocState, n: u64) -> u64 {
    W_ENTRIES + 2 * ((s.start.wrapping_add(n)) % s.capacity)
}

fn read_slot(w: &impl Words, s: &TocState, n: u64) -> (u64, f64) {
    let at = slot(s, n);
    (w.get(at), f64::from_bits(w.get(at + 1)))
}

fn write_slot(w: &mut impl Words, s: &TocState, n: u64, off: u64, ts: f64) {
    let at = slot(s, n);
    w.set(at, off);
    w.set(at + 1, ts.to_bits());
}

fn store(w: &mut impl Words, s: &TocState) {
    w.set(W_COUNT, s.count);
    w.set(W_START, s.start);
    w.set(W_STEP, s.step);
    w.set(W_FIRST, s.first as u64);
    w.set(W_LAST, s.last as u64);
}

/// Records a deposit in the TOC (after the deposit, under the deposit lock):
/// pads skipped slots with the unknown entry, drops entries older than
/// `oldest` when full, halves the resolution (decimation) when still full.
pub fn toc_append(w: &mut impl Words, e: TocEntry, oldest: u64) {
    let Some(mut s) = toc_state(w) else { return };
    if e.index < 0 || e.timestamp < 0.0 {
        return;
    }
    if s.count == 0 {
        s.first = e.index;
    }
    let n = if e.index < s.first {
        0
    } else {
        (e.index - s.first) as u64 / s.step
    };
    if n >= s.count {
        // A gap longer than the capacity can only come from a corrupt TOC.
        if n - s.count > s.capacity {
            s.count = 0;
            s.start = 0;
            s.step = 1;
            s.first = e.index;
        } else {
            while n > s.count {
                write_slot(w, &s, s.count, TOC_UNKNOWN_OFFSET, TOC_UNKNOWN_TIME);
                s.count += 1;
                if s.count >= s.capacity {
                    break;
                }
            }
        }
        // drop entries that were overwritten
        if s.count == s.capacity {
            let mut kill = 0;
            while kill < s.count && read_slot(w, &s, kill).0 < oldest {
                kill += 1;
            }
            s.count -= kill;
            s.start = (s.start + kill) % s.capacity;
            s.first += (kill * s.step) as i64;
        }
        // decimate: keep every second entry
        if s.count >= s.capacity {
            s.count /= 2;
            s.step *= 2;
            for i in 1..s.count {
                let (off, ts) = read_slot(w, &s, 2 * i);
                write_slot(w, &s, i, off, ts);
            }
        }
        write_slot(w, &s, s.count, e.offset, e.timestamp);
        s.count += 1;
    }
    s.last = e.index;
    store(w, &s);
}

/// Resets a TOC to its initial state (used before a rebuild after resize).
pub fn toc_reset(w: &mut impl Words) {
    let Some(mut s) = toc_state(w).or_else(|| {
        let cap = w.get(W_CAP);
        (cap > 0).then_some(TocState {
            capacity: cap,
            count: 0,
            start: 0,
            step: 1,
            first: 0,
            last: 0,
        })
    }) else {
        return;
    };
    s.count = 0;
    s.start = 0;
    s.step = 1;
    s.first = 0;
    s.last = 0;
    store(w, &s);
    write_slot(w, &s, 0, TOC_UNKNOWN_OFFSET, TOC_UNKNOWN_TIME);
}

/// The best recorded entry at or below `index` (a hint: callers verify it).
pub fn toc_lookup(w: &impl Words, index: i64) -> Option<TocEntry> {
    let s = toc_state(w)?;
    if s.count == 0 || index < s.first {
        return None;
    }
    let mut n = ((index - s.first) as u64 / s.step).min(s.count - 1);
    loop {
        let (off, ts) = read_slot(w, &s, n);
        if off != TOC_UNKNOWN_OFFSET {
            return Some(TocEntry {
                index: s.first + (n * s.step) as i64,
                offset: off,
                timestamp: ts,
            });
        }
        if n == 0 {
            return None;
        }
        n -= 1;
    }
}

/// The recorded entry with the largest timestamp not above `t` (a hint).
pub fn toc_lookup_time(w: &impl Words, t: f64) -> Option<TocEntry> {
    let s = toc_state(w)?;
    let mut best = None;
    for n in 0..s.count {
        let (off, ts) = read_slot(w, &s, n);
        if off == TOC_UNKNOWN_OFFSET || ts > t {
            continue;
        }
        best = Some(TocEntry {
            index: s.first + (n * s.step) as i64,
            offset: off,
            timestamp: ts,
        });
    }
    best
}

// ---------------------------------------------------------------------------
// Names (spec 5.2)

const DEVICE_NAMES: [&str; 4] = ["con", "prn", "aux", "nul"];

/// Checks a local pool name (relative, `/`-separated). `Err` says which rule
/// it breaks.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.starts_with('/') {
        return Err("absolute paths are only allowed as local:/path".into());
    }
    for comp in name.split('/') {
        check_component(comp)?;
    }
    Ok(())
}

fn check_component(c: &str) -> Result<(), String> {
    if c.is_empty() {
        return Err("empty path component".into());
    }
    if c.chars().count() > 100 {
        return Err(format!("component {c:?} longer than 100 characters"));
    }
    if c.starts_with('.') {
        return Err(format!("component {c:?} begins with '.'"));
    }
    if c.ends_with([' ', '.', '$']) {
        return Err(format!("component {c:?} ends with space, '.' or '$'"));
    }
    if let Some(bad) = c.chars().find(|&ch| !legal_char(ch)) {
        return Err(format!("character {bad:?} is not allowed"));
    }
    let lower = c.to_ascii_lowercase();
    if c == "lost+found" || DEVICE_NAMES.contains(&lower.as_str()) {
        return Err(format!("component {c:?} is reserved"));
    }
    let b = lower.as_bytes();
    if b.len() == 4
        && (lower.starts_with("com") || lower.starts_with("lpt"))
        && (b'1'..=b'9').contains(&b[3])
    {
        return Err(format!("component {c:?} is reserved"));
    }
    Ok(())
}

fn legal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " !#$%&'()+,-.;=@[]^_`{}~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn remodulate_is_smallest_larger_congruent() {
        assert_eq!(remodulate(0, 0, 100), 100);
        assert_eq!(remodulate(5, 7, 100), 7);
        assert_eq!(remodulate(7, 7, 100), 107);
        assert_eq!(remodulate(250, 10, 100), 310);
        for old in 0..300u64 {
            for phys in (0..50).step_by(7) {
                let x = remodulate(old, phys, 50);
                assert!(x > old && x % 50 == phys && x - old <= 50);
            }
        }
    }

    /// A ring simulated in memory: entries keyed by virtual offset.
    struct Sim {
        fs: u64,
        entries: BTreeMap<u64, (i64, u64)>,
    }

    impl Ring for Sim {
        fn entry_size(&self, at: u64) -> Option<u64> {
            self.phys(at).map(|e| e.1)
        }
        fn entry_index(&self, at: u64) -> Option<i64> {
            self.phys(at).map(|e| e.0)
        }
    }

    impl Sim {
        fn phys(&self, at: u64) -> Option<(i64, u64)> {
            // latest entry written at this physical position
            self.entries
                .iter()
                .rev()
                .find(|(v, _)| *v % self.fs == at % self.fs)
                .map(|(_, e)| *e)
        }
    }

    #[test]
    fn deposits_wrap_without_splitting_and_keep_order() {
        let fs = 1024u64;
        let hs = 144u64;
        let mut sim = Sim {
            fs,
            entries: BTreeMap::new(),
        };
        let mut p = Ptrs {
            oldest: hs,
            newest: 0,
            file_size: fs,
            header_size: hs,
        };
        let sizes = [64u64, 200, 120, 48, 304, 96, 88, 400];
        for i in 0..200i64 {
            let len = sizes[i as usize % sizes.len()];
            let plan = plan_write(&sim, p, len).unwrap();
            assert!(plan.write % fs >= hs, "write in header");
            assert!(plan.write % fs + len < fs, "entry reaches the end");
            assert!(plan.new_oldest >= p.oldest || p.newest == 0);
            sim.entries.insert(plan.write, (i, len));
            p.oldest = plan.new_oldest;
            p.newest = plan.write;
            // walking from oldest reaches newest with consecutive indices
            let mut at = p.oldest;
            let mut idx = sim.entry_index(at).unwrap();
            let mut n = 0;
            while at != p.newest {
                let sz = sim.entry_size(at).unwrap();
                at = next_entry(&sim, at, idx, sz, p.newest, fs, hs).unwrap();
                let next = sim.entry_index(at).unwrap();
                assert_eq!(next, idx + 1);
                idx = next;
                n += 1;
                assert!(n < 100);
            }
            assert_eq!(idx, i);
        }
    }

    #[test]
    fn too_big_entry_is_refused() {
        let sim = Sim {
            fs: 1024,
            entries: BTreeMap::new(),
        };
        let p = Ptrs {
            oldest: 144,
            newest: 0,
            file_size: 1024,
            header_size: 144,
        };
        assert_eq!(plan_write(&sim, p, 881), Err(PlanError::TooBig));
        assert!(plan_write(&sim, p, 872).is_ok());
    }

    fn toc(cap: u64) -> Vec<u64> {
        let mut w = vec![0u64; (W_ENTRIES + 2 * cap) as usize];
        w[0] = super::super::codec::TOC_SIGNATURE;
        w[1] = cap;
        w[4] = 1;
        w
    }

    #[test]
    fn toc_decimates_when_full() {
        let mut w = toc(4);
        for i in 0..4i64 {
            toc_append(
                &mut w,
                TocEntry {
                    index: i,
                    offset: 1000 + i as u64,
                    timestamp: i as f64,
                },
                0,
            );
        }
        let s = toc_state(&w).unwrap();
        assert_eq!((s.count, s.step, s.first, s.last), (4, 1, 0, 3));
        toc_append(
            &mut w,
            TocEntry {
                index: 4,
                offset: 1004,
                timestamp: 4.0,
            },
            0,
        );
        let s = toc_state(&w).unwrap();
        // halved to entries for 0 and 2, then 4 appended
        assert_eq!((s.count, s.step, s.first, s.last), (3, 2, 0, 4));
        assert_eq!(toc_lookup(&w, 3).unwrap().offset, 1002);
        assert_eq!(toc_lookup(&w, 4).unwrap().offset, 1004);
        // index 5 is off-step: only `last` moves
        toc_append(
            &mut w,
            TocEntry {
                index: 5,
                offset: 1005,
                timestamp: 5.0,
            },
            0,
        );
        let s = toc_state(&w).unwrap();
        assert_eq!((s.count, s.last), (3, 5));
        assert_eq!(toc_lookup_time(&w, 4.5).unwrap().index, 4);
    }

    #[test]
    fn toc_drops_overwritten_entries_before_decimating() {
        let mut w = toc(4);
        for i in 0..4i64 {
            toc_append(
                &mut w,
                TocEntry {
                    index: i,
                    offset: 100 * (i as u64 + 1),
                    timestamp: 0.0,
                },
                0,
            );
        }
        toc_append(
            &mut w,
            TocEntry {
                index: 4,
                offset: 500,
                timestamp: 0.0,
            },
            250,
        );
        let s = toc_state(&w).unwrap();
        assert_eq!((s.count, s.step, s.first), (3, 1, 2));
        assert_eq!(toc_lookup(&w, 2).unwrap().offset, 300);
    }

    #[test]
    fn names_follow_the_rules() {
        for ok in [
            "a",
            "foo/bar/baz",
            "x y",
            "a.b",
            "com0",
            "com10",
            "we$x",
            "{x}~",
        ] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/abs",
            "a//b",
            ".hidden",
            "a/..",
            "..",
            "end.",
            "end ",
            "end$",
            "lost+found",
            "CON",
            "nul",
            "com1",
            "LPT9",
            "a\\b",
            "a:b",
            "a*",
            "tab\t",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(100)).is_ok());
        assert!(check_name(&"x".repeat(101)).is_err());
    }

    fn prot(descrips: Slaw) -> Vec<u8> {
        crate::engine::slaw::encode_protein(&crate::engine::slaw::Protein::new(descrips, Slaw::Nil))
    }

    #[test]
    fn protein_search_is_libplasmas_gap_search() {
        let p = prot(Slaw::strings(["a", "b", "c", "d"]));
        assert_eq!(protein_search(&p, &Slaw::from("c")), Some(2));
        assert_eq!(protein_search(&p, &Slaw::strings(["b", "d"])), Some(1));
        assert_eq!(protein_search(&p, &Slaw::strings(["d", "b"])), None);
        assert_eq!(protein_search(&p, &Slaw::strings(["a", "z"])), None);
        assert_eq!(protein_search(&p, &Slaw::list([])), Some(0));
        assert_eq!(protein_search(&p, &Slaw::from("z")), None);
        // a repeated needle element needs a repeated descrip
        assert_eq!(protein_search(&p, &Slaw::strings(["a", "a"])), None);
        let aa = prot(Slaw::strings(["a", "x", "a"]));
        assert_eq!(protein_search(&aa, &Slaw::strings(["a", "a"])), Some(0));
        // non-string elements compare by encoding
        let n = prot(Slaw::list([Slaw::i32(5), Slaw::f64(1.5), Slaw::Nil]));
        assert_eq!(protein_search(&n, &Slaw::i32(5)), Some(0));
        assert_eq!(protein_search(&n, &Slaw::i64(5)), None);
        assert_eq!(protein_search(&n, &Slaw::Nil), Some(2));
        assert_eq!(
            protein_search(&n, &Slaw::list([Slaw::f64(1.5), Slaw::Nil])),
            Some(1)
        );
        // a list descrip element matches a non-list needle equal to it
        let nested = prot(Slaw::list([Slaw::strings(["in"]), Slaw::from("out")]));
        assert_eq!(protein_search(&nested, &Slaw::strings(["in"])), None);
        assert_eq!(
            protein_search(&nested, &Slaw::list([Slaw::strings(["in"])])),
            Some(0)
        );
        // map descrips are searched as their cons pairs
        let m = prot(Slaw::map([("k", Slaw::from("v"))]));
        let pair = Slaw::Cons(Box::new(Slaw::from("k")), Box::new(Slaw::from("v")));
        assert_eq!(protein_search(&m, &pair), Some(0));
        assert_eq!(protein_search(&m, &Slaw::from("k")), None);
        // no descrips, scalar descrips, garbage: only the empty list matches
        let none = prot(Slaw::Nil);
        assert_eq!(protein_search(&none, &Slaw::from("a")), None);
        assert_eq!(protein_search(&none, &Slaw::list([])), Some(0));
        let scalar = prot(Slaw::from("a"));
        assert_eq!(protein_search(&scalar, &Slaw::from("a")), None);
        assert_eq!(protein_search(&[1, 2, 3], &Slaw::from("a")), None);
    }

    #[test]
    fn protein_search_compares_in_the_proteins_byte_order() {
        let le = prot(Slaw::list([Slaw::i32(9), Slaw::from("s")]));
        let mut be = Vec::new();
        crate::engine::slaw::encode_protein_into(
            &crate::engine::slaw::decode_protein(&le).unwrap(),
            crate::engine::slaw::Endian::Big,
            &mut be,
        );
        assert_eq!(protein_search(&be, &Slaw::i32(9)), Some(0));
        assert_eq!(protein_search(&be, &Slaw::strings(["s"])), Some(1));
    }
}

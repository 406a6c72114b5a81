//! A capped ring buffer that counts what it evicted (console spec section 9,
//! "bounded buffers"): tail, timeline, messages and log all use it.

use std::collections::VecDeque;

/// Items that know their approximate memory cost, for the byte cap.
pub trait Weigh {
    /// Approximate bytes held by this item.
    fn weight(&self) -> usize;
}

/// A ring buffer capped by entry count and by total weight; the oldest entries go
/// first and every eviction is counted.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
    cap_bytes: usize,
    bytes: usize,
    evicted: u64,
}

impl<T: Weigh> Ring<T> {
    /// A ring holding at most `cap` entries and `cap_bytes` bytes (at least one entry).
    pub fn new(cap: usize, cap_bytes: usize) -> Self {
        Ring {
            items: VecDeque::with_capacity(cap.min(1024)),
            cap: cap.max(1),
            cap_bytes,
            bytes: 0,
            evicted: 0,
        }
    }

    /// Appends, evicting from the front to respect both caps.
    pub fn push(&mut self, item: T) {
        self.bytes += item.weight();
        self.items.push_back(item);
        while self.items.len() > self.cap || (self.bytes > self.cap_bytes && self.items.len() > 1) {
            if let Some(old) = self.items.pop_front() {
                self.bytes -= old.weight();
                self.evicted += 1;
            }
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Entries evicted since creation (or the last [`Ring::clear`]).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Total weight held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entry at position `i` (0 = oldest).
    pub fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    /// Drops everything and resets the counters.
    pub fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
        self.evicted = 0;
    }

    /// The newest entry.
    pub fn back(&self) -> Option<&T> {
        self.items.back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weigh for u32 {
        fn weight(&self) -> usize {
            *self as usize
        }
    }

    #[test]
    fn entry_cap_evicts_oldest_and_counts() {
        let mut r = Ring::new(3, usize::MAX);
        for i in 1..=5u32 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(r.evicted(), 2);
    }

    #[test]
    fn byte_cap_evicts_but_keeps_newest() {
        let mut r = Ring::new(100, 10);
        r.push(4);
        r.push(4);
        r.push(4);
        assert_eq!(r.len(), 2);
        assert_eq!(r.bytes(), 8);
        r.push(50);
        assert_eq!(r.len(), 1, "an oversized item still stays");
        assert_eq!(r.evicted(), 3);
    }
}

//! Fixed-size bit sets: the one-probe filters that detectors put before their exact lookups
//! (slices of word hashes, pairs of bytes).

/// A set of the integers `0..64 * W`, held in `W` words; its fixed size lets a test skip the
/// bounds check. Integers past the end are never members and are not added.
pub(crate) struct Bits<const W: usize>([u64; W]);

impl<const W: usize> Default for Bits<W> {
    fn default() -> Self {
        Bits([0; W])
    }
}

impl<const W: usize> Bits<W> {
    /// An empty set on the heap (the larger sets are hundreds of KiB).
    pub(crate) fn boxed() -> Box<Self> {
        Box::default()
    }

    /// Adds `i`.
    pub(crate) fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    /// Whether `i` is in the set.
    #[inline(always)]
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The set's words, for filling it 64 members at a time.
    pub(crate) fn words_mut(&mut self) -> &mut [u64; W] {
        &mut self.0
    }

    /// How many integers are in the set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn holds_what_was_added_and_nothing_past_its_end() {
        let mut set = Bits::<2>::boxed();
        for i in [0, 63, 64, 127, 128, usize::MAX] {
            set.insert(i);
        }
        assert!(set.contains(0) && set.contains(63) && set.contains(64) && set.contains(127));
        assert!(!set.contains(1) && !set.contains(128) && !set.contains(usize::MAX));
        assert_eq!(set.len(), 4);
        set.words_mut()[0] = u64::MAX;
        assert!(set.contains(1));
    }
}

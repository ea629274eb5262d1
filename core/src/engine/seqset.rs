//! A window of sequence numbers as a fixed bitmap: the shape of an ACKNACK's "missing" set and of
//! a reliable reader's "received out of order" set.

/// Number of sequence numbers one [`SeqSet`] can describe.
pub const SEQSET_BITS: u32 = 256;
const WORDS: usize = (SEQSET_BITS / 32) as usize;

/// A set of sequence numbers in `[base, base + num_bits)`, with `num_bits <= 256`.
///
/// Bit `i` stands for `base + i`. Word 0 holds bits 0..32, most significant bit first, which is
/// the order the bitmap has on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SeqSet {
    base: u64,
    num_bits: u32,
    words: [u32; WORDS],
}

impl SeqSet {
    /// An empty set covering `[base, base + num_bits)`; `num_bits` is clamped to 256.
    pub const fn new(base: u64, num_bits: u32) -> Self {
        let n = if num_bits > SEQSET_BITS {
            SEQSET_BITS
        } else {
            num_bits
        };
        SeqSet {
            base,
            num_bits: n,
            words: [0; WORDS],
        }
    }

    /// Rebuild a set from wire words; bits beyond `num_bits` are cleared, words beyond the eighth
    /// are ignored.
    pub fn from_words(base: u64, num_bits: u32, words: &[u32]) -> Self {
        let mut s = SeqSet::new(base, num_bits);
        for (dst, src) in s.words.iter_mut().zip(words) {
            *dst = *src;
        }
        s.clear_tail();
        s
    }

    fn clear_tail(&mut self) {
        for i in 0..WORDS {
            let lo = i as u32 * 32;
            if lo >= self.num_bits {
                self.words[i] = 0;
            } else if lo + 32 > self.num_bits {
                let keep = self.num_bits - lo;
                self.words[i] &= !(u32::MAX >> keep);
            }
        }
    }

    /// First sequence number the set can describe.
    pub const fn base(&self) -> u64 {
        self.base
    }
    /// How many sequence numbers the set spans.
    pub const fn num_bits(&self) -> u32 {
        self.num_bits
    }
    /// The 32-bit words that hold the first `num_bits` bits (`ceil(num_bits / 32)` of them).
    pub fn words(&self) -> &[u32] {
        &self.words[..self.num_bits.div_ceil(32) as usize]
    }

    fn index(&self, seq: u64) -> Option<u32> {
        let off = seq.checked_sub(self.base)?;
        if off < u64::from(self.num_bits) {
            Some(off as u32)
        } else {
            None
        }
    }

    /// Bit `i` of the window (`get`: no panic site in a firmware image).
    fn bit(&self, i: u32) -> bool {
        self.words
            .get((i / 32) as usize)
            .is_some_and(|w| w & (0x8000_0000 >> (i % 32)) != 0)
    }

    /// Add `seq`; returns false (and changes nothing) if `seq` is outside the window.
    pub fn insert(&mut self, seq: u64) -> bool {
        match self.index(seq) {
            Some(i) => {
                if let Some(w) = self.words.get_mut((i / 32) as usize) {
                    *w |= 0x8000_0000 >> (i % 32);
                }
                true
            }
            None => false,
        }
    }

    /// Remove `seq` if present.
    pub fn remove(&mut self, seq: u64) {
        if let Some(i) = self.index(seq)
            && let Some(w) = self.words.get_mut((i / 32) as usize)
        {
            *w &= !(0x8000_0000 >> (i % 32));
        }
    }

    /// True if `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        self.index(seq).is_some_and(|i| self.bit(i))
    }

    /// True if no bit is set.
    pub fn is_empty(&self) -> bool {
        // All words at once (no early exit per word): the planner asks every writer's resend
        // set, on every plan, and it is nearly always empty.
        self.words.iter().fold(0, |acc, w| acc | w) == 0
    }

    /// Number of members.
    pub fn len(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// The smallest member, if any.
    pub fn first(&self) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        self.words
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| self.base + i as u64 * 32 + u64::from(w.leading_zeros()))
    }

    /// The members in increasing order (a word at a time: an empty or sparse set costs a
    /// look at each of its 8 words, not at each of its 256 bits).
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        Members {
            set: self,
            next_word: 0,
            bits: 0,
        }
    }

    /// Move the window so that it starts at `new_base` (which must not be below the current
    /// base; a smaller value is ignored). Members below `new_base` are dropped; the span stays
    /// the same.
    pub fn advance_to(&mut self, new_base: u64) {
        let Some(shift) = new_base.checked_sub(self.base) else {
            return;
        };
        if shift == 0 {
            return;
        }
        // An empty set (the usual case: a writer's resend set, a reader's held set) only moves.
        if shift >= u64::from(SEQSET_BITS) || self.is_empty() {
            self.words = [0; WORDS];
            self.base = new_base;
            return;
        }
        let shift = shift as u32;
        let (wshift, bshift) = ((shift / 32) as usize, shift % 32);
        let mut out = [0u32; WORDS];
        for (i, o) in out.iter_mut().enumerate() {
            let src = i + wshift;
            if src < WORDS {
                let hi = self.words[src] << bshift;
                let lo = if bshift != 0 && src + 1 < WORDS {
                    self.words[src + 1] >> (32 - bshift)
                } else {
                    0
                };
                *o = hi | lo;
            }
        }
        self.words = out;
        self.base = new_base;
        self.clear_tail();
    }
}

/// [`SeqSet::iter`]: the set bits of one word at a time, most significant (lowest number) first.
struct Members<'s> {
    set: &'s SeqSet,
    /// Index of the next word to load.
    next_word: usize,
    /// The not yet reported bits of word `next_word - 1`.
    bits: u32,
}

impl Iterator for Members<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        while self.bits == 0 {
            self.bits = *self.set.words.get(self.next_word)?;
            self.next_word += 1;
        }
        let lz = self.bits.leading_zeros();
        self.bits &= !(0x8000_0000 >> lz);
        let i = (self.next_word as u32 - 1) * 32 + lz;
        // (Bits past `num_bits` are never set; the check keeps `iter` exact regardless.)
        if i >= self.set.num_bits {
            self.bits = 0;
            self.next_word = WORDS;
            return None;
        }
        Some(self.set.base + u64::from(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn basic() {
        let mut s = SeqSet::new(10, 40);
        assert!(s.insert(10));
        assert!(s.insert(49));
        assert!(!s.insert(50));
        assert!(!s.insert(9));
        assert!(s.contains(49));
        assert_eq!(s.words().len(), 2);
        assert_eq!(s.words()[0], 0x8000_0000);
        assert_eq!(s.first(), Some(10));
        assert_eq!(s.len(), 2);
        s.remove(10);
        assert_eq!(s.first(), Some(49));
        s.advance_to(45);
        assert!(s.contains(49));
        assert_eq!(
            s.iter().collect::<heapless::Vec<u64, 4>>().as_slice(),
            &[49]
        );
        s.advance_to(1000);
        assert!(s.is_empty());
    }

    #[test]
    fn from_words_clears_tail() {
        let s = SeqSet::from_words(0, 3, &[u32::MAX, u32::MAX]);
        assert_eq!(s.len(), 3);
        let s = SeqSet::from_words(0, 999, &[1; 20]);
        assert_eq!(s.num_bits(), 256);
    }

    proptest! {
        #[test]
        fn advance_matches_model(members in proptest::collection::vec(0u64..300, 0..80), shift in 0u64..300) {
            let mut s = SeqSet::new(0, 256);
            for m in &members { s.insert(*m); }
            s.advance_to(shift);
            for q in 0..600u64 {
                let expect = q >= shift && q < 256 && members.contains(&q);
                prop_assert_eq!(s.contains(q), expect, "q={}", q);
            }
        }

        /// `iter` (a word at a time) yields exactly the members `contains` sees, in order.
        #[test]
        fn iter_matches_contains(base in 0u64..1000, bits in 0u32..300,
                members in proptest::collection::vec(0u64..1300, 0..80), shift in 0u64..300) {
            let mut s = SeqSet::new(base, bits);
            for m in &members { s.insert(*m); }
            s.advance_to(base + shift);
            let got: heapless::Vec<u64, 300> = s.iter().collect();
            let want: heapless::Vec<u64, 300> =
                (0..1600u64).filter(|q| s.contains(*q)).collect();
            prop_assert_eq!(got, want);
        }
    }
}

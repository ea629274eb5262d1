//! IEEE 802.1Q / 802.1ad VLAN tags (`docs/PROTOCOL.md` section 1).
//!
//! A tag is `TPID (2) | TCI (2)` and sits between the source MAC and the EtherType. l2net accepts
//! zero, one or two tags (a stacked 802.1ad S-tag + 802.1Q C-tag pair); a third is malformed.
//! [`Tag`] is a view of one tag's four bytes, [`VlanTag`] its parsed form, and [`TagStack`] the
//! (at most two) tags of a frame, outermost first.

use super::WireError;

/// TPID of an 802.1Q customer tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad service tag (the outer tag of a QinQ stack).
pub const TPID_8021AD: u16 = 0x88A8;
/// Length of one tag (TPID and TCI).
pub const TAG_LEN: usize = 4;
/// Most tags an l2net frame may carry.
pub const MAX_TAGS: usize = 2;

/// True for the TPIDs l2net recognises as VLAN tags: [`TPID_8021Q`] and [`TPID_8021AD`].
pub const fn is_vlan_tpid(tpid: u16) -> bool {
    tpid == TPID_8021Q || tpid == TPID_8021AD
}

/// A Tag Control Information word: priority (PCP), drop eligibility (DEI) and VLAN id (VID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tci(pub u16);

impl Tci {
    /// Build a TCI from its parts; `pcp` is masked to 3 bits and `vid` to 12 bits.
    pub const fn new(pcp: u8, dei: bool, vid: u16) -> Self {
        Tci(((pcp as u16 & 0x7) << 13) | ((dei as u16) << 12) | (vid & 0x0FFF))
    }
    /// Priority code point (0-7).
    pub const fn pcp(self) -> u8 {
        (self.0 >> 13) as u8
    }
    /// Drop eligible indicator.
    pub const fn dei(self) -> bool {
        self.0 & 0x1000 != 0
    }
    /// VLAN identifier (0-4095; 0 means priority-tagged only).
    pub const fn vid(self) -> u16 {
        self.0 & 0x0FFF
    }
}

/// A VLAN tag: its TPID and TCI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VlanTag {
    /// Tag protocol identifier: [`TPID_8021Q`] or [`TPID_8021AD`].
    pub tpid: u16,
    /// Priority, drop eligibility and VLAN id.
    pub tci: Tci,
}

impl VlanTag {
    /// An 802.1Q tag.
    pub const fn dot1q(tci: Tci) -> Self {
        VlanTag {
            tpid: TPID_8021Q,
            tci,
        }
    }

    /// An 802.1ad service tag.
    pub const fn dot1ad(tci: Tci) -> Self {
        VlanTag {
            tpid: TPID_8021AD,
            tci,
        }
    }

    /// Parse a checked tag view. Fails with [`WireError::BadTpid`] if the TPID is not a VLAN
    /// TPID.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(tag: &Tag<&T>) -> Result<VlanTag, WireError> {
        tag.check_len()?;
        let tpid = tag.tpid();
        if !is_vlan_tpid(tpid) {
            return Err(WireError::BadTpid(tpid));
        }
        Ok(VlanTag {
            tpid,
            tci: tag.tci(),
        })
    }

    /// Bytes needed to emit the tag ([`TAG_LEN`]).
    pub const fn buffer_len(&self) -> usize {
        TAG_LEN
    }

    /// Write the tag into a view. Fails with [`WireError::BadTpid`] for a TPID that is not a
    /// VLAN TPID (a receiver would read it as the EtherType).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, tag: &mut Tag<T>) -> Result<(), WireError> {
        if !is_vlan_tpid(self.tpid) {
            return Err(WireError::BadTpid(self.tpid));
        }
        super::error::check_buffer(tag.buffer.as_ref().len(), TAG_LEN)?;
        tag.set_tpid(self.tpid);
        tag.set_tci(self.tci);
        Ok(())
    }
}

mod field {
    use core::ops::Range;

    pub const TPID: Range<usize> = 0..2;
    pub const TCI: Range<usize> = 2..4;
}

/// A read/write view of one VLAN tag (4 bytes: TPID, TCI).
///
/// After [`Tag::new_checked`] no accessor can panic; with [`Tag::new_unchecked`] accessors panic
/// on a buffer shorter than [`TAG_LEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Tag<T> {
    /// Wrap a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Tag<T> {
        Tag { buffer }
    }

    /// Wrap a buffer, failing with [`WireError::Truncated`] if it is shorter than a tag.
    pub fn new_checked(buffer: T) -> Result<Tag<T>, WireError> {
        let tag = Self::new_unchecked(buffer);
        tag.check_len()?;
        Ok(tag)
    }

    /// Ensure the buffer holds a whole tag.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < TAG_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The tag protocol identifier.
    pub fn tpid(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::TPID];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The tag control information.
    pub fn tci(&self) -> Tci {
        let b = &self.buffer.as_ref()[field::TCI];
        Tci(u16::from_be_bytes([b[0], b[1]]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tag<T> {
    /// Set the tag protocol identifier.
    pub fn set_tpid(&mut self, tpid: u16) {
        self.buffer.as_mut()[field::TPID].copy_from_slice(&tpid.to_be_bytes());
    }

    /// Set the tag control information.
    pub fn set_tci(&mut self, tci: Tci) {
        self.buffer.as_mut()[field::TCI].copy_from_slice(&tci.0.to_be_bytes());
    }
}

/// The VLAN tags of one frame, outermost first; at most [`MAX_TAGS`].
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TagStack {
    tags: [Option<VlanTag>; MAX_TAGS],
}

impl PartialEq for TagStack {
    fn eq(&self, other: &Self) -> bool {
        self.as_array() == other.as_array()
    }
}

impl Eq for TagStack {}

impl TagStack {
    /// No tags.
    pub const fn new() -> Self {
        TagStack { tags: [None, None] }
    }

    /// One tag.
    pub const fn single(tag: VlanTag) -> Self {
        TagStack {
            tags: [Some(tag), None],
        }
    }

    /// A stacked pair: `outer` (usually an 802.1ad S-tag) then `inner` (an 802.1Q C-tag).
    pub const fn double(outer: VlanTag, inner: VlanTag) -> Self {
        TagStack {
            tags: [Some(outer), Some(inner)],
        }
    }

    /// Build a stack from up to two tags, outermost first.
    pub fn from_slice(tags: &[VlanTag]) -> Result<Self, WireError> {
        match *tags {
            [] => Ok(Self::new()),
            [a] => Ok(Self::single(a)),
            [a, b] => Ok(Self::double(a, b)),
            _ => Err(WireError::TooManyTags),
        }
    }

    fn as_array(&self) -> [Option<VlanTag>; MAX_TAGS] {
        // Normalise: a stack never has a hole, but compare canonically anyway.
        match self.tags {
            [None, Some(t)] => [Some(t), None],
            t => t,
        }
    }

    /// Number of tags (0, 1 or 2).
    pub fn len(&self) -> usize {
        self.tags.iter().filter(|t| t.is_some()).count()
    }

    /// True if there are no tags.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tags, outermost first.
    pub fn iter(&self) -> impl Iterator<Item = VlanTag> + '_ {
        self.tags.iter().flatten().copied()
    }

    /// The outermost tag: the one that decides the frame's VLAN.
    pub fn outer(&self) -> Option<VlanTag> {
        self.iter().next()
    }

    /// The innermost tag (the same as [`TagStack::outer`] for a single tag).
    pub fn inner(&self) -> Option<VlanTag> {
        self.iter().last()
    }

    /// Put `tag` outside the existing tags (a tag the link stripped on receive). Fails with
    /// [`WireError::TooManyTags`] if the stack is full.
    pub fn push_outer(&mut self, tag: VlanTag) -> Result<(), WireError> {
        match self.as_array() {
            [None, _] => self.tags = [Some(tag), None],
            [Some(t), None] => self.tags = [Some(tag), Some(t)],
            _ => return Err(WireError::TooManyTags),
        }
        Ok(())
    }

    /// Add `tag` inside the existing tags (the next tag read from the frame). Fails with
    /// [`WireError::TooManyTags`] if the stack is full.
    pub fn push_inner(&mut self, tag: VlanTag) -> Result<(), WireError> {
        match self.as_array() {
            [None, _] => self.tags = [Some(tag), None],
            [Some(t), None] => self.tags = [Some(t), Some(tag)],
            _ => return Err(WireError::TooManyTags),
        }
        Ok(())
    }

    /// Parse the tags and the final EtherType. `bytes` starts at the field after the source MAC
    /// (frame offset 12). Returns the stack, the EtherType, and the number of bytes consumed
    /// (`4 * tags + 2`). Fails with [`WireError::Truncated`] if the bytes end inside a tag or
    /// the EtherType and with [`WireError::TooManyTags`] on a third tag.
    pub fn parse(bytes: &[u8]) -> Result<(TagStack, u16, usize), WireError> {
        let mut stack = TagStack::new();
        let mut at = 0;
        loop {
            let ethertype = match bytes.get(at..at + 2) {
                Some(b) => u16::from_be_bytes([b[0], b[1]]),
                None => return Err(WireError::Truncated),
            };
            if !is_vlan_tpid(ethertype) {
                return Ok((stack, ethertype, at + 2));
            }
            let tag_bytes = bytes.get(at..).ok_or(WireError::Truncated)?;
            let tag = VlanTag::parse(&Tag::new_checked(tag_bytes)?)?;
            stack.push_inner(tag)?;
            at += TAG_LEN;
        }
    }

    /// Bytes needed to emit the tags and an EtherType: `4 * len + 2`.
    pub fn buffer_len(&self) -> usize {
        TAG_LEN * self.len() + 2
    }

    /// Write the tags followed by `ethertype` at the start of `buf` (frame offset 12). Returns
    /// the bytes written ([`TagStack::buffer_len`]).
    pub fn emit(&self, ethertype: u16, buf: &mut [u8]) -> Result<usize, WireError> {
        let need = self.buffer_len();
        super::error::check_buffer(buf.len(), need)?;
        let short = WireError::BufferTooSmall {
            len: buf.len(),
            need,
        };
        let mut at = 0;
        for tag in self.iter() {
            let b = buf.get_mut(at..at + TAG_LEN).ok_or(short)?;
            tag.emit(&mut Tag::new_unchecked(b))?;
            at += TAG_LEN;
        }
        let Some([hi, lo]) = buf.get_mut(at..at + 2) else {
            return Err(short);
        };
        [*hi, *lo] = ethertype.to_be_bytes();
        Ok(need)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // From the EtherType field on: S-tag PCP 5 VID 100, C-tag PCP 0 DEI VID 4094, EtherType.
    static QINQ: [u8; 10] = [0x88, 0xa8, 0xa0, 0x64, 0x81, 0x00, 0x1f, 0xfe, 0x88, 0xb5];

    fn s_tag() -> VlanTag {
        VlanTag::dot1ad(Tci::new(5, false, 100))
    }
    fn c_tag() -> VlanTag {
        VlanTag::dot1q(Tci::new(0, true, 4094))
    }

    #[test]
    fn tci_fields() {
        let t = Tci(0xa064);
        assert_eq!((t.pcp(), t.dei(), t.vid()), (5, false, 100));
        let t = Tci(0x1ffe);
        assert_eq!((t.pcp(), t.dei(), t.vid()), (0, true, 4094));
        assert_eq!(Tci::new(0xff, true, 0xffff), Tci(0xffff));
    }

    #[test]
    fn deconstruct_tag() {
        let tag = Tag::new_checked(&QINQ[..4]).unwrap();
        assert_eq!(tag.tpid(), TPID_8021AD);
        assert_eq!(tag.tci(), Tci(0xa064));
        assert_eq!(VlanTag::parse(&tag), Ok(s_tag()));
    }

    #[test]
    fn construct_tag() {
        let mut b = [0u8; 4];
        s_tag().emit(&mut Tag::new_unchecked(&mut b[..])).unwrap();
        assert_eq!(b, QINQ[..4]);
    }

    #[test]
    fn deconstruct_stack() {
        let (stack, et, used) = TagStack::parse(&QINQ).unwrap();
        assert_eq!(stack, TagStack::double(s_tag(), c_tag()));
        assert_eq!((et, used), (0x88b5, 10));
        assert_eq!(stack.outer(), Some(s_tag()));
        assert_eq!(stack.inner(), Some(c_tag()));

        let (stack, et, used) = TagStack::parse(&QINQ[4..]).unwrap();
        assert_eq!(stack, TagStack::single(c_tag()));
        assert_eq!((et, used), (0x88b5, 6));

        let (stack, et, used) = TagStack::parse(&QINQ[8..]).unwrap();
        assert!(stack.is_empty());
        assert_eq!((et, used), (0x88b5, 2));
    }

    #[test]
    fn construct_stack() {
        let mut b = [0u8; 10];
        let n = TagStack::double(s_tag(), c_tag())
            .emit(0x88b5, &mut b)
            .unwrap();
        assert_eq!((n, b), (10, QINQ));
    }

    #[test]
    fn short_and_malformed_stacks() {
        for len in 0..QINQ.len() {
            assert_eq!(
                TagStack::parse(&QINQ[..len]),
                Err(WireError::Truncated),
                "{len}"
            );
        }
        for len in 0..TAG_LEN {
            assert_eq!(Tag::new_checked(&QINQ[..len]), Err(WireError::Truncated));
        }
        // A third tag.
        let three = [
            0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3, 0x88, 0xb5,
        ];
        assert_eq!(TagStack::parse(&three), Err(WireError::TooManyTags));
        // Too small an output buffer.
        let mut b = [0u8; 9];
        assert_eq!(
            TagStack::double(s_tag(), c_tag()).emit(0x88b5, &mut b),
            Err(WireError::BufferTooSmall { len: 9, need: 10 })
        );
        // A tag whose TPID is not a VLAN TPID cannot be emitted or parsed as a tag.
        let bad = VlanTag {
            tpid: 0x0800,
            tci: Tci(1),
        };
        let mut b = [0u8; 6];
        assert_eq!(
            TagStack::single(bad).emit(0x88b5, &mut b),
            Err(WireError::BadTpid(0x0800))
        );
        assert_eq!(
            VlanTag::parse(&Tag::new_unchecked(&[0x08, 0x00, 0, 1][..])),
            Err(WireError::BadTpid(0x0800))
        );
    }

    #[test]
    fn push_rules() {
        let mut s = TagStack::new();
        s.push_inner(c_tag()).unwrap();
        s.push_outer(s_tag()).unwrap();
        assert_eq!(s, TagStack::double(s_tag(), c_tag()));
        assert_eq!(s.push_outer(s_tag()), Err(WireError::TooManyTags));
        assert_eq!(s.push_inner(s_tag()), Err(WireError::TooManyTags));
        assert_eq!(
            TagStack::from_slice(&[s_tag(), c_tag(), c_tag()]),
            Err(WireError::TooManyTags)
        );
        assert_eq!(
            TagStack::from_slice(&[c_tag()]),
            Ok(TagStack::single(c_tag()))
        );
        assert_eq!(s.iter().count(), 2);
    }
}

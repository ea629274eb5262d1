//! Ethernet II header: destination MAC, source MAC, EtherType (`docs/PROTOCOL.md` section 1).
//!
//! [`Frame`] is a view over caller bytes; [`Repr`] is the parsed header. The EtherType read here
//! is the one right after the source MAC, which is a TPID when the frame carries VLAN tags (see
//! [`crate::wire::vlan`]).

use super::{MacAddr, WireError};

/// Length of an Ethernet II header: destination MAC, source MAC, EtherType.
pub const HEADER_LEN: usize = 14;
/// l2net's EtherType (IEEE local experimental EtherType 1).
pub const ETHERTYPE_L2NET: u16 = 0x88B5;
/// Smallest Ethernet frame without FCS; shorter frames are padded to this length.
pub const MIN_FRAME_LEN: usize = 60;

mod field {
    use core::ops::{Range, RangeFrom};

    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: RangeFrom<usize> = 14..;
}

/// A read/write view of an Ethernet II frame.
///
/// Build it with [`Frame::new_checked`]; after that no accessor can panic. [`Frame::new_unchecked`]
/// skips the length check, and then accessors panic on a buffer shorter than [`HEADER_LEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wrap a buffer, failing with [`WireError::Truncated`] if it cannot hold the header.
    pub fn new_checked(buffer: T) -> Result<Frame<T>, WireError> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Ensure the buffer holds a whole Ethernet header.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header length ([`HEADER_LEN`]).
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// Destination MAC address.
    pub fn dst_addr(&self) -> MacAddr {
        mac_at(&self.buffer.as_ref()[field::DESTINATION])
    }

    /// Source MAC address.
    pub fn src_addr(&self) -> MacAddr {
        mac_at(&self.buffer.as_ref()[field::SOURCE])
    }

    /// The EtherType field (a TPID if the frame is VLAN-tagged).
    pub fn ethertype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Everything after the Ethernet header (tags, then the payload, then any padding).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Set the destination MAC address.
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&addr.0);
    }

    /// Set the source MAC address.
    pub fn set_src_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&addr.0);
    }

    /// Set the EtherType field.
    pub fn set_ethertype(&mut self, ethertype: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&ethertype.to_be_bytes());
    }

    /// Mutable access to everything after the Ethernet header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

fn mac_at(b: &[u8]) -> MacAddr {
    MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// A parsed Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Repr {
    /// Destination MAC address.
    pub dst_addr: MacAddr,
    /// Source MAC address.
    pub src_addr: MacAddr,
    /// EtherType (or the first tag's TPID).
    pub ethertype: u16,
}

impl Repr {
    /// Parse the header of a checked frame.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&T>) -> Result<Repr, WireError> {
        frame.check_len()?;
        Ok(Repr {
            dst_addr: frame.dst_addr(),
            src_addr: frame.src_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Bytes needed to emit the header ([`HEADER_LEN`]).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into a frame; the payload is left untouched.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        frame: &mut Frame<T>,
    ) -> Result<(), WireError> {
        super::error::check_buffer(frame.buffer.as_ref().len(), HEADER_LEN)?;
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A minimal l2net frame: group destination, local source, EtherType 0x88B5, 4 payload bytes.
    static FRAME_BYTES: [u8; 18] = [
        0x03, 0x4c, 0x32, 0x00, 0x00, 0x07, // dst
        0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc, // src
        0x88, 0xb5, // EtherType
        0xde, 0xad, 0xbe, 0xef, // payload
    ];

    fn repr() -> Repr {
        Repr {
            dst_addr: MacAddr([0x03, 0x4c, 0x32, 0x00, 0x00, 0x07]),
            src_addr: MacAddr([0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc]),
            ethertype: ETHERTYPE_L2NET,
        }
    }

    #[test]
    fn deconstruct() {
        let frame = Frame::new_checked(&FRAME_BYTES[..]).unwrap();
        assert_eq!(frame.dst_addr(), repr().dst_addr);
        assert_eq!(frame.src_addr(), repr().src_addr);
        assert_eq!(frame.ethertype(), ETHERTYPE_L2NET);
        assert_eq!(frame.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(Repr::parse(&frame), Ok(repr()));
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5u8; 18];
        let mut frame = Frame::new_checked(&mut bytes[..]).unwrap();
        repr().emit(&mut frame).unwrap();
        frame
            .payload_mut()
            .copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(bytes, FRAME_BYTES);
        assert_eq!(repr().buffer_len(), HEADER_LEN);
    }

    #[test]
    fn header_only_has_empty_payload() {
        let frame = Frame::new_checked(&FRAME_BYTES[..HEADER_LEN]).unwrap();
        assert!(frame.payload().is_empty());
    }

    #[test]
    fn short_inputs_are_errors() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Frame::new_checked(&FRAME_BYTES[..len]),
                Err(WireError::Truncated),
                "{len}"
            );
            assert_eq!(
                Repr::parse(&Frame::new_unchecked(&FRAME_BYTES[..len])),
                Err(WireError::Truncated)
            );
            let mut out = [0u8; HEADER_LEN];
            let mut frame = Frame::new_unchecked(&mut out[..len]);
            assert_eq!(
                repr().emit(&mut frame),
                Err(WireError::BufferTooSmall {
                    len,
                    need: HEADER_LEN
                })
            );
        }
    }
}

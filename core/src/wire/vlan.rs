//! IEEE 802.1Q / 802.1ad VLAN tags.

/// TPID of an 802.1Q customer tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad service tag (the outer tag of a QinQ stack).
pub const TPID_8021AD: u16 = 0x88A8;

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
}

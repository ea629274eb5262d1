//! MAC addresses.

use core::fmt;
use core::str::FromStr;

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// `00:00:00:00:00:00`.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// The address's bytes.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }
    /// True for group (multicast and broadcast) addresses: the I/G bit of the first octet.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
    /// True for `ff:ff:ff:ff:ff:ff`.
    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }
    /// True for an individual (unicast) address.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
    /// True for locally administered addresses (U/L bit set).
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

/// First three octets of every l2net multicast MAC: `03:4C:32` ("L2", locally administered
/// group address).
pub const L2NET_MAC_PREFIX: [u8; 3] = [0x03, 0x4c, 0x32];

/// The discovery MAC of `domain` (`docs/PROTOCOL.md` section 5): `03:4C:32:00:dd:dd`.
pub const fn discovery_mac(domain: u16) -> MacAddr {
    let [hi, lo] = domain.to_be_bytes();
    let [a, b, c] = L2NET_MAC_PREFIX;
    MacAddr([a, b, c, 0x00, hi, lo])
}

/// The multicast MAC of a topic (`docs/PROTOCOL.md` section 5): `03:4C:32:h2:h1:h0` with
/// `h = FNV-1a-32(domain BE ‖ topic ‖ 0x00 ‖ type_name)` and the top bit of `h2` set, which keeps
/// topic MACs apart from discovery MACs.
pub const fn topic_mac(domain: u16, topic: &str, type_name: &str) -> MacAddr {
    let mut h = fnv1a32(FNV1A32_OFFSET, &domain.to_be_bytes());
    h = fnv1a32(h, topic.as_bytes());
    h = fnv1a32(h, &[0]);
    h = fnv1a32(h, type_name.as_bytes());
    let [a, b, c] = L2NET_MAC_PREFIX;
    MacAddr([
        a,
        b,
        c,
        0x80 | ((h >> 16) as u8 & 0x7f),
        (h >> 8) as u8,
        h as u8,
    ])
}

const FNV1A32_OFFSET: u32 = 0x811c_9dc5;
const FNV1A32_PRIME: u32 = 0x0100_0193;

/// Continue an FNV-1a-32 hash `h` over `bytes`.
const fn fnv1a32(mut h: u32, bytes: &[u8]) -> u32 {
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u32;
        h = h.wrapping_mul(FNV1A32_PRIME);
        i += 1;
    }
    h
}

impl MacAddr {
    /// True for l2net's multicast MACs (discovery and topic): prefix `03:4C:32`.
    pub const fn is_l2net_multicast(&self) -> bool {
        self.0[0] == L2NET_MAC_PREFIX[0]
            && self.0[1] == L2NET_MAC_PREFIX[1]
            && self.0[2] == L2NET_MAC_PREFIX[2]
    }
}

/// Why a string is not a MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MacParseError;

impl fmt::Display for MacParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "invalid MAC address: expected six hex octets as aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, \
             aabb.ccdd.eeff or aabbccddeeff",
        )
    }
}

impl core::error::Error for MacParseError {}

fn hex(c: u8) -> Result<u8, MacParseError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(MacParseError),
    }
}

impl FromStr for MacAddr {
    type Err = MacParseError;

    /// Parses `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff` (IEEE), `aabb.ccdd.eeff` (Cisco) and
    /// `aabbccddeeff`. Hex digits may be upper or lower case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let mut digits = [0u8; 12];
        let mut n = 0;
        let (sep, group) = match b.len() {
            17 => (b[2], 2),
            14 => (b'.', 4),
            12 => (0, 12),
            _ => return Err(MacParseError),
        };
        if group == 2 && sep != b':' && sep != b'-' {
            return Err(MacParseError);
        }
        for (i, &c) in b.iter().enumerate() {
            let is_sep_pos = group != 12 && (i + 1) % (group + 1) == 0;
            if is_sep_pos {
                if c != sep {
                    return Err(MacParseError);
                }
            } else {
                if n == 12 {
                    return Err(MacParseError);
                }
                digits[n] = hex(c)?;
                n += 1;
            }
        }
        if n != 12 {
            return Err(MacParseError);
        }
        let mut out = [0u8; 6];
        for (i, o) in out.iter_mut().enumerate() {
            *o = digits[2 * i] << 4 | digits[2 * i + 1];
        }
        Ok(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_usual_notations() {
        let want = MacAddr([0x02, 0x4c, 0x32, 0xaa, 0xbb, 0x0f]);
        for s in [
            "02:4c:32:aa:bb:0f",
            "02-4C-32-AA-BB-0F",
            "024c.32aa.bb0f",
            "024C32aabb0f",
        ] {
            assert_eq!(s.parse::<MacAddr>(), Ok(want), "{s}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "02:4c:32:aa:bb",
            "02:4c:32:aa:bb:0g",
            "02:4c-32:aa:bb:0f",
            "02:4c:32:aa:bb:0f:",
            "024c32aabb0",
            "024c:32aa:bb0f",
            "02.4c.32.aa.bb.0f",
            "ü2:4c:32:aa:bb:0f",
        ] {
            assert_eq!(s.parse::<MacAddr>(), Err(MacParseError), "{s}");
        }
    }

    #[test]
    fn l2net_multicast_addresses() {
        // The vectors of docs/PROTOCOL.md section 5.
        assert_eq!(discovery_mac(0), MacAddr([0x03, 0x4c, 0x32, 0, 0, 0]));
        assert_eq!(discovery_mac(42), MacAddr([0x03, 0x4c, 0x32, 0, 0, 0x2a]));
        assert_eq!(
            discovery_mac(0xbeef),
            MacAddr([0x03, 0x4c, 0x32, 0, 0xbe, 0xef])
        );
        assert_eq!(fnv1a32(FNV1A32_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(FNV1A32_OFFSET, b"a"), 0xe40c_292c);
        let cases = [
            (0, "/chatter", "std_msgs/msg/String", [0xa1, 0x4c, 0x5d]),
            (42, "/chatter", "std_msgs/msg/String", [0xf4, 0x52, 0x07]),
            (
                7,
                "/camera/image",
                "sensor_msgs/msg/Image",
                [0x86, 0x35, 0x61],
            ),
            (0, "", "", [0xb0, 0xf7, 0xb7]),
            (65535, "/x", "T", [0x9e, 0x07, 0xf8]),
        ];
        for (domain, topic, ty, [x, y, z]) in cases {
            let m = topic_mac(domain, topic, ty);
            assert_eq!(m, MacAddr([0x03, 0x4c, 0x32, x, y, z]), "{topic}");
            assert!(m.is_multicast() && m.is_local() && m.is_l2net_multicast());
            assert_ne!(m.0[3] & 0x80, 0);
        }
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(topic_mac(0, "ab", "c"), topic_mac(0, "a", "bc"));
        assert!(!MacAddr([2, 0x4c, 0x32, 0, 0, 0]).is_l2net_multicast());
    }

    #[test]
    fn formats_and_classifies() {
        let m = MacAddr([0x03, 0x4c, 0x32, 0, 0, 7]);
        let mut buf = heapless::String::<17>::new();
        core::fmt::write(&mut buf, format_args!("{m}")).unwrap();
        assert_eq!(buf.as_str(), "03:4c:32:00:00:07");
        assert!(m.is_multicast() && m.is_local() && !m.is_broadcast());
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert!(MacAddr([2, 0, 0, 0, 0, 1]).is_unicast());
    }
}

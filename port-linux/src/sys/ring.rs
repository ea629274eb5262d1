//! `TPACKET_V3` rings.

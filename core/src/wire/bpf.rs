//! Classic BPF (cBPF) receive filters for l2net frames.
//!
//! [`l2net_filter`] writes a program that accepts a frame when
//!
//! * its EtherType is l2net's `0x88B5`, directly after the source MAC or behind one or two
//!   VLAN tags (TPID `0x8100` or `0x88A8` each), and
//! * its destination MAC is one of a given set (at most [`MAX_MACS`]),
//!
//! and returns 0 (drop) for everything else, including frames too short to hold the fields it
//! looks at. The program is the same on Linux (`SO_ATTACH_FILTER`, `struct sock_filter`) and on
//! the BSDs and macOS (`BIOCSETF`, `struct bpf_insn`): [`BpfInsn`] has their layout.
//!
//! With VLAN receive offload (Linux veth, most NICs) the kernel removes the outer tag before the
//! filter runs, so the filter sees the frame as untagged (or singly tagged); the untagged path
//! accepts it and the tag is reported to the port out of band
//! ([`RxMeta::stripped_vlan`](crate::link::RxMeta::stripped_vlan)).
//!
//! The program, for `n` addresses (`filter_len(n) = 13 + 4 n` instructions):
//!
//! ```text
//!  0  ldh [12]                 ; EtherType or first TPID
//!  1  jeq #0x88b5, mac, 0
//!  2  jeq #0x8100, 4, 0
//!  3  jeq #0x88a8, 4, drop
//!  4  ldh [16]                 ; behind one tag
//!  5  jeq #0x88b5, mac, 0
//!  6  jeq #0x8100, 8, 0
//!  7  jeq #0x88a8, 8, drop
//!  8  ldh [20]                 ; behind two tags
//!  9  jeq #0x88b5, mac, drop
//! 10  drop: ret #0
//! 11  mac: for each address a:b:c:d:e:f
//!       ld  [2]
//!       jeq #0xcccdddeeff..., 0, next     ; bytes 2-5
//!       ldh [0]
//!       jeq #0xaabb, accept, next         ; bytes 0-1
//!     ret #0
//!     accept: ret #accept_len
//! ```
//!
//! Conditional jumps in cBPF reach at most 255 instructions ahead, which bounds the address
//! set to [`MAX_MACS`] = 64.

use core::fmt;

use super::MacAddr;
use super::ethernet::ETHERTYPE_L2NET;
use super::vlan::{TPID_8021AD, TPID_8021Q};

/// One classic BPF instruction, laid out as Linux `struct sock_filter` and BSD
/// `struct bpf_insn` (8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(C)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if the condition is true.
    pub jt: u8,
    /// Jump offset if the condition is false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

const _: () = {
    assert!(core::mem::size_of::<BpfInsn>() == 8);
    assert!(core::mem::align_of::<BpfInsn>() == 4);
};

/// cBPF opcode parts (`linux/bpf_common.h`, `net/bpf.h`).
pub mod op {
    /// Load into the accumulator.
    pub const LD: u16 = 0x00;
    /// Jump.
    pub const JMP: u16 = 0x05;
    /// Return.
    pub const RET: u16 = 0x06;
    /// 32-bit load.
    pub const W: u16 = 0x00;
    /// 16-bit load.
    pub const H: u16 = 0x08;
    /// 8-bit load.
    pub const B: u16 = 0x10;
    /// Absolute offset addressing.
    pub const ABS: u16 = 0x20;
    /// Unconditional jump by `k`.
    pub const JA: u16 = 0x00;
    /// Jump if `A == k`.
    pub const JEQ: u16 = 0x10;
    /// Jump if `A > k`.
    pub const JGT: u16 = 0x20;
    /// Jump if `A & k != 0`.
    pub const JSET: u16 = 0x40;
    /// Operand is the constant `k`.
    pub const K: u16 = 0x00;
}

impl BpfInsn {
    /// A statement (load, return).
    pub const fn stmt(code: u16, k: u32) -> Self {
        BpfInsn {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A conditional jump.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        BpfInsn { code, jt, jf, k }
    }
}

/// Most destination addresses one [`l2net_filter`] program can match.
pub const MAX_MACS: usize = 64;

const ETHERTYPE_SECTION: usize = 11;

/// Instructions [`l2net_filter`] writes for `n_macs` addresses.
pub const fn filter_len(n_macs: usize) -> usize {
    ETHERTYPE_SECTION + 4 * n_macs + 2
}

/// Instructions [`l2net_filter_any_dst`] writes.
pub const FILTER_ANY_DST_LEN: usize = ETHERTYPE_SECTION + 1;

/// Why a filter could not be generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum BpfError {
    /// The address set is empty: the program would drop everything. Use
    /// [`l2net_filter_any_dst`] to accept every destination.
    NoMacs,
    /// More than [`MAX_MACS`] addresses.
    TooManyMacs {
        /// Addresses given.
        n: usize,
        /// The maximum.
        max: usize,
    },
    /// The output slice holds `len` instructions but the program needs `need`.
    BufferTooSmall {
        /// Output slice length.
        len: usize,
        /// Program length ([`filter_len`]).
        need: usize,
    },
    /// `accept_len` is 0, which would drop every frame.
    ZeroAcceptLen,
}

impl fmt::Display for BpfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BpfError::NoMacs => f.write_str("BPF filter needs at least one destination MAC"),
            BpfError::TooManyMacs { n, max } => {
                write!(
                    f,
                    "{n} destination MACs exceed the BPF filter's maximum of {max}"
                )
            }
            BpfError::BufferTooSmall { len, need } => write!(
                f,
                "BPF program needs {need} instructions, the buffer holds {len}"
            ),
            BpfError::ZeroAcceptLen => f.write_str("BPF accept length 0 would drop every frame"),
        }
    }
}

impl core::error::Error for BpfError {}

const LDH_ABS: u16 = op::LD | op::H | op::ABS;
const LDW_ABS: u16 = op::LD | op::W | op::ABS;
const JEQ_K: u16 = op::JMP | op::JEQ | op::K;
const RET_K: u16 = op::RET | op::K;

/// Write the EtherType section (instructions 0..11): l2net frames continue at instruction 11,
/// everything else returns 0.
fn ethertype_section(out: &mut [BpfInsn]) {
    let l2 = u32::from(ETHERTYPE_L2NET);
    let q = u32::from(TPID_8021Q);
    let ad = u32::from(TPID_8021AD);
    let prog = [
        BpfInsn::stmt(LDH_ABS, 12),
        BpfInsn::jump(JEQ_K, l2, 9, 0),
        BpfInsn::jump(JEQ_K, q, 1, 0),
        BpfInsn::jump(JEQ_K, ad, 0, 6),
        BpfInsn::stmt(LDH_ABS, 16),
        BpfInsn::jump(JEQ_K, l2, 5, 0),
        BpfInsn::jump(JEQ_K, q, 1, 0),
        BpfInsn::jump(JEQ_K, ad, 0, 2),
        BpfInsn::stmt(LDH_ABS, 20),
        BpfInsn::jump(JEQ_K, l2, 1, 0),
        BpfInsn::stmt(RET_K, 0),
    ];
    out[..ETHERTYPE_SECTION].copy_from_slice(&prog);
}

fn check_out(out: &[BpfInsn], need: usize, accept_len: u32) -> Result<(), BpfError> {
    if accept_len == 0 {
        return Err(BpfError::ZeroAcceptLen);
    }
    if out.len() < need {
        return Err(BpfError::BufferTooSmall {
            len: out.len(),
            need,
        });
    }
    Ok(())
}

/// Write a program that accepts l2net frames (untagged, or behind one or two 802.1Q/802.1ad
/// tags) addressed to one of `dst_macs`, returning `accept_len` for them (the number of bytes
/// the kernel keeps: pass the largest frame the port receives, or `u32::MAX`) and 0 for
/// everything else. Returns the program length ([`filter_len`]`(dst_macs.len())`); `out` may be
/// longer.
pub fn l2net_filter(
    dst_macs: &[MacAddr],
    accept_len: u32,
    out: &mut [BpfInsn],
) -> Result<usize, BpfError> {
    let n = dst_macs.len();
    if n == 0 {
        return Err(BpfError::NoMacs);
    }
    if n > MAX_MACS {
        return Err(BpfError::TooManyMacs { n, max: MAX_MACS });
    }
    let need = filter_len(n);
    check_out(out, need, accept_len)?;
    ethertype_section(out);
    for (i, mac) in dst_macs.iter().enumerate() {
        let [a, b, c, d, e, f] = mac.0;
        // From the last jeq of address i to `accept` at index 12 + 4n: 4 (n - i) - 3 <= 253.
        let to_accept = (4 * (n - i) - 3) as u8;
        let at = ETHERTYPE_SECTION + 4 * i;
        out[at..at + 4].copy_from_slice(&[
            BpfInsn::stmt(LDW_ABS, 2),
            BpfInsn::jump(JEQ_K, u32::from_be_bytes([c, d, e, f]), 0, 2),
            BpfInsn::stmt(LDH_ABS, 0),
            BpfInsn::jump(JEQ_K, u32::from(u16::from_be_bytes([a, b])), to_accept, 0),
        ]);
    }
    out[need - 2] = BpfInsn::stmt(RET_K, 0);
    out[need - 1] = BpfInsn::stmt(RET_K, accept_len);
    Ok(need)
}

/// Write a program that accepts every l2net frame (untagged, or behind one or two tags)
/// whatever its destination, for monitors and sniffers. Returns [`FILTER_ANY_DST_LEN`].
pub fn l2net_filter_any_dst(accept_len: u32, out: &mut [BpfInsn]) -> Result<usize, BpfError> {
    check_out(out, FILTER_ANY_DST_LEN, accept_len)?;
    ethertype_section(out);
    out[ETHERTYPE_SECTION] = BpfInsn::stmt(RET_K, accept_len);
    Ok(FILTER_ANY_DST_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vlan::TagStack;
    use crate::wire::{discovery_mac, topic_mac};

    /// A classic BPF interpreter for the instructions the generator uses, with the kernel's
    /// semantics: a load past the end of the packet returns 0 (drop). It also checks that the
    /// program is well formed: every jump lands inside it and every path ends in `ret`.
    fn run(prog: &[BpfInsn], pkt: &[u8]) -> u32 {
        let mut a: u32 = 0;
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps <= prog.len(), "program loops");
            let insn = *prog.get(pc).expect("pc ran off the end of the program");
            let k = insn.k as usize;
            let class = insn.code & 0x07;
            match class {
                op::LD => {
                    assert_eq!(insn.code & 0xe0, op::ABS, "only absolute loads");
                    let size = match insn.code & 0x18 {
                        op::W => 4,
                        op::H => 2,
                        op::B => 1,
                        other => panic!("bad load size {other:#x}"),
                    };
                    let Some(b) = k.checked_add(size).and_then(|end| pkt.get(k..end)) else {
                        return 0;
                    };
                    a = b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x));
                    pc += 1;
                }
                op::JMP => {
                    assert_eq!(insn.code & 0x08, op::K, "only constant operands");
                    let taken = match insn.code & 0xf0 {
                        op::JA => {
                            pc += 1 + k;
                            continue;
                        }
                        op::JEQ => a == insn.k,
                        op::JGT => a > insn.k,
                        op::JSET => a & insn.k != 0,
                        other => panic!("bad jump {other:#x}"),
                    };
                    pc += 1 + usize::from(if taken { insn.jt } else { insn.jf });
                }
                op::RET => {
                    assert_eq!(insn.code & 0x18, op::K, "only constant returns");
                    return insn.k;
                }
                other => panic!("unexpected class {other:#x}"),
            }
        }
    }

    #[test]
    fn interpreter_semantics() {
        let prog = [
            BpfInsn::stmt(op::LD | op::B | op::ABS, 0),
            BpfInsn::jump(op::JMP | op::JGT, 5, 0, 2),
            BpfInsn::jump(op::JMP | op::JSET, 0x80, 2, 0),
            BpfInsn::stmt(op::RET, 1),
            BpfInsn::stmt(op::RET, 2),
            BpfInsn::stmt(op::RET, 3),
        ];
        assert_eq!(run(&prog, &[]), 0);
        assert_eq!(run(&prog, &[6]), 1);
        assert_eq!(run(&prog, &[0x81]), 3);
        assert_eq!(run(&prog, &[5]), 2);
        let ja = [
            BpfInsn::stmt(op::JMP | op::JA, 1),
            BpfInsn::stmt(op::RET, 1),
            BpfInsn::stmt(op::RET, 2),
        ];
        assert_eq!(run(&ja, &[]), 2);
    }

    /// What the filter must decide, computed with the wire parsers.
    fn reference(pkt: &[u8], macs: Option<&[MacAddr]>) -> bool {
        if pkt.len() < 14 {
            return false;
        }
        let dst = MacAddr([pkt[0], pkt[1], pkt[2], pkt[3], pkt[4], pkt[5]]);
        match TagStack::parse(&pkt[12..]) {
            Ok((_, et, _)) if et == ETHERTYPE_L2NET => macs.is_none_or(|m| m.contains(&dst)),
            _ => false,
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn macs() -> [MacAddr; 4] {
        [
            discovery_mac(0),
            topic_mac(0, "/chatter", "std_msgs/msg/String"),
            MacAddr([0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc]),
            // Shares bytes 2-5 with the discovery MAC: the high half must decide.
            MacAddr([0x01, 0x00, 0x32, 0x00, 0x00, 0x00]),
        ]
    }

    /// Build a frame: dst, src, `tpids` (each followed by a TCI), final EtherType, payload.
    fn frame(dst: MacAddr, tpids: &[u16], ethertype: u16, buf: &mut [u8; 80]) -> usize {
        buf[..6].copy_from_slice(&dst.0);
        buf[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 9]);
        let mut at = 12;
        for &t in tpids {
            buf[at..at + 2].copy_from_slice(&t.to_be_bytes());
            buf[at + 2..at + 4].copy_from_slice(&0x2005u16.to_be_bytes());
            at += 4;
        }
        buf[at..at + 2].copy_from_slice(&ethertype.to_be_bytes());
        at + 2
    }

    #[test]
    fn structured_frames() {
        let set = macs();
        let mut prog = [BpfInsn::default(); filter_len(4)];
        assert_eq!(l2net_filter(&set, 0xffff, &mut prog), Ok(filter_len(4)));
        let mut any = [BpfInsn::default(); FILTER_ANY_DST_LEN];
        assert_eq!(l2net_filter_any_dst(1514, &mut any), Ok(FILTER_ANY_DST_LEN));

        let other_mac = MacAddr([0x03, 0x4c, 0x32, 0x00, 0x00, 0x01]);
        let q = TPID_8021Q;
        let ad = TPID_8021AD;
        let stacks: [&[u16]; 7] = [&[], &[q], &[ad], &[ad, q], &[q, q], &[ad, ad], &[ad, q, q]];
        let mut checked = 0;
        for dst in set.iter().copied().chain([other_mac, MacAddr::BROADCAST]) {
            for tpids in stacks {
                for et in [ETHERTYPE_L2NET, 0x0800, 0x86dd, q] {
                    let mut buf = [0u8; 80];
                    let len = frame(dst, tpids, et, &mut buf);
                    let want = tpids.len() <= 2 && et == ETHERTYPE_L2NET;
                    for cut in [len - 1, len, len + 4, 60, 80] {
                        let pkt = &buf[..cut];
                        let full = cut >= len;
                        let accept = want && full && set.contains(&dst);
                        assert_eq!(
                            run(&prog, pkt) != 0,
                            accept,
                            "{dst} {tpids:x?} {et:#x} {cut}"
                        );
                        assert_eq!(run(&any, pkt) != 0, want && full);
                        assert_eq!(accept, reference(pkt, Some(&set)));
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 500);
        // The accept value is the caller's.
        let mut buf = [0u8; 80];
        let len = frame(set[1], &[], ETHERTYPE_L2NET, &mut buf);
        assert_eq!(run(&prog, &buf[..len]), 0xffff);
        assert_eq!(run(&any, &buf[..len]), 1514);
        // Frames too short for the fields the filter reads are dropped.
        for len in 0..14 {
            assert_eq!(run(&prog, &buf[..len]), 0);
            assert_eq!(run(&any, &buf[..len]), 0);
        }
    }

    #[test]
    fn random_frames_match_the_parser() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let set = macs();
        for n in [1usize, 2, 4, MAX_MACS] {
            let mut many = [MacAddr::ZERO; MAX_MACS];
            for (i, m) in many.iter_mut().enumerate() {
                *m = set
                    .get(i)
                    .copied()
                    .unwrap_or_else(|| topic_mac(i as u16, "/t", "T"));
            }
            let chosen = &many[..n];
            let mut prog = [BpfInsn::default(); filter_len(MAX_MACS)];
            let len = l2net_filter(chosen, u32::MAX, &mut prog).unwrap();
            for _ in 0..4000 {
                let mut buf = [0u8; 80];
                let tags = rng.below(4) as usize;
                let tpids = [TPID_8021AD, TPID_8021Q, TPID_8021Q];
                let et = match rng.below(4) {
                    0 => 0x0800,
                    _ => ETHERTYPE_L2NET,
                };
                let dst = match rng.below(3) {
                    0 => MacAddr([rng.next() as u8 | 1, 0x4c, 0x32, 0, 0, rng.below(3) as u8]),
                    _ => chosen[rng.below(n as u64) as usize],
                };
                let flen = frame(dst, &tpids[..tags], et, &mut buf);
                // Random corruption of one byte now and then.
                if rng.below(8) == 0 {
                    let at = rng.below(flen as u64) as usize;
                    buf[at] = rng.next() as u8;
                }
                let cut = match rng.below(4) {
                    0 => rng.below(flen as u64 + 1) as usize,
                    _ => flen + rng.below((80 - flen) as u64 + 1) as usize,
                };
                let pkt = &buf[..cut];
                assert_eq!(
                    run(&prog[..len], pkt) != 0,
                    reference(pkt, Some(chosen)),
                    "{pkt:x?}"
                );
            }
        }
    }

    #[test]
    fn every_address_of_a_full_set_is_reachable() {
        let mut set = [MacAddr::ZERO; MAX_MACS];
        for (i, m) in set.iter_mut().enumerate() {
            *m = topic_mac(i as u16, "/t", "T");
        }
        let mut prog = [BpfInsn::default(); filter_len(MAX_MACS)];
        let len = l2net_filter(&set, 100, &mut prog).unwrap();
        assert_eq!(len, 13 + 4 * MAX_MACS);
        for m in set {
            let mut buf = [0u8; 80];
            let flen = frame(m, &[TPID_8021AD, TPID_8021Q], ETHERTYPE_L2NET, &mut buf);
            assert_eq!(run(&prog, &buf[..flen]), 100);
        }
        let mut buf = [0u8; 80];
        let flen = frame(discovery_mac(9), &[], ETHERTYPE_L2NET, &mut buf);
        assert_eq!(run(&prog, &buf[..flen]), 0);
    }

    #[test]
    fn argument_errors() {
        let mut out = [BpfInsn::default(); 400];
        assert_eq!(l2net_filter(&[], 1, &mut out), Err(BpfError::NoMacs));
        let too_many = [MacAddr::BROADCAST; MAX_MACS + 1];
        assert_eq!(
            l2net_filter(&too_many, 1, &mut out),
            Err(BpfError::TooManyMacs { n: 65, max: 64 })
        );
        assert_eq!(
            l2net_filter(&[MacAddr::BROADCAST], 0, &mut out),
            Err(BpfError::ZeroAcceptLen)
        );
        assert_eq!(
            l2net_filter(&[MacAddr::BROADCAST], 1, &mut out[..16]),
            Err(BpfError::BufferTooSmall { len: 16, need: 17 })
        );
        assert_eq!(
            l2net_filter_any_dst(1, &mut out[..11]),
            Err(BpfError::BufferTooSmall { len: 11, need: 12 })
        );
        assert_eq!(
            l2net_filter_any_dst(0, &mut out),
            Err(BpfError::ZeroAcceptLen)
        );
    }
}

//! ioctl request numbers of the BSD family, computed the way `<sys/ioccom.h>` does.
//!
//! macOS, FreeBSD, NetBSD and OpenBSD share the 4.4BSD encoding: the top three bits say whether
//! the kernel copies the argument in ([`IOC_IN`]), out ([`IOC_OUT`]) or not at all
//! ([`IOC_VOID`]); 13 bits ([`IOCPARM_MASK`]) hold the argument's size; then the group letter and
//! the command number. The numbers differ between the systems only through the command numbers and
//! the argument sizes (`struct ifreq` is 144 bytes on NetBSD, 32 elsewhere; `struct bpf_stat` is
//! 128 bytes on NetBSD), so every system's table is built here from the header's `_IOW('B', 108,
//! struct ifreq)`-style definitions and the sizes, and checked in the tests against the numbers
//! the systems' headers produce.
//!
//! Plain functions and data: compiled and tested on every host, used by the link only on the BSDs.

/// The argument is copied out to user space (`_IOR`).
pub const IOC_OUT: u32 = 0x4000_0000;
/// The argument is copied in from user space (`_IOW`).
pub const IOC_IN: u32 = 0x8000_0000;
/// Both directions (`_IOWR`).
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;
/// No argument (`_IO`).
pub const IOC_VOID: u32 = 0x2000_0000;
/// Mask of the argument-size field (13 bits, at bit 16).
pub const IOCPARM_MASK: u32 = 0x1fff;

/// `_IOC(inout, group, num, len)`.
pub const fn ioc(inout: u32, group: u8, num: u8, len: usize) -> u32 {
    // The C macro masks the length the same way; sizes here are all far below 8 KiB.
    inout | (((len as u32) & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32
}

/// `_IO(group, num)`: no argument.
pub const fn io(group: u8, num: u8) -> u32 {
    ioc(IOC_VOID, group, num, 0)
}

/// `_IOR(group, num, type)`: the kernel writes `len` bytes.
pub const fn ior(group: u8, num: u8, len: usize) -> u32 {
    ioc(IOC_OUT, group, num, len)
}

/// `_IOW(group, num, type)`: the kernel reads `len` bytes.
pub const fn iow(group: u8, num: u8, len: usize) -> u32 {
    ioc(IOC_IN, group, num, len)
}

/// `_IOWR(group, num, type)`: both.
pub const fn iowr(group: u8, num: u8, len: usize) -> u32 {
    ioc(IOC_INOUT, group, num, len)
}

/// The argument size encoded in a request number (`IOCPARM_LEN`).
pub const fn ioc_len(request: u32) -> usize {
    ((request >> 16) & IOCPARM_MASK) as usize
}

/// Which member of the BSD family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Os {
    /// macOS (XNU).
    MacOs,
    /// FreeBSD.
    FreeBsd,
    /// NetBSD.
    NetBsd,
    /// OpenBSD.
    OpenBsd,
}

impl Os {
    /// The system this crate is compiled for, if it is one of the four.
    pub const NATIVE: Option<Os> = if cfg!(target_os = "macos") {
        Some(Os::MacOs)
    } else if cfg!(target_os = "freebsd") {
        Some(Os::FreeBsd)
    } else if cfg!(target_os = "netbsd") {
        Some(Os::NetBsd)
    } else if cfg!(target_os = "openbsd") {
        Some(Os::OpenBsd)
    } else {
        None
    };
}

/// Sizes of the structures whose size is part of a request number, for one system and ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbiSizes {
    /// `sizeof(struct ifreq)`: 32 (name + 16-byte union), 144 on NetBSD (the union holds a
    /// `sockaddr_storage`).
    pub ifreq: usize,
    /// `sizeof(struct bpf_program)`: `u_int` + pointer, 16 on LP64, 8 on ILP32.
    pub bpf_program: usize,
    /// `sizeof(struct bpf_stat)`: two `u_int`s (8), 128 on NetBSD (sixteen `uint64_t`s).
    pub bpf_stat: usize,
}

impl AbiSizes {
    /// The sizes for `os` with pointers of `pointer_width` bytes.
    pub const fn of(os: Os, pointer_width: usize) -> AbiSizes {
        // bpf_program is { u_int; pointer }: 4 bytes padded to the pointer's alignment + pointer.
        let bpf_program = if pointer_width == 8 { 16 } else { 8 };
        match os {
            Os::NetBsd => AbiSizes {
                ifreq: 16 + 128,
                bpf_program,
                bpf_stat: 16 * 8,
            },
            Os::MacOs | Os::FreeBsd | Os::OpenBsd => AbiSizes {
                ifreq: 16 + 16,
                bpf_program,
                bpf_stat: 8,
            },
        }
    }
}

/// How to stop seeing our own transmitted frames on the descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectionIoctl {
    /// The request number.
    pub request: u32,
    /// The argument: `BPF_D_IN` (0) for `BIOCSDIRECTION`/`BIOCSSEESENT`, `BPF_DIRECTION_OUT`
    /// (2, "drop outgoing") for OpenBSD's `BIOCSDIRFILT`.
    pub value: u32,
    /// The request's name, for error messages.
    pub name: &'static str,
}

/// Every request number the link uses, for one system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    /// `BIOCGBLEN`: read the buffer size.
    pub biocgblen: u32,
    /// `BIOCSBLEN`: ask for a buffer size (before `BIOCSETIF`).
    pub biocsblen: u32,
    /// `BIOCSETF`: install a read filter (resets the capture buffer).
    pub biocsetf: u32,
    /// `BIOCSETFNR`: install a read filter without resetting the buffer (FreeBSD, macOS).
    pub biocsetfnr: Option<u32>,
    /// `BIOCFLUSH`.
    pub biocflush: u32,
    /// `BIOCPROMISC`.
    pub biocpromisc: u32,
    /// `BIOCGDLT`: the interface's data-link type.
    pub biocgdlt: u32,
    /// `BIOCSETIF`: attach to an interface.
    pub biocsetif: u32,
    /// `BIOCGSTATS`: received and dropped counters.
    pub biocgstats: u32,
    /// `BIOCIMMEDIATE`: return from `read` as soon as a frame is there.
    pub biocimmediate: u32,
    /// `BIOCSHDRCMPLT`: the written frames carry their own source MAC.
    pub biocshdrcmplt: u32,
    /// Do not capture our own transmissions.
    pub direction: DirectionIoctl,
    /// `BIOCSTSTAMP`: timestamp format (FreeBSD).
    pub biocststamp: Option<u32>,
    /// `SIOCADDMULTI`: join a link-layer multicast group.
    pub siocaddmulti: u32,
    /// `SIOCDELMULTI`: leave it.
    pub siocdelmulti: u32,
    /// `SIOCGIFMTU`: the interface MTU.
    pub siocgifmtu: u32,
}

/// `BPF_D_IN` (FreeBSD, NetBSD; and "see sent = 0" on macOS): capture incoming frames only.
pub const BPF_D_IN: u32 = 0;
/// OpenBSD's `BPF_DIRECTION_OUT`: the direction `BIOCSDIRFILT` filters away.
pub const BPF_DIRECTION_OUT: u32 = 1 << 1;
/// FreeBSD `BPF_T_NANOTIME`: `struct bpf_xhdr` with nanoseconds in `bt_frac`, wall clock.
pub const BPF_T_NANOTIME: u32 = 0x0001;
/// `DLT_EN10MB`: Ethernet.
pub const DLT_EN10MB: u32 = 1;

impl Requests {
    /// The request numbers of `os` with the structure sizes `sizes`.
    pub const fn of(os: Os, sizes: AbiSizes) -> Requests {
        const U_INT: usize = 4;
        let b = b'B';
        let i = b'i';
        // Numbers common to all four (4.4BSD's bpf.h).
        let biocgblen = ior(b, 102, U_INT);
        let biocsblen = iowr(b, 102, U_INT);
        let biocsetf = iow(b, 103, sizes.bpf_program);
        let biocflush = io(b, 104);
        let biocpromisc = io(b, 105);
        let biocgdlt = ior(b, 106, U_INT);
        let biocsetif = iow(b, 108, sizes.ifreq);
        let biocgstats = ior(b, 111, sizes.bpf_stat);
        let biocimmediate = iow(b, 112, U_INT);
        let biocshdrcmplt = iow(b, 117, U_INT);
        let siocaddmulti = iow(i, 49, sizes.ifreq);
        let siocdelmulti = iow(i, 50, sizes.ifreq);
        let (biocsetfnr, direction, biocststamp, siocgifmtu) = match os {
            Os::MacOs => (
                Some(iow(b, 126, sizes.bpf_program)),
                DirectionIoctl {
                    request: iow(b, 119, U_INT),
                    value: BPF_D_IN,
                    name: "BIOCSSEESENT",
                },
                None,
                iowr(i, 51, sizes.ifreq),
            ),
            Os::FreeBsd => (
                Some(iow(b, 130, sizes.bpf_program)),
                DirectionIoctl {
                    request: iow(b, 119, U_INT),
                    value: BPF_D_IN,
                    name: "BIOCSDIRECTION",
                },
                Some(iow(b, 132, U_INT)),
                iowr(i, 51, sizes.ifreq),
            ),
            Os::NetBsd => (
                None,
                DirectionIoctl {
                    request: iow(b, 121, U_INT),
                    value: BPF_D_IN,
                    name: "BIOCSDIRECTION",
                },
                None,
                iowr(i, 126, sizes.ifreq),
            ),
            Os::OpenBsd => (
                None,
                DirectionIoctl {
                    request: iow(b, 125, U_INT),
                    value: BPF_DIRECTION_OUT,
                    name: "BIOCSDIRFILT",
                },
                None,
                iowr(i, 126, sizes.ifreq),
            ),
        };
        Requests {
            biocgblen,
            biocsblen,
            biocsetf,
            biocsetfnr,
            biocflush,
            biocpromisc,
            biocgdlt,
            biocsetif,
            biocgstats,
            biocimmediate,
            biocshdrcmplt,
            direction,
            biocststamp,
            siocaddmulti,
            siocdelmulti,
            siocgifmtu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LP64: usize = 8;

    // The expected numbers below are what the systems' own headers produce on amd64/arm64, as
    // published in their headers and in golang.org/x/sys/unix's generated zerrors_*_amd64.go
    // and the libc crate: FreeBSD sys/net/bpf.h + sys/sys/sockio.h, apple-oss-distributions/xnu
    // bsd/net/bpf.h + bsd/sys/sockio.h, NetBSD sys/net/bpf.h + sys/sys/sockio.h, OpenBSD
    // sys/net/bpf.h + sys/sys/sockio.h.

    #[test]
    fn encoding_primitives() {
        assert_eq!(io(b'B', 104), 0x2000_4268); // BIOCFLUSH everywhere
        assert_eq!(ior(b'B', 102, 4), 0x4004_4266); // BIOCGBLEN
        assert_eq!(iowr(b'B', 102, 4), 0xc004_4266); // BIOCSBLEN
        assert_eq!(iow(b'B', 108, 32), 0x8020_426c); // BIOCSETIF (32-byte ifreq)
        assert_eq!(ioc_len(0x8090_426c), 144);
        // The size field is 13 bits wide, as IOCPARM_MASK says.
        assert_eq!(
            ioc(IOC_IN, b'x', 1, 0x2000),
            IOC_IN | (u32::from(b'x') << 8) | 1
        );
    }

    #[test]
    fn freebsd_amd64() {
        let r = Requests::of(Os::FreeBsd, AbiSizes::of(Os::FreeBsd, LP64));
        assert_eq!(r.biocgblen, 0x4004_4266);
        assert_eq!(r.biocsblen, 0xc004_4266);
        assert_eq!(r.biocsetf, 0x8010_4267);
        assert_eq!(r.biocsetfnr, Some(0x8010_4282));
        assert_eq!(r.biocflush, 0x2000_4268);
        assert_eq!(r.biocpromisc, 0x2000_4269);
        assert_eq!(r.biocgdlt, 0x4004_426a);
        assert_eq!(r.biocsetif, 0x8020_426c);
        assert_eq!(r.biocgstats, 0x4008_426f);
        assert_eq!(r.biocimmediate, 0x8004_4270);
        assert_eq!(r.biocshdrcmplt, 0x8004_4275);
        assert_eq!(r.direction.request, 0x8004_4277); // BIOCSDIRECTION == BIOCSSEESENT
        assert_eq!(r.direction.value, 0); // BPF_D_IN
        assert_eq!(r.biocststamp, Some(0x8004_4284));
        assert_eq!(r.siocaddmulti, 0x8020_6931);
        assert_eq!(r.siocdelmulti, 0x8020_6932);
        assert_eq!(r.siocgifmtu, 0xc020_6933);
    }

    #[test]
    fn macos_arm64_and_x86_64() {
        let r = Requests::of(Os::MacOs, AbiSizes::of(Os::MacOs, LP64));
        assert_eq!(r.biocgblen, 0x4004_4266);
        assert_eq!(r.biocsblen, 0xc004_4266);
        assert_eq!(r.biocsetf, 0x8010_4267);
        assert_eq!(r.biocsetfnr, Some(0x8010_427e));
        assert_eq!(r.biocgdlt, 0x4004_426a);
        assert_eq!(r.biocsetif, 0x8020_426c);
        assert_eq!(r.biocgstats, 0x4008_426f);
        assert_eq!(r.biocimmediate, 0x8004_4270);
        assert_eq!(r.biocshdrcmplt, 0x8004_4275);
        assert_eq!(r.direction.request, 0x8004_4277); // BIOCSSEESENT
        assert_eq!(r.direction.value, 0);
        assert_eq!(r.biocststamp, None);
        assert_eq!(r.siocaddmulti, 0x8020_6931);
        assert_eq!(r.siocdelmulti, 0x8020_6932);
        assert_eq!(r.siocgifmtu, 0xc020_6933);
    }

    #[test]
    fn netbsd_amd64() {
        let r = Requests::of(Os::NetBsd, AbiSizes::of(Os::NetBsd, LP64));
        assert_eq!(r.biocgblen, 0x4004_4266);
        assert_eq!(r.biocsblen, 0xc004_4266);
        assert_eq!(r.biocsetf, 0x8010_4267);
        assert_eq!(r.biocsetfnr, None);
        assert_eq!(r.biocflush, 0x2000_4268);
        assert_eq!(r.biocpromisc, 0x2000_4269);
        assert_eq!(r.biocgdlt, 0x4004_426a);
        assert_eq!(r.biocsetif, 0x8090_426c); // 144-byte ifreq
        assert_eq!(r.biocgstats, 0x4080_426f); // 128-byte bpf_stat
        assert_eq!(r.biocimmediate, 0x8004_4270);
        assert_eq!(r.biocshdrcmplt, 0x8004_4275);
        assert_eq!(r.direction.request, 0x8004_4279); // BIOCSDIRECTION == BIOCSSEESENT
        assert_eq!(r.direction.value, 0);
        assert_eq!(r.biocststamp, None);
        assert_eq!(r.siocaddmulti, 0x8090_6931);
        assert_eq!(r.siocdelmulti, 0x8090_6932);
        assert_eq!(r.siocgifmtu, 0xc090_697e);
    }

    #[test]
    fn openbsd_amd64() {
        let r = Requests::of(Os::OpenBsd, AbiSizes::of(Os::OpenBsd, LP64));
        assert_eq!(r.biocgblen, 0x4004_4266);
        assert_eq!(r.biocsblen, 0xc004_4266);
        assert_eq!(r.biocsetf, 0x8010_4267);
        assert_eq!(r.biocsetfnr, None);
        assert_eq!(r.biocflush, 0x2000_4268);
        assert_eq!(r.biocpromisc, 0x2000_4269);
        assert_eq!(r.biocgdlt, 0x4004_426a);
        assert_eq!(r.biocsetif, 0x8020_426c);
        assert_eq!(r.biocgstats, 0x4008_426f);
        assert_eq!(r.biocimmediate, 0x8004_4270);
        assert_eq!(r.biocshdrcmplt, 0x8004_4275);
        assert_eq!(r.direction.request, 0x8004_427d); // BIOCSDIRFILT
        assert_eq!(r.direction.value, 2); // BPF_DIRECTION_OUT
        assert_eq!(r.biocststamp, None);
        assert_eq!(r.siocaddmulti, 0x8020_6931);
        assert_eq!(r.siocdelmulti, 0x8020_6932);
        assert_eq!(r.siocgifmtu, 0xc020_697e);
    }

    #[test]
    fn ilp32_program_size() {
        // A 32-bit process: struct bpf_program is 8 bytes (FreeBSD i386's BIOCSETF 0x80084267,
        // as in the libc crate's freebsdlike tables).
        let r = Requests::of(Os::FreeBsd, AbiSizes::of(Os::FreeBsd, 4));
        assert_eq!(r.biocsetf, 0x8008_4267);
        assert_eq!(r.biocsetfnr, Some(0x8008_4282));
    }
}

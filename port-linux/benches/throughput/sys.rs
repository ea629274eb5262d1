//! Every system call of the benchmark that the library does not offer, and so its only
//! `unsafe` code: per-thread CPU time, CPU pinning, the two `SIOCETHTOOL` feature switches
//! (TSO, GRO) and a private sysfs mount for a namespace's `/sys/class/net`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `ETHTOOL_GTSO` / `ETHTOOL_STSO` (`linux/ethtool.h`): TCP segmentation offload.
pub const ETHTOOL_GTSO: u32 = 0x0000_001e;
/// Set TSO.
pub const ETHTOOL_STSO: u32 = 0x0000_001f;
/// `ETHTOOL_GGRO` / `ETHTOOL_SGRO`: generic receive offload (on veth it also switches the
/// receive side to NAPI, which threaded NAPI needs).
pub const ETHTOOL_GGRO: u32 = 0x0000_002b;
/// Set GRO.
pub const ETHTOOL_SGRO: u32 = 0x0000_002c;

/// CPU time of the calling thread so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// User time, nanoseconds.
    pub user_ns: u64,
    /// System time (system calls and the softirq work done in them), nanoseconds.
    pub sys_ns: u64,
}

impl CpuTime {
    /// Both together.
    pub fn total(self) -> u64 {
        self.user_ns + self.sys_ns
    }

    /// Time spent between `earlier` and `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user_ns: self.user_ns.saturating_sub(earlier.user_ns),
            sys_ns: self.sys_ns.saturating_sub(earlier.sys_ns),
        }
    }
}

fn timeval_ns(tv: libc::timeval) -> u64 {
    (tv.tv_sec as u64) * 1_000_000_000 + (tv.tv_usec as u64) * 1_000
}

/// `getrusage(RUSAGE_THREAD)`: user and system time of the calling thread. The kernel splits
/// the thread's exact run time (`sum_exec_runtime`) into the two, so their sum is exact to the
/// microsecond even with tick-based accounting.
pub fn thread_cpu() -> io::Result<CpuTime> {
    // SAFETY: `rusage` is a plain C struct of integers and timevals; all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, exclusively borrowed `rusage` that outlives the call, which only
    // writes into it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(CpuTime {
        user_ns: timeval_ns(ru.ru_utime),
        sys_ns: timeval_ns(ru.ru_stime),
    })
}

/// Pin the calling thread to CPU `cpu`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `cpu_set_t` is a bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` was checked against CPU_SETSIZE, so the bit lies inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size passed, only
    // read by the call.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Pin thread or process `pid` (for example a kernel thread) to CPU `cpu`.
pub fn pin_pid_to_cpu(pid: u32, cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize || pid == 0 || pid > i32::MAX as u32 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `cpu_set_t` is a bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` was checked against CPU_SETSIZE, so the bit lies inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed, only read by the call; `pid` is a
    // positive id (a wrong one fails with ESRCH).
    let rc =
        unsafe { libc::sched_setaffinity(pid as libc::pid_t, size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: ifreq is a plain C struct (a name array and a union of integers, sockaddrs and a
    // pointer) for which all-zero bytes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(req)
}

/// One `SIOCETHTOOL` command with a `struct ethtool_value` on interface `name`, through a
/// socket `fd` in the interface's namespace; returns the value the kernel left in `data`.
pub fn ethtool_value(fd: BorrowedFd<'_>, name: &str, cmd: u32, data: u32) -> io::Result<u32> {
    let mut value = EthtoolValue { cmd, data };
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_data = (&raw mut value).cast();
    // SAFETY: `req` holds a NUL-terminated name and points at `value`, which lives for the
    // call; the commands used (G/S TSO, G/S GRO) read and write exactly one ethtool_value.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCETHTOOL, &raw mut req) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value.data)
}

fn cvt(rc: libc::c_int, op: &str) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{op}: {e}")))
    }
}

/// Give the calling thread its own mount namespace with a fresh sysfs on `/sys`, so that
/// `/sys/class/net` lists the devices of the thread's network namespace (what `ip netns exec`
/// does). Only for a thread that ends soon after: its mounts vanish with it. Needs
/// `CAP_SYS_ADMIN`.
pub fn private_sysfs() -> io::Result<()> {
    const ROOT: &CStr = c"/";
    const SYS: &CStr = c"/sys";
    const SYSFS: &CStr = c"sysfs";
    // SAFETY: unshare takes no pointers. CLONE_NEWNS (which implies CLONE_FS) is allowed in a
    // thread of a multi-threaded process and affects only this thread.
    cvt(
        unsafe { libc::unshare(libc::CLONE_NEWNS) },
        "unshare(CLONE_NEWNS)",
    )?;
    // SAFETY: all pointers are NUL-terminated constants or null where the call allows null;
    // MS_SLAVE|MS_REC keeps our mounts from propagating back to the host.
    cvt(
        unsafe {
            libc::mount(
                std::ptr::null(),
                ROOT.as_ptr(),
                std::ptr::null(),
                libc::MS_SLAVE | libc::MS_REC,
                std::ptr::null(),
            )
        },
        "mount --make-rslave /",
    )?;
    // SAFETY: `SYS` is a NUL-terminated constant. A failure (nothing mounted) is harmless.
    unsafe { libc::umount2(SYS.as_ptr(), libc::MNT_DETACH) };
    // SAFETY: NUL-terminated constants; sysfs takes no data.
    cvt(
        unsafe {
            libc::mount(
                SYSFS.as_ptr(),
                SYS.as_ptr(),
                SYSFS.as_ptr(),
                0,
                std::ptr::null(),
            )
        },
        "mount sysfs /sys",
    )
}

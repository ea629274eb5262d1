//! The firmware's `unsafe`: claiming the LAN9118's register window once.

use core::sync::atomic::{AtomicBool, Ordering};

use l2net_embedded::lan9118::MPS2_BASE;
use l2net_embedded::lan9118::mmio::Mmio;

static LAN9118_TAKEN: AtomicBool = AtomicBool::new(false);

/// The LAN9118's registers, the first time; `None` afterwards, so that only one driver ever
/// owns the FIFOs.
pub(crate) fn take_lan9118() -> Option<Mmio> {
    if LAN9118_TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: MPS2_BASE is the LAN9118's register window on MPS2 AN385/AN386 boards (and QEMU's
    // models of them), mapped as device memory; the flag above hands it out once, so no other
    // owner interleaves FIFO accesses.
    Some(unsafe { Mmio::new(MPS2_BASE) })
}

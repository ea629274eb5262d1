//! One bounded round of a participant over any [`RawLink`].

use super::participant::{LinkOp, Participant};
use crate::link::{LinkError, RawLink, RxFrame, TxToken};
use crate::time::Instant;

/// Most frames received in one [`drive`] round (the link's burst size, at least this many).
pub const RX_BURST: usize = 64;
/// Most frames sent in one [`drive`] round.
pub const TX_BURST: usize = 64;

/// What one [`drive`] round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriveReport {
    /// Frames received and handed to the participant.
    pub received: usize,
    /// Frames queued on the link.
    pub sent: usize,
    /// Frames the link refused for good (counted in the participant's `tx_errors` as well).
    pub refused: usize,
    /// The link had no room for the next frame (backpressure): drive again soon.
    pub tx_blocked: bool,
    /// More frames were waiting when the receive burst ended.
    pub rx_more: bool,
    /// More frames were due when the transmit burst ended.
    pub tx_more: bool,
    /// The first multicast group change the link failed to apply (retried next round).
    pub link_op_error: Option<LinkError>,
}

/// Run one bounded round: apply multicast group changes, receive up to [`RX_BURST`] frames,
/// transmit up to [`TX_BURST`] frames, flush once. Link errors that end the round (the link is
/// down or gone) are returned; the participant's state stays consistent and the next round
/// continues where this one stopped.
pub fn drive<
    L: RawLink,
    const P: usize,
    const E: usize,
    const W: usize,
    const R: usize,
    const H: usize,
    const M: usize,
    const F: usize,
    const Q: usize,
>(
    p: &mut Participant<'_, P, E, W, R, H, M, F, Q>,
    link: &mut L,
    now: Instant,
) -> Result<DriveReport, LinkError> {
    let mut report = DriveReport::default();
    while let Some(op) = p.poll_link_op() {
        let res = match op {
            LinkOp::Join(mac) => link.join_multicast(mac),
            LinkOp::Leave(mac) => link.leave_multicast(mac),
        };
        if let Err(e) = res {
            p.link_op_failed(op);
            report.link_op_error.get_or_insert(e);
            break;
        }
    }
    let rx_burst = RX_BURST.max(link.capabilities().max_burst);
    for _ in 0..rx_burst {
        match link.receive(now)? {
            Some(frame) => {
                p.handle_frame(frame.data(), frame.meta(), now);
                report.received += 1;
            }
            None => break,
        }
        if report.received == rx_burst {
            report.rx_more = true;
        }
    }
    p.handle_timeout(now);
    while report.sent + report.refused < TX_BURST {
        let Some(len) = p.poll_transmit(now) else {
            break;
        };
        let fatal = match link.transmit(now, len) {
            Ok(Some(token)) => {
                token.consume(|buf| p.write_transmit(buf)).ok();
                report.sent += 1;
                None
            }
            Ok(None) => {
                report.tx_blocked = true;
                break;
            }
            Err(LinkError::TooLarge { .. } | LinkError::TooShort { .. }) => {
                p.abandon_transmit();
                report.refused += 1;
                None
            }
            Err(e) => Some(e),
        };
        if let Some(e) = fatal {
            // Whatever was queued before the failure still goes out if it can.
            let _ = link.flush(now);
            return Err(e);
        }
    }
    if report.sent + report.refused >= TX_BURST && p.poll_transmit(now).is_some() {
        report.tx_more = true;
    }
    link.flush(now)?;
    Ok(report)
}

//! The LAN9118 driver against the register-level model in `mock.rs`.

use std::vec::Vec;

use embassy_net_driver::{Driver, LinkState, RxToken as _, TxToken as _};
use l2net_core::{LinkError, MacAddr};

use super::mock::MockChip;
use super::regs::*;
use super::*;
use crate::nic::noop_context;

const OUR_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0xAA, 0xBB, 0xCC]);

fn up(chip: &mut MockChip) -> Lan9118<&mut MockChip> {
    Lan9118::new(chip, Config::default().with_mac(OUR_MAC)).expect("bring-up")
}

fn frame(dst: [u8; 6], ethertype: u16, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&[0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend((0..len - 14).map(|i| i as u8));
    f
}

fn receive_one(nic: &mut Lan9118<&mut MockChip>) -> Option<Vec<u8>> {
    let mut cx = noop_context();
    let (rx, _tx) = nic.receive(&mut cx)?;
    Some(rx.consume(|buf| buf.to_vec()))
}

#[test]
fn bring_up_programs_mac_phy_and_mac_cr() {
    let mut chip = MockChip::new();
    let nic = up(&mut chip);
    assert_eq!(nic.mac(), OUR_MAC);
    assert_eq!(nic.chip_id() >> 16, 0x0118);
    assert_eq!(chip.resets, 1, "one soft reset");
    assert_eq!(
        chip.mac, OUR_MAC.0,
        "ADDRH/ADDRL programmed through the MAC CSRs"
    );
    assert_eq!(chip.phy_resets, 1, "PHY reset through MII");
    assert_eq!(chip.phy_anar, PHY_ANAR_DEFAULT);
    assert_ne!(chip.phy_bcr & PHY_BCR_ANEN, 0, "auto-negotiation on");
    assert_ne!(chip.mac_cr & MAC_CR_TXEN, 0);
    assert_ne!(chip.mac_cr & MAC_CR_RXEN, 0);
    assert_eq!(chip.mac_cr & MAC_CR_PRMS, 0, "not promiscuous");
    assert_ne!(
        chip.mac_cr & MAC_CR_FDPX,
        0,
        "full duplex negotiated with the partner"
    );
    assert_eq!(chip.tx_cfg, TX_CFG_TX_ON | TX_CFG_TXSAO);
    assert_eq!(chip.hw_cfg & HW_CFG_MBO, HW_CFG_MBO);
}

#[test]
fn bring_up_keeps_eeprom_mac_when_none_given() {
    let mut chip = MockChip::new();
    let nic = Lan9118::<_>::new(&mut chip, Config::default()).unwrap();
    assert_eq!(nic.mac(), MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
}

#[test]
fn bring_up_errors() {
    let mut chip = MockChip::new();
    chip.byte_test = 0x2143_6587;
    assert_eq!(
        Lan9118::<_>::new(&mut chip, Config::default()).err(),
        Some(Error::BusCheck { read: 0x2143_6587 })
    );

    let mut chip = MockChip::new();
    chip.stuck_in_reset = true;
    assert_eq!(
        Lan9118::<_>::new(&mut chip, Config::default()).err(),
        Some(Error::ResetTimeout)
    );

    let mut chip = MockChip::new();
    chip.eeprom_mac = [0; 6];
    assert_eq!(
        Lan9118::<_>::new(&mut chip, Config::default()).err(),
        Some(Error::NoMacAddress)
    );

    let mut chip = MockChip::new();
    let multicast = Config::default().with_mac(MacAddr([0x01, 0, 0x5E, 0, 0, 1]));
    assert_eq!(
        Lan9118::<_>::new(&mut chip, multicast).err(),
        Some(Error::BadMacAddress)
    );
}

#[test]
fn mac_csr_that_stays_busy_times_out() {
    let mut chip = MockChip::new();
    chip.mac_csr_stuck = true;
    // The first MAC CSR access succeeds in being issued, then the busy bit never clears.
    let err = Lan9118::<_>::new(&mut chip, Config::default().with_mac(OUR_MAC)).err();
    assert_eq!(err, Some(Error::MacCsrTimeout));
}

#[test]
fn transmit_writes_command_words_and_little_endian_data() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    for len in [14usize, 60, 61, 62, 63, 1514] {
        let f = frame([0xFF; 6], 0x88B5, len);
        let tx = nic.transmit(&mut noop_context()).expect("room");
        tx.consume(len, |buf| buf.copy_from_slice(&f));
    }
    assert_eq!(nic.stats().tx_frames, 6);
    let lens: Vec<usize> = chip.sent.iter().map(Vec::len).collect();
    assert_eq!(lens, [14, 60, 61, 62, 63, 1514]);
    assert_eq!(chip.sent[3], frame([0xFF; 6], 0x88B5, 62));
    // Each transmit first reads the statuses of earlier frames: only the last one is left.
    assert_eq!(chip.tx_status.len(), 1);
    assert_eq!(
        chip.tx_status[0] >> 16,
        6,
        "tags count up in command word B"
    );
}

#[test]
fn transmit_waits_for_fifo_room() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    nic.registers().tx_free = 100;
    assert!(nic.transmit(&mut noop_context()).is_none());
    nic.registers().tx_free = 4608;
    assert!(nic.transmit(&mut noop_context()).is_some());
}

#[test]
fn tx_status_errors_are_counted() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    nic.registers().tx_status.push_back(TX_STS_ERROR);
    assert!(nic.transmit(&mut noop_context()).is_some());
    assert_eq!(nic.stats().tx_errors, 1);
}

#[test]
fn receive_reads_status_then_data_and_strips_fcs() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    assert!(receive_one(&mut nic).is_none());
    for len in [60usize, 61, 62, 63, 64, 1514] {
        let f = frame(OUR_MAC.0, 0x88B5, len);
        assert!(nic.registers().inject(&f));
        assert_eq!(receive_one(&mut nic).as_deref(), Some(&f[..]), "len {len}");
    }
    assert_eq!(nic.registers().rx_data.len(), 0, "every data word read");
    assert_eq!(nic.stats().rx_frames, 6);
}

#[test]
fn dropped_rx_token_keeps_the_frame() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    let f = frame(OUR_MAC.0, 0x0800, 80);
    nic.registers().inject(&f);
    // Tokens dropped unconsumed.
    assert!(nic.receive(&mut noop_context()).is_some());
    assert_eq!(receive_one(&mut nic), Some(f));
}

#[test]
fn bad_frames_are_read_out_and_counted() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    let good = frame(OUR_MAC.0, 0x88B5, 70);
    nic.registers()
        .inject_with_status(&frame(OUR_MAC.0, 0x88B5, 67), RX_STS_ERROR);
    nic.registers().inject(&good);
    assert_eq!(receive_one(&mut nic), Some(good));
    assert_eq!(nic.stats().rx_errors, 1);
    assert_eq!(nic.registers().rx_data.len(), 0);
}

#[test]
fn oversized_frames_are_dropped_for_a_small_mtu() {
    let mut chip = MockChip::new();
    let mut nic: Lan9118<_, 128> =
        Lan9118::new(&mut chip, Config::default().with_mac(OUR_MAC)).unwrap();
    nic.registers().inject(&frame(OUR_MAC.0, 0x88B5, 200));
    let small = frame(OUR_MAC.0, 0x88B5, 100);
    nic.registers().inject(&small);
    let mut cx = noop_context();
    let (rx, _) = nic.receive(&mut cx).unwrap();
    assert_eq!(rx.consume(|b| b.to_vec()), small);
    assert_eq!(nic.stats().rx_bad_length, 1);
}

#[test]
fn mac_filter_unicast_broadcast_multicast() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    let group = MacAddr([0x03, 0x4C, 0x32, 0x00, 0x00, 0x07]);
    assert!(
        !nic.registers()
            .inject(&frame([0x02, 9, 9, 9, 9, 9], 0x88B5, 60)),
        "other unicast"
    );
    assert!(
        nic.registers().inject(&frame([0xFF; 6], 0x88B5, 60)),
        "broadcast"
    );
    assert!(
        !nic.registers().inject(&frame(group.0, 0x88B5, 60)),
        "not joined"
    );
    nic.join_multicast(group).unwrap();
    assert!(
        nic.registers().inject(&frame(group.0, 0x88B5, 60)),
        "joined"
    );
    // Two joins of one bucket need two leaves.
    nic.join_multicast(group).unwrap();
    nic.leave_multicast(group).unwrap();
    assert!(nic.registers().inject(&frame(group.0, 0x88B5, 60)));
    nic.leave_multicast(group).unwrap();
    assert!(!nic.registers().inject(&frame(group.0, 0x88B5, 60)), "left");
    assert_eq!(
        nic.join_multicast(MacAddr([0x02, 0, 0, 0, 0, 1])),
        Err(LinkError::Unsupported("joining a unicast address"))
    );
    assert_eq!(nic.join_multicast(MacAddr::BROADCAST), Ok(()));
}

#[test]
fn multicast_hash_matches_linux_smsc911x() {
    // Hash buckets as Linux's smsc911x and QEMU compute them: the top six bits of the
    // big-endian Ethernet CRC. Expected values cross-checked with zlib's reflected CRC-32
    // (bit-reversed, without the final inversion).
    assert_eq!(
        multicast_hash(MacAddr([0x01, 0x00, 0x5E, 0x00, 0x00, 0x01])),
        31
    );
    assert_eq!(
        multicast_hash(MacAddr([0x33, 0x33, 0x00, 0x00, 0x00, 0x01])),
        62
    );
    assert_eq!(
        multicast_hash(MacAddr([0x03, 0x4C, 0x32, 0x00, 0x00, 0x07])),
        51
    );
}

#[test]
fn link_state_follows_the_phy() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    let mut cx = noop_context();
    assert!(nic.link_state(&mut cx) == LinkState::Up);
    nic.registers().set_link(false);
    assert!(nic.link_state(&mut cx) == LinkState::Down);
    assert_eq!(nic.stats().link_down, 1);
    nic.registers().set_link(true);
    assert!(nic.link_state(&mut cx) == LinkState::Up);
}

#[test]
fn link_state_reads_the_phy_only_after_a_phy_interrupt() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    let mut cx = noop_context();
    let before = nic.registers().mii_accesses;
    for _ in 0..10 {
        assert!(nic.link_state(&mut cx) == LinkState::Up);
    }
    assert_eq!(
        nic.registers().mii_accesses,
        before,
        "no MII traffic without PHY_INT"
    );
    nic.registers().set_link(false);
    assert!(nic.link_state(&mut cx) == LinkState::Down);
    assert!(nic.registers().mii_accesses > before);
    assert_eq!(
        nic.registers().int_sts & INT_PHY,
        0,
        "source read cleared PHY_INT"
    );
}

#[test]
fn short_link_drop_is_not_missed_by_the_latch() {
    let mut chip = MockChip::new();
    let mut nic = up(&mut chip);
    let mut cx = noop_context();
    nic.registers().set_link(false);
    nic.registers().set_link(true);
    // The link is up again now; the driver reads the latch and then the current state.
    assert!(nic.link_state(&mut cx) == LinkState::Up);
}

#[test]
fn interrupt_mode_arms_and_handler_masks() {
    static WAKER: AtomicWaker = AtomicWaker::new();
    let mut chip = MockChip::new();
    let mut nic: Lan9118<_> = Lan9118::new(
        &mut chip,
        Config::default()
            .with_mac(OUR_MAC)
            .with_wake(WakeMode::Interrupt(&WAKER)),
    )
    .unwrap();
    assert!(receive_one(&mut nic).is_none());
    assert_ne!(
        nic.registers().int_en & INT_RSFL,
        0,
        "RX status interrupt armed"
    );
    assert_ne!(nic.registers().irq_cfg & IRQ_CFG_IRQ_EN, 0);
    on_interrupt(nic.registers(), &WAKER);
    assert_eq!(
        nic.registers().int_en,
        0,
        "handler masks until the driver looks again"
    );
}

/// Built in place: a link over an unstarted driver touches no register until `start`, then
/// the chip comes up as with `new`, and the link carries frames.
#[test]
fn a_link_built_in_place_over_an_unstarted_driver() {
    use crate::Nic as _;
    use core::mem::MaybeUninit;
    use l2net_core::{Instant, RawLink, RxFrame, TxToken as _};

    let mut chip = MockChip::new();
    let config = Config::default().with_mac(OUR_MAC);
    let mut slot = MaybeUninit::uninit();
    let link: &mut crate::EmbassyLink<Lan9118<&mut MockChip>> =
        crate::EmbassyLink::from_driver_in(&mut slot, Lan9118::unstarted(&mut chip, config))
            .unwrap();
    assert_eq!(
        link.nic().mac(),
        OUR_MAC,
        "the configured MAC, before start"
    );
    assert_eq!(link.nic().driver().chip_id(), 0, "not started");
    link.nic_mut().driver_mut().start(config).unwrap();
    let driver = link.nic_mut().driver_mut();
    assert_eq!(driver.chip_id() >> 16, 0x0118);
    assert_eq!(driver.registers().resets, 1, "one soft reset");
    let f = frame(OUR_MAC.0, 0x88B5, 100);
    driver.registers().inject(&f);
    let rx = link
        .receive(Instant::ZERO)
        .unwrap()
        .expect("the injected frame");
    assert_eq!(rx.data(), &f[..]);
    let tx = link.transmit(Instant::ZERO, 60).unwrap().expect("room");
    tx.consume(|buf| buf.fill(0x55));
}

/// An unstarted driver with a chip that is not there: `start` says so.
#[test]
fn starting_without_a_chip_fails() {
    let mut chip = MockChip::new();
    chip.byte_test = 0;
    let mut nic: Lan9118<_> = Lan9118::unstarted(&mut chip, Config::default().with_mac(OUR_MAC));
    assert!(matches!(
        nic.start(Config::default().with_mac(OUR_MAC)),
        Err(Error::BusCheck { .. })
    ));
}

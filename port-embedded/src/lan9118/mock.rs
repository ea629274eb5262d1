//! A register-level model of a LAN9118 for host tests: the system CSRs, the MAC CSRs behind
//! `MAC_CSR_CMD`/`MAC_CSR_DATA`, a PHY behind `MII_ACC`, the TX data FIFO's command-word state
//! machine, and the RX status/data FIFOs with the FCS appended, following the datasheet (and
//! QEMU's model of it). Tests inject frames, flip the link and inspect what the driver wrote.

use std::collections::VecDeque;
use std::vec::Vec;

use super::Registers;
use super::regs::*;

pub struct MockChip {
    pub byte_test: u32,
    /// When set, `HW_CFG.SRST` never clears (a dead chip).
    pub stuck_in_reset: bool,
    /// When set, `MAC_CSR_CMD` stays busy forever.
    pub mac_csr_stuck: bool,
    pub hw_cfg: u32,
    pub int_sts: u32,
    pub int_en: u32,
    pub irq_cfg: u32,
    pub fifo_int: u32,
    pub tx_cfg: u32,
    pub mac_csr_cmd: u32,
    pub mac_csr_data: u32,
    pub mac_cr: u32,
    pub eeprom_mac: [u8; 6],
    pub mac: [u8; 6],
    pub hash: u64,
    pub mii_acc: u32,
    pub mii_data: u32,
    pub phy_bcr: u32,
    pub phy_anar: u32,
    pub phy_anlpar: u32,
    pub link: bool,
    /// The PHY's latched-low link bit: cleared when the link drops, set again by a read.
    pub link_latch: bool,
    pub phy_resets: u32,
    pub phy_int_src: u32,
    pub phy_int_mask: u32,
    /// MII accesses made (to see that the driver does not poll the PHY needlessly).
    pub mii_accesses: u32,
    pub tx_free: u32,
    tx_state: TxState,
    tx_remaining: usize,
    tx_frame: Vec<u8>,
    pub sent: Vec<Vec<u8>>,
    pub tx_status: VecDeque<u32>,
    pub rx_status: VecDeque<u32>,
    pub rx_data: VecDeque<u32>,
    pub resets: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TxState {
    Idle,
    B { cmd_a: u32 },
    Data,
}

impl MockChip {
    pub fn new() -> Self {
        MockChip {
            byte_test: BYTE_TEST_VALUE,
            stuck_in_reset: false,
            mac_csr_stuck: false,
            hw_cfg: 0x0005_0000,
            int_sts: 0,
            int_en: 0,
            irq_cfg: 0,
            fifo_int: 0x4800_0000,
            tx_cfg: 0,
            mac_csr_cmd: 0,
            mac_csr_data: 0,
            mac_cr: MAC_CR_PRMS,
            eeprom_mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            hash: 0,
            mii_acc: 0,
            mii_data: 0,
            phy_bcr: 0x3000,
            phy_anar: 0x01E1,
            phy_anlpar: 0x05E1,
            link: true,
            link_latch: true,
            phy_resets: 0,
            phy_int_src: 0,
            phy_int_mask: 0,
            mii_accesses: 0,
            tx_free: 4608,
            tx_state: TxState::Idle,
            tx_remaining: 0,
            tx_frame: Vec::new(),
            sent: Vec::new(),
            tx_status: VecDeque::new(),
            rx_status: VecDeque::new(),
            rx_data: VecDeque::new(),
            resets: 0,
        }
    }

    /// A frame arrives from the wire (without FCS). Returns false if the MAC filters it out.
    pub fn inject(&mut self, frame: &[u8]) -> bool {
        self.inject_with_status(frame, 0)
    }

    /// Like `inject`, with extra status bits (for example the error summary).
    pub fn inject_with_status(&mut self, frame: &[u8], extra: u32) -> bool {
        if self.mac_cr & MAC_CR_RXEN == 0 || !self.filter(frame) {
            return false;
        }
        let mut bytes = frame.to_vec();
        bytes.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]); // the FCS as the chip stores it
        for chunk in bytes.chunks(4) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            self.rx_data.push_back(u32::from_le_bytes(w));
        }
        self.rx_status
            .push_back(((bytes.len() as u32) << RX_STS_LEN_SHIFT) | extra);
        self.int_sts |= INT_RSFL;
        true
    }

    fn filter(&self, frame: &[u8]) -> bool {
        let dst: [u8; 6] = frame[..6].try_into().unwrap();
        if self.mac_cr & MAC_CR_PRMS != 0 {
            return true;
        }
        if dst == [0xFF; 6] {
            return self.mac_cr & MAC_CR_BCAST_DISABLE == 0;
        }
        if dst[0] & 1 != 0 {
            if self.mac_cr & MAC_CR_MCPAS != 0 {
                return true;
            }
            if self.mac_cr & MAC_CR_HPFILT != 0 {
                let bucket = super::multicast_hash(l2net_core::MacAddr(dst));
                return self.hash >> bucket & 1 != 0;
            }
            return false;
        }
        dst == self.mac
    }

    pub fn set_link(&mut self, up: bool) {
        if up {
            self.phy_int_src |= PHY_INT_AN_DONE | PHY_INT_ENERGY_ON;
        } else {
            self.link_latch = false;
            self.phy_int_src |= PHY_INT_LINK_DOWN;
        }
        self.link = up;
        self.update_phy_int();
    }

    /// INT_STS.PHY_INT follows the PHY's unmasked interrupt sources.
    fn update_phy_int(&mut self) {
        if self.phy_int_src & self.phy_int_mask != 0 {
            self.int_sts |= INT_PHY;
        } else {
            self.int_sts &= !INT_PHY;
        }
    }

    fn reset(&mut self) {
        self.resets += 1;
        self.hw_cfg = 0x0005_0000;
        self.mac_cr = MAC_CR_PRMS;
        self.mac = self.eeprom_mac;
        self.hash = 0;
        self.tx_cfg = 0;
        self.int_en = 0;
        self.tx_state = TxState::Idle;
        self.rx_status.clear();
        self.rx_data.clear();
        self.tx_status.clear();
    }

    fn mac_read(&mut self, index: u32) -> u32 {
        match index {
            MAC_CR => self.mac_cr,
            MAC_ADDRH => u32::from_le_bytes([self.mac[4], self.mac[5], 0, 0]),
            MAC_ADDRL => u32::from_le_bytes(self.mac[..4].try_into().unwrap()),
            MAC_HASHH => (self.hash >> 32) as u32,
            MAC_HASHL => self.hash as u32,
            MAC_MII_ACC => self.mii_acc,
            MAC_MII_DATA => self.mii_data,
            other => panic!("mock: read of unmodelled MAC CSR {other}"),
        }
    }

    fn mac_write(&mut self, index: u32, value: u32) {
        match index {
            MAC_CR => self.mac_cr = value,
            MAC_ADDRH => {
                let b = value.to_le_bytes();
                self.mac[4] = b[0];
                self.mac[5] = b[1];
            }
            MAC_ADDRL => self.mac[..4].copy_from_slice(&value.to_le_bytes()),
            MAC_HASHH => self.hash = (self.hash & 0xFFFF_FFFF) | (u64::from(value) << 32),
            MAC_HASHL => self.hash = (self.hash & !0xFFFF_FFFF) | u64::from(value),
            MAC_MII_ACC => {
                self.mii_accesses += 1;
                assert_eq!(value >> MII_ACC_PHY_SHIFT & 0x1F, PHY_ADDR_INTERNAL);
                let reg = value >> MII_ACC_REG_SHIFT & 0x1F;
                if value & MII_ACC_WRITE != 0 {
                    self.phy_write(reg, self.mii_data);
                } else {
                    self.mii_data = self.phy_read(reg);
                }
                self.mii_acc = value & !MII_ACC_BUSY;
            }
            MAC_MII_DATA => self.mii_data = value & 0xFFFF,
            other => panic!("mock: write of unmodelled MAC CSR {other}"),
        }
    }

    fn phy_read(&mut self, reg: u32) -> u32 {
        match reg {
            PHY_BCR => self.phy_bcr,
            PHY_BSR => {
                let link = if self.link_latch { PHY_BSR_LINK } else { 0 };
                self.link_latch = self.link;
                0x7809 | link | if self.link { 0x20 } else { 0 }
            }
            PHY_ID1 => 0x0007,
            3 => 0xC0D1,
            PHY_ANAR => self.phy_anar,
            5 => self.phy_anlpar,
            PHY_INT_SOURCE => {
                let v = self.phy_int_src;
                self.phy_int_src = 0;
                self.update_phy_int();
                v
            }
            PHY_INT_MASK => self.phy_int_mask,
            other => panic!("mock: read of unmodelled PHY register {other}"),
        }
    }

    fn phy_write(&mut self, reg: u32, value: u32) {
        match reg {
            PHY_BCR => {
                if value & PHY_BCR_RESET != 0 {
                    self.phy_resets += 1;
                    self.phy_bcr = 0x3000;
                } else {
                    self.phy_bcr = value;
                }
            }
            PHY_ANAR => self.phy_anar = value,
            PHY_INT_MASK => {
                self.phy_int_mask = value & 0xFF;
                self.update_phy_int();
            }
            other => panic!("mock: write of unmodelled PHY register {other}"),
        }
    }

    fn tx_push(&mut self, value: u32) {
        match self.tx_state {
            TxState::Idle => self.tx_state = TxState::B { cmd_a: value },
            TxState::B { cmd_a } => {
                assert!(
                    cmd_a & TX_CMD_A_FIRST_SEG != 0,
                    "mock: only single-segment frames"
                );
                assert!(
                    cmd_a & TX_CMD_A_LAST_SEG != 0,
                    "mock: only single-segment frames"
                );
                let buf = (cmd_a & TX_CMD_A_BUF_SIZE_MASK) as usize;
                assert_eq!(
                    buf as u32,
                    value & TX_CMD_B_LEN_MASK,
                    "cmd A size != cmd B length"
                );
                self.tx_remaining = buf;
                self.tx_frame.clear();
                self.tx_state = TxState::Data;
                self.tx_status.push_back(value & 0xFFFF_0000);
                if buf == 0 {
                    self.tx_state = TxState::Idle;
                }
            }
            TxState::Data => {
                let n = self.tx_remaining.min(4);
                self.tx_frame.extend_from_slice(&value.to_le_bytes()[..n]);
                self.tx_remaining -= n;
                if self.tx_remaining == 0 {
                    self.sent.push(core::mem::take(&mut self.tx_frame));
                    self.tx_state = TxState::Idle;
                }
            }
        }
    }
}

impl Registers for MockChip {
    fn read(&mut self, offset: u32) -> u32 {
        match offset {
            0x00..=0x1C => self
                .rx_data
                .pop_front()
                .expect("mock: RX data FIFO underrun"),
            RX_STATUS_FIFO => self
                .rx_status
                .pop_front()
                .expect("mock: RX status underrun"),
            TX_STATUS_FIFO => self.tx_status.pop_front().unwrap_or(0),
            ID_REV => 0x0118_0001,
            IRQ_CFG => self.irq_cfg,
            INT_STS => self.int_sts,
            INT_EN => self.int_en,
            BYTE_TEST => self.byte_test,
            FIFO_INT => self.fifo_int,
            TX_CFG => self.tx_cfg,
            HW_CFG => self.hw_cfg,
            RX_FIFO_INF => ((self.rx_status.len() as u32) << 16) | (self.rx_data.len() as u32 * 4),
            TX_FIFO_INF => ((self.tx_status.len() as u32) << 16) | self.tx_free,
            PMT_CTRL => PMT_CTRL_READY,
            MAC_CSR_CMD => self.mac_csr_cmd,
            MAC_CSR_DATA => self.mac_csr_data,
            other => panic!("mock: read of unmodelled register {other:#x}"),
        }
    }

    fn write(&mut self, offset: u32, value: u32) {
        match offset {
            0x20..=0x3C => self.tx_push(value),
            IRQ_CFG => self.irq_cfg = value,
            INT_STS => {
                self.int_sts &= !value;
                self.update_phy_int();
            }
            INT_EN => self.int_en = value,
            FIFO_INT => self.fifo_int = value,
            TX_CFG => self.tx_cfg = value,
            AFC_CFG => {}
            HW_CFG => {
                if value & HW_CFG_SRST != 0 {
                    self.reset();
                    if self.stuck_in_reset {
                        self.hw_cfg |= HW_CFG_SRST;
                    }
                } else {
                    self.hw_cfg = value;
                }
            }
            MAC_CSR_DATA => self.mac_csr_data = value,
            MAC_CSR_CMD => {
                if self.mac_csr_stuck {
                    self.mac_csr_cmd = value | MAC_CSR_CMD_BUSY;
                    return;
                }
                let index = value & 0xFF;
                if value & MAC_CSR_CMD_BUSY != 0 {
                    if value & MAC_CSR_CMD_READ != 0 {
                        self.mac_csr_data = self.mac_read(index);
                    } else {
                        let data = self.mac_csr_data;
                        self.mac_write(index, data);
                    }
                }
                self.mac_csr_cmd = value & !MAC_CSR_CMD_BUSY;
            }
            other => panic!("mock: write of unmodelled register {other:#x}"),
        }
    }
}

//! LAN9118 register map: byte offsets of the system CSRs from the chip's base address, the MAC CSR
//! indices reached through `MAC_CSR_CMD`/`MAC_CSR_DATA`, the PHY registers reached through the MAC's
//! MII, and the bits the driver uses. Names follow the SMSC LAN9118 datasheet.
#![allow(missing_docs)]

// System control and status registers (byte offsets).
pub const RX_DATA_FIFO: u32 = 0x00;
pub const TX_DATA_FIFO: u32 = 0x20;
pub const RX_STATUS_FIFO: u32 = 0x40;
pub const TX_STATUS_FIFO: u32 = 0x48;
pub const ID_REV: u32 = 0x50;
pub const IRQ_CFG: u32 = 0x54;
pub const INT_STS: u32 = 0x58;
pub const INT_EN: u32 = 0x5C;
pub const BYTE_TEST: u32 = 0x64;
pub const FIFO_INT: u32 = 0x68;
pub const RX_CFG: u32 = 0x6C;
pub const TX_CFG: u32 = 0x70;
pub const HW_CFG: u32 = 0x74;
pub const RX_FIFO_INF: u32 = 0x7C;
pub const TX_FIFO_INF: u32 = 0x80;
pub const PMT_CTRL: u32 = 0x84;
pub const MAC_CSR_CMD: u32 = 0xA4;
pub const MAC_CSR_DATA: u32 = 0xA8;
pub const AFC_CFG: u32 = 0xAC;

/// `BYTE_TEST` always reads this: proves the bus works and the byte order is right.
pub const BYTE_TEST_VALUE: u32 = 0x8765_4321;

// IRQ_CFG
pub const IRQ_CFG_IRQ_EN: u32 = 1 << 8;
pub const IRQ_CFG_IRQ_POL: u32 = 1 << 4;
pub const IRQ_CFG_IRQ_TYPE: u32 = 1 << 0;

// INT_STS / INT_EN
pub const INT_RSFL: u32 = 1 << 3;
pub const INT_PHY: u32 = 1 << 18;
pub const INT_TX_IOC: u32 = 1 << 21;
pub const INT_TDFA: u32 = 1 << 9;

// HW_CFG
pub const HW_CFG_SRST: u32 = 1 << 0;
/// TX FIFO size in KiB (bits 19:16); 5 is the reset default (the rest is RX FIFO).
pub const HW_CFG_TX_FIF_SZ_SHIFT: u32 = 16;
/// Must be written as one.
pub const HW_CFG_MBO: u32 = 1 << 20;

// PMT_CTRL
pub const PMT_CTRL_READY: u32 = 1 << 0;

// TX_CFG
pub const TX_CFG_TX_ON: u32 = 1 << 1;
/// Let the TX status FIFO overrun instead of stalling transmission when nobody reads it.
pub const TX_CFG_TXSAO: u32 = 1 << 2;
pub const TX_CFG_TXS_DUMP: u32 = 1 << 15;
pub const TX_CFG_TXD_DUMP: u32 = 1 << 14;

// RX_CFG
pub const RX_CFG_RX_DUMP: u32 = 1 << 15;

// RX_FIFO_INF / TX_FIFO_INF
pub const FIFO_INF_STATUS_USED_SHIFT: u32 = 16;
pub const FIFO_INF_STATUS_USED_MASK: u32 = 0xFF;
pub const TX_FIFO_INF_TDFREE_MASK: u32 = 0xFFFF;

// RX status word
pub const RX_STS_ERROR: u32 = 1 << 15;
pub const RX_STS_LEN_SHIFT: u32 = 16;
pub const RX_STS_LEN_MASK: u32 = 0x3FFF;
/// The frame did not pass the address filter (only with RXALL).
pub const RX_STS_FILTER_FAIL: u32 = 1 << 30;

// TX command A
pub const TX_CMD_A_FIRST_SEG: u32 = 1 << 13;
pub const TX_CMD_A_LAST_SEG: u32 = 1 << 12;
pub const TX_CMD_A_BUF_SIZE_MASK: u32 = 0x7FF;
// TX command B: packet tag in bits 31:16, packet length in bits 10:0.
pub const TX_CMD_B_TAG_SHIFT: u32 = 16;
pub const TX_CMD_B_LEN_MASK: u32 = 0x7FF;
// TX status word
pub const TX_STS_ERROR: u32 = 1 << 15;

// MAC_CSR_CMD
pub const MAC_CSR_CMD_BUSY: u32 = 1 << 31;
pub const MAC_CSR_CMD_READ: u32 = 1 << 30;

// MAC CSR indices
pub const MAC_CR: u32 = 1;
pub const MAC_ADDRH: u32 = 2;
pub const MAC_ADDRL: u32 = 3;
pub const MAC_HASHH: u32 = 4;
pub const MAC_HASHL: u32 = 5;
pub const MAC_MII_ACC: u32 = 6;
pub const MAC_MII_DATA: u32 = 7;

// MAC_CR
pub const MAC_CR_RXEN: u32 = 1 << 2;
pub const MAC_CR_TXEN: u32 = 1 << 3;
pub const MAC_CR_BCAST_DISABLE: u32 = 1 << 11;
/// Hash/perfect filter for multicast: multicast frames pass when their hash bit is set.
pub const MAC_CR_HPFILT: u32 = 1 << 13;
pub const MAC_CR_PRMS: u32 = 1 << 18;
pub const MAC_CR_MCPAS: u32 = 1 << 19;
pub const MAC_CR_FDPX: u32 = 1 << 20;

// MII_ACC
pub const MII_ACC_BUSY: u32 = 1 << 0;
pub const MII_ACC_WRITE: u32 = 1 << 1;
pub const MII_ACC_REG_SHIFT: u32 = 6;
pub const MII_ACC_PHY_SHIFT: u32 = 11;
/// The internal PHY's MII address.
pub const PHY_ADDR_INTERNAL: u32 = 1;

// PHY registers (IEEE 802.3 clause 22)
pub const PHY_BCR: u32 = 0;
pub const PHY_BSR: u32 = 1;
pub const PHY_ID1: u32 = 2;
pub const PHY_ANAR: u32 = 4;
/// PHY interrupt source (SMSC vendor register; read clears).
pub const PHY_INT_SOURCE: u32 = 29;
/// PHY interrupt mask (SMSC vendor register).
pub const PHY_INT_MASK: u32 = 30;
pub const PHY_INT_LINK_DOWN: u32 = 1 << 4;
pub const PHY_INT_AN_DONE: u32 = 1 << 6;
pub const PHY_INT_ENERGY_ON: u32 = 1 << 7;
pub const PHY_BCR_RESET: u32 = 1 << 15;
pub const PHY_BCR_ANEN: u32 = 1 << 12;
pub const PHY_BCR_RESTART_AN: u32 = 1 << 9;
pub const PHY_BSR_LINK: u32 = 1 << 2;
/// 10/100 half and full duplex, IEEE 802.3 selector.
pub const PHY_ANAR_DEFAULT: u32 = 0x01E1;

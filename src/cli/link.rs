//! `l2net link -i IFACE`: what the Linux port finds on an interface.

use clap::Args as ClapArgs;
use l2net_core::RawLink;
use l2net_linux::ethtool;
use l2net_linux::link::{Backend, LinkConfig, LinuxLink};
use serde::Serialize;

use super::CliError;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The interface to inspect.
    #[arg(short, long)]
    interface: String,
    /// The backend to open (auto picks the best this kernel offers and says why).
    #[arg(long, default_value = "auto")]
    backend: Backend,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    interface: String,
    index: u32,
    mac: String,
    mtu: u32,
    admin_up: bool,
    running: bool,
    carrier: Option<bool>,
    backend: String,
    backend_reason: String,
    max_burst: usize,
    vlan_rx_offload: Option<bool>,
    vlan_tx_offload: Option<bool>,
    rx_timestamps: Option<&'static str>,
    tx_timestamps: Option<&'static str>,
    ptp_clock: Option<u32>,
    ethtool_error: Option<String>,
}

fn ts_kind(hw: bool, sw: bool) -> &'static str {
    match (hw, sw) {
        (true, _) => "hardware",
        (false, true) => "software",
        (false, false) => "none",
    }
}

pub fn run(a: Args) -> Result<(), CliError> {
    let cfg = LinkConfig::new(&a.interface).with_backend(a.backend);
    let (link, sel) = LinuxLink::open(&cfg)?;
    let info = *link.interface();
    let caps = link.capabilities();
    let facts = ethtool::offload_facts(&a.interface);
    let (vlan, ts, ethtool_error) = match &facts {
        Ok(f) => (Some(f.vlan), f.timestamps, None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    let r = Report {
        interface: a.interface.clone(),
        index: info.index,
        mac: info.mac.to_string(),
        mtu: info.mtu,
        admin_up: info.flags.up(),
        running: info.flags.running(),
        carrier: info.carrier,
        backend: sel.backend.to_string(),
        backend_reason: sel.reason.clone(),
        max_burst: caps.max_burst,
        vlan_rx_offload: vlan.map(|v| v.rx_strip),
        vlan_tx_offload: vlan.map(|v| v.tx_insert),
        rx_timestamps: ts.map(|t| ts_kind(t.rx_hardware && t.raw_hardware, t.rx_software)),
        tx_timestamps: ts.map(|t| ts_kind(t.tx_hardware && t.raw_hardware, t.tx_software)),
        ptp_clock: ts.and_then(|t| t.phc_index),
        ethtool_error,
    };
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let yn = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    println!("interface      {} (index {})", r.interface, r.index);
    println!("mac            {}", r.mac);
    println!("mtu            {}", r.mtu);
    println!(
        "state          {}, {}, carrier {}",
        if r.admin_up { "up" } else { "down" },
        if r.running { "running" } else { "not running" },
        yn(r.carrier)
    );
    println!("backend        {} ({})", r.backend, r.backend_reason);
    println!("burst          up to {} frames per flush", r.max_burst);
    println!(
        "vlan offload   rx strip {}, tx insert {}",
        yn(r.vlan_rx_offload),
        yn(r.vlan_tx_offload)
    );
    println!(
        "timestamps     rx {}, tx {}{}",
        r.rx_timestamps.unwrap_or("unknown"),
        r.tx_timestamps.unwrap_or("unknown"),
        r.ptp_clock
            .map(|i| format!(", PTP clock /dev/ptp{i}"))
            .unwrap_or_default()
    );
    if let Some(e) = &r.ethtool_error {
        println!("ethtool        {e}");
    }
    Ok(())
}

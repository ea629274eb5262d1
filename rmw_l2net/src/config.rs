//! Where a context's participant runs: the network interface and the domain, from the init
//! options and the environment.
//!
//! * `RMW_L2NET_INTERFACE=<name>` names the interface;
//! * otherwise `RMW_L2NET_CONFIG=<path>` names a file of `key = value` lines (`#` starts a
//!   comment) with the keys `interface` and `backend`;
//! * `RMW_L2NET_BACKEND=<name>` (or the file's `backend` key) picks the Linux port's backend:
//!   `frame-ring` by default (a TPACKET_V2 receive ring: every frame handed over at once and
//!   found without a system call, the lowest round trip; `mmsg` costs one `recvmmsg` more
//!   per frame); `ring` (TPACKET_V3) hands frames over per block, up to its block timeout
//!   (1 ms) late, which costs a round trip about a millisecond (docs/BENCHMARKS.md,
//!   "rmw_l2net");
//! * `RMW_L2NET_BUSY_POLL=1` (or the file's `busy_poll = true`) makes the participant's
//!   waiting threads spin on the link instead of sleeping (`NodeConfig::busy_poll`): the
//!   lowest round trip, at the cost of a CPU core per thread waiting (`rmw_wait`);
//! * `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST` (which rcl hands over in the init options'
//!   discovery range) or the deprecated `ROS_LOCALHOST_ONLY=1` select the loopback interface
//!   `lo`, whatever the variables above say.

#![forbid(unsafe_code)]

use core::ffi::c_int;

use l2net_core::MacAddr;

use crate::abi::*;

/// Environment variable that names the interface.
pub const ENV_INTERFACE: &str = "RMW_L2NET_INTERFACE";
/// Environment variable that names the configuration file.
pub const ENV_CONFIG: &str = "RMW_L2NET_CONFIG";
/// Environment variable that names the Linux port's backend.
pub const ENV_BACKEND: &str = "RMW_L2NET_BACKEND";
/// Environment variable that turns busy polling on (`1`) or off (`0`).
pub const ENV_BUSY_POLL: &str = "RMW_L2NET_BUSY_POLL";
/// The backend used unless configured: per-frame hand-over, no receive system call.
pub const DEFAULT_BACKEND: &str = "frame-ring";
/// The backend names the Linux port accepts (`l2net_linux::link::Backend`).
pub const BACKENDS: [&str; 6] = ["auto", "ring", "frame-ring", "uring", "mmsg", "plain"];
/// The loopback interface used for `LOCALHOST` discovery.
pub const LOOPBACK: &str = "lo";

/// What `rmw_init` needs to open a participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Interface to open.
    pub interface: String,
    /// Domain id on the wire.
    pub domain: u16,
    /// Unicast peers announced to directly (the init options' static peers, as MACs).
    pub static_peers: Vec<MacAddr>,
    /// The Linux port's backend, one of [`BACKENDS`].
    pub backend: String,
    /// Waiting threads spin on the link instead of sleeping (`NodeConfig::busy_poll`).
    pub busy_poll: bool,
}

/// What a configuration file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConfig {
    /// The `interface` key.
    pub interface: Option<String>,
    /// The `backend` key.
    pub backend: Option<String>,
    /// The `busy_poll` key.
    pub busy_poll: Option<bool>,
}

/// The parts of `rmw_init_options_t` that choose the settings, already read from C.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `domain_id` (`RMW_DEFAULT_DOMAIN_ID` means 0).
    pub domain_id: usize,
    /// `discovery_options.automatic_discovery_range`.
    pub discovery_range: c_int,
    /// `localhost_only`.
    pub localhost_only: c_int,
    /// `discovery_options.static_peers`, as strings.
    pub static_peers: Vec<String>,
    /// `security_options.enforce_security`.
    pub enforce_security: c_int,
    /// The value of `RMW_L2NET_INTERFACE`.
    pub env_interface: Option<String>,
    /// The value of `RMW_L2NET_CONFIG`.
    pub env_config: Option<String>,
    /// The value of `RMW_L2NET_BACKEND`.
    pub env_backend: Option<String>,
    /// The value of `RMW_L2NET_BUSY_POLL`.
    pub env_busy_poll: Option<String>,
}

/// Resolves the settings; the error says what is missing or wrong and how to fix it.
pub fn resolve(inputs: &Inputs) -> Result<Settings, String> {
    let domain = match inputs.domain_id {
        RMW_DEFAULT_DOMAIN_ID => 0,
        d => u16::try_from(d)
            .map_err(|_| format!("domain id {d} is out of range (0..=65535 on l2net)"))?,
    };
    if inputs.enforce_security == RMW_SECURITY_ENFORCEMENT_ENFORCE {
        return Err(
            "security enforcement was requested (ROS_SECURITY_STRATEGY=Enforce) but \
                    rmw_l2net_cpp has no security support"
                .into(),
        );
    }
    let static_peers = inputs
        .static_peers
        .iter()
        .map(|p| {
            p.trim().parse::<MacAddr>().map_err(|_| {
                format!(
                    "static peer {p:?} is not a MAC address (l2net peers are Ethernet \
                     addresses such as 02:00:00:00:00:01)"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The file is read whenever it is named, so that none of its keys is silently ignored.
    let file = match inputs.env_config.as_deref() {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {ENV_CONFIG} file {path:?}: {e}"))?;
            parse_config(&text).map_err(|e| format!("{ENV_CONFIG} file {path:?}: {e}"))?
        }
        None => FileConfig::default(),
    };
    let backend = match inputs.env_backend.as_deref() {
        Some(b) => check_backend(b.trim()).map_err(|e| format!("{ENV_BACKEND}: {e}"))?,
        None => file
            .backend
            .clone()
            .unwrap_or_else(|| DEFAULT_BACKEND.to_string()),
    };
    let busy_poll = match inputs.env_busy_poll.as_deref() {
        Some(v) => parse_flag(v).map_err(|e| format!("{ENV_BUSY_POLL}: {e}"))?,
        None => file.busy_poll.unwrap_or(false),
    };
    let interface = match inputs.discovery_range {
        RMW_AUTOMATIC_DISCOVERY_RANGE_LOCALHOST => LOOPBACK.to_string(),
        RMW_AUTOMATIC_DISCOVERY_RANGE_OFF => {
            return Err(
                "ROS_AUTOMATIC_DISCOVERY_RANGE=OFF is not supported by rmw_l2net_cpp \
                        (l2net always announces on its interface); use LOCALHOST or SUBNET"
                    .into(),
            );
        }
        _ if inputs.localhost_only == RMW_LOCALHOST_ONLY_ENABLED => LOOPBACK.to_string(),
        _ => configured_interface(inputs, &file)?,
    };
    Ok(Settings {
        interface,
        domain,
        static_peers,
        backend,
        busy_poll,
    })
}

/// A yes/no setting: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off` (any case).
fn parse_flag(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "{v:?} is not a yes/no value (1, true, yes, on / 0, false, no, off)"
        )),
    }
}

fn check_backend(name: &str) -> Result<String, String> {
    if BACKENDS.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "unknown backend {name:?} (known: {})",
            BACKENDS.join(", ")
        ))
    }
}

fn configured_interface(inputs: &Inputs, file: &FileConfig) -> Result<String, String> {
    if let Some(i) = inputs.env_interface.as_deref() {
        let i = i.trim();
        if i.is_empty() {
            return Err(format!("{ENV_INTERFACE} is set but empty"));
        }
        return Ok(i.to_string());
    }
    match (&file.interface, inputs.env_config.as_deref()) {
        (Some(i), _) => Ok(i.clone()),
        (None, Some(path)) => Err(format!(
            "{ENV_CONFIG} file {path:?} has no `interface = <name>` line and {ENV_INTERFACE} \
             is not set"
        )),
        (None, None) => Err(format!(
            "no network interface configured for rmw_l2net_cpp: set {ENV_INTERFACE}=<interface> \
             or {ENV_CONFIG}=<file with a line `interface = <name>`>, or \
             ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST for the loopback interface"
        )),
    }
}

/// Parses a configuration file.
pub fn parse_config(text: &str) -> Result<FileConfig, String> {
    let mut out = FileConfig::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: expected `key = value`", n + 1));
        };
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        match k {
            "interface" if v.is_empty() => {
                return Err(format!("line {}: empty interface name", n + 1));
            }
            "interface" => out.interface = Some(v.to_string()),
            "backend" => {
                out.backend = Some(check_backend(v).map_err(|e| format!("line {}: {e}", n + 1))?);
            }
            "busy_poll" => {
                out.busy_poll = Some(parse_flag(v).map_err(|e| format!("line {}: {e}", n + 1))?);
            }
            other => {
                return Err(format!(
                    "line {}: unknown key {other:?} (known: interface, backend, busy_poll)",
                    n + 1
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            domain_id: RMW_DEFAULT_DOMAIN_ID,
            ..Default::default()
        }
    }

    #[test]
    fn interface_from_env_then_file_then_error() {
        let mut i = inputs();
        let e = resolve(&i).unwrap_err();
        assert!(e.contains(ENV_INTERFACE) && e.contains(ENV_CONFIG), "{e}");
        i.env_interface = Some("eth1".into());
        let s = resolve(&i).unwrap();
        assert_eq!((s.interface.as_str(), s.domain), ("eth1", 0));
        i.env_interface = Some(" ".into());
        assert!(resolve(&i).unwrap_err().contains("empty"));
        i.env_interface = None;
        i.env_config = Some("/nonexistent/rmw_l2net.conf".into());
        assert!(resolve(&i).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn interface_from_a_config_file() {
        let path = std::env::temp_dir().join(format!(
            "rmw_l2net_config_{}_{:?}.conf",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, "# robot\ninterface = enp1s0\n").unwrap();
        let mut i = inputs();
        i.env_config = Some(path.to_string_lossy().into_owned());
        assert_eq!(resolve(&i).unwrap().interface, "enp1s0");
        // The variable wins over the file.
        i.env_interface = Some("eth9".into());
        assert_eq!(resolve(&i).unwrap().interface, "eth9");
        // A file without an interface line needs the variable.
        std::fs::write(&path, "backend = plain\n").unwrap();
        let s = resolve(&i).unwrap();
        assert_eq!(
            (s.interface.as_str(), s.backend.as_str()),
            ("eth9", "plain")
        );
        i.env_interface = None;
        assert!(resolve(&i).unwrap_err().contains("no `interface"));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn backend_default_file_and_variable() {
        let mut i = inputs();
        i.env_interface = Some("eth1".into());
        assert_eq!(resolve(&i).unwrap().backend, DEFAULT_BACKEND);
        i.env_backend = Some("ring".into());
        assert_eq!(resolve(&i).unwrap().backend, "ring");
        i.env_backend = Some("fast".into());
        let e = resolve(&i).unwrap_err();
        assert!(e.contains(ENV_BACKEND) && e.contains("mmsg"), "{e}");
    }

    #[test]
    fn busy_poll_off_by_default_from_file_or_variable() {
        let path = std::env::temp_dir().join(format!(
            "rmw_l2net_busy_{}_{:?}.conf",
            std::process::id(),
            std::thread::current().id()
        ));
        let mut i = inputs();
        i.env_interface = Some("eth1".into());
        assert!(!resolve(&i).unwrap().busy_poll);
        std::fs::write(&path, "busy_poll = true\n").unwrap();
        i.env_config = Some(path.to_string_lossy().into_owned());
        assert!(resolve(&i).unwrap().busy_poll);
        // The variable wins over the file.
        i.env_busy_poll = Some("0".into());
        assert!(!resolve(&i).unwrap().busy_poll);
        i.env_config = None;
        i.env_busy_poll = Some(" ON ".into());
        assert!(resolve(&i).unwrap().busy_poll);
        i.env_busy_poll = Some("fast".into());
        let e = resolve(&i).unwrap_err();
        assert!(e.contains(ENV_BUSY_POLL) && e.contains("yes/no"), "{e}");
        std::fs::write(&path, "busy_poll = maybe\n").unwrap();
        i.env_busy_poll = None;
        i.env_config = Some(path.to_string_lossy().into_owned());
        assert!(resolve(&i).unwrap_err().contains("line 1"));
        std::fs::remove_file(&path).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn backend_names_are_the_linux_ports() {
        for b in BACKENDS {
            assert!(b.parse::<l2net_linux::link::Backend>().is_ok(), "{b}");
        }
        for b in l2net_linux::link::Backend::CONCRETE {
            assert!(BACKENDS.contains(&b.name()), "{b} missing");
        }
    }

    #[test]
    fn config_file_syntax() {
        assert_eq!(
            parse_config("# c\n interface = \"enp3s0\" # x\n").unwrap(),
            FileConfig {
                interface: Some("enp3s0".into()),
                ..FileConfig::default()
            }
        );
        assert_eq!(parse_config("").unwrap(), FileConfig::default());
        assert_eq!(
            parse_config("backend = ring").unwrap().backend.as_deref(),
            Some("ring")
        );
        assert!(
            parse_config("backend = rings")
                .unwrap_err()
                .contains("line 1: unknown backend")
        );
        assert!(
            parse_config("iface = x")
                .unwrap_err()
                .contains("unknown key")
        );
        assert!(parse_config("interface").unwrap_err().contains("line 1"));
        assert!(parse_config("interface =").unwrap_err().contains("empty"));
    }

    #[test]
    fn localhost_domain_peers_security() {
        let mut i = inputs();
        i.discovery_range = RMW_AUTOMATIC_DISCOVERY_RANGE_LOCALHOST;
        i.domain_id = 42;
        i.static_peers = vec!["02:00:00:00:00:01".into()];
        let s = resolve(&i).unwrap();
        assert_eq!((s.interface.as_str(), s.domain), ("lo", 42));
        assert_eq!(s.static_peers.len(), 1);
        i.static_peers = vec!["192.168.1.2".into()];
        assert!(resolve(&i).unwrap_err().contains("not a MAC"));
        i.static_peers.clear();
        i.domain_id = 70000;
        assert!(resolve(&i).unwrap_err().contains("out of range"));
        i.domain_id = 1;
        i.discovery_range = RMW_AUTOMATIC_DISCOVERY_RANGE_OFF;
        assert!(resolve(&i).unwrap_err().contains("OFF"));
        i.discovery_range = RMW_AUTOMATIC_DISCOVERY_RANGE_SUBNET;
        i.localhost_only = RMW_LOCALHOST_ONLY_ENABLED;
        assert_eq!(resolve(&i).unwrap().interface, "lo");
        i.enforce_security = RMW_SECURITY_ENFORCEMENT_ENFORCE;
        assert!(resolve(&i).unwrap_err().contains("security"));
    }
}

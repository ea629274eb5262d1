//! The ROS graph: which nodes exist and which publishers, subscriptions, services and clients
//! each has. l2net discovery knows participants and their endpoints but not ROS nodes (one
//! participant carries every node of a context), so each context publishes its nodes and their
//! endpoints on a reliable, transient-local topic ([`GRAPH_TOPIC`]), as rmw_dds_common does with
//! `ros_discovery_info`, and keeps the latest description of every other participant. A
//! participant's description is dropped when l2net reports it lost.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

/// The topic the graph descriptions travel on.
pub const GRAPH_TOPIC: &str = "/_l2net/ros_graph";
/// Its type name.
pub const GRAPH_TYPE: &str = "rmw_l2net/GraphInfo";
/// Format version, the first byte of a description.
const VERSION: u8 = 2;

/// What an endpoint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Publisher,
    Subscription,
    Service,
    Client,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Publisher => 0,
            Kind::Subscription => 1,
            Kind::Service => 2,
            Kind::Client => 3,
        }
    }

    fn from_code(c: u8) -> Option<Kind> {
        Some(match c {
            0 => Kind::Publisher,
            1 => Kind::Subscription,
            2 => Kind::Service,
            3 => Kind::Client,
            _ => return None,
        })
    }
}

/// The QoS of an endpoint as reported to graph queries (the resolved rmw profile, flattened).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QosDesc {
    pub history: i32,
    pub depth: u64,
    pub reliability: i32,
    pub durability: i32,
    pub deadline: (u64, u64),
    pub lifespan: (u64, u64),
    pub liveliness: i32,
    pub liveliness_lease: (u64, u64),
}

/// One endpoint of a node. A service or client is listed once, with the service name and the
/// service type (`pkg/srv/Type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointDesc {
    pub kind: Kind,
    pub name: String,
    pub type_name: String,
    pub gid: [u8; 16],
    /// The type's RIHS01 hash, when the type support gives one.
    pub type_hash: Option<[u8; 32]>,
    pub qos: QosDesc,
}

/// One ROS node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeDesc {
    pub name: String,
    pub namespace: String,
    pub enclave: String,
    pub endpoints: Vec<EndpointDesc>,
}

/// Why a description could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Truncated,
    Version(u8),
    BadKind(u8),
    BadUtf8,
    TooMany,
    BadHash(u8),
}

/// Encodes the nodes of one participant.
pub fn encode(nodes: &[NodeDesc]) -> Vec<u8> {
    fn s(out: &mut Vec<u8>, v: &str) {
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    fn t(out: &mut Vec<u8>, (a, b): (u64, u64)) {
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
    }
    let mut out = vec![VERSION];
    out.extend_from_slice(&(nodes.len() as u32).to_le_bytes());
    for n in nodes {
        s(&mut out, &n.name);
        s(&mut out, &n.namespace);
        s(&mut out, &n.enclave);
        out.extend_from_slice(&(n.endpoints.len() as u32).to_le_bytes());
        for e in &n.endpoints {
            out.push(e.kind.code());
            s(&mut out, &e.name);
            s(&mut out, &e.type_name);
            out.extend_from_slice(&e.gid);
            match &e.type_hash {
                Some(h) => {
                    out.push(1);
                    out.extend_from_slice(h);
                }
                None => out.push(0),
            }
            let q = &e.qos;
            out.extend_from_slice(&q.history.to_le_bytes());
            out.extend_from_slice(&q.depth.to_le_bytes());
            out.extend_from_slice(&q.reliability.to_le_bytes());
            out.extend_from_slice(&q.durability.to_le_bytes());
            t(&mut out, q.deadline);
            t(&mut out, q.lifespan);
            out.extend_from_slice(&q.liveliness.to_le_bytes());
            t(&mut out, q.liveliness_lease);
        }
    }
    out
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn time(&mut self) -> Result<(u64, u64), DecodeError> {
        Ok((self.u64()?, self.u64()?))
    }
    /// A count of items each at least `min` bytes long: refused when the rest cannot hold them.
    fn count(&mut self, min: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.0.len() {
            return Err(DecodeError::TooMany);
        }
        Ok(n)
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.count(1)?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| DecodeError::BadUtf8)
    }
}

/// Decodes a description made by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<NodeDesc>, DecodeError> {
    let mut c = Cursor(bytes);
    match c.u8()? {
        VERSION => {}
        v => return Err(DecodeError::Version(v)),
    }
    let n = c.count(16)?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let name = c.string()?;
        let namespace = c.string()?;
        let enclave = c.string()?;
        let ne = c.count(30)?;
        let mut endpoints = Vec::with_capacity(ne);
        for _ in 0..ne {
            let code = c.u8()?;
            let kind = Kind::from_code(code).ok_or(DecodeError::BadKind(code))?;
            let name = c.string()?;
            let type_name = c.string()?;
            let mut gid = [0u8; 16];
            gid.copy_from_slice(c.take(16)?);
            let type_hash = match c.u8()? {
                0 => None,
                1 => {
                    let mut h = [0u8; 32];
                    h.copy_from_slice(c.take(32)?);
                    Some(h)
                }
                v => return Err(DecodeError::BadHash(v)),
            };
            let qos = QosDesc {
                history: c.i32()?,
                depth: c.u64()?,
                reliability: c.i32()?,
                durability: c.i32()?,
                deadline: c.time()?,
                lifespan: c.time()?,
                liveliness: c.i32()?,
                liveliness_lease: c.time()?,
            };
            endpoints.push(EndpointDesc {
                kind,
                name,
                type_name,
                gid,
                type_hash,
                qos,
            });
        }
        nodes.push(NodeDesc {
            name,
            namespace,
            enclave,
            endpoints,
        });
    }
    Ok(nodes)
}

/// The local nodes of a context, by key.
#[derive(Debug, Default)]
pub struct Local {
    next: u64,
    nodes: BTreeMap<u64, NodeDesc>,
    endpoints: BTreeMap<u64, (u64, EndpointDesc)>,
}

impl Local {
    /// Adds a node; returns its key.
    pub fn add_node(&mut self, name: &str, namespace: &str, enclave: &str) -> u64 {
        self.next += 1;
        self.nodes.insert(
            self.next,
            NodeDesc {
                name: name.into(),
                namespace: namespace.into(),
                enclave: enclave.into(),
                endpoints: Vec::new(),
            },
        );
        self.next
    }

    /// Removes a node and its endpoints.
    pub fn remove_node(&mut self, key: u64) {
        self.nodes.remove(&key);
        self.endpoints.retain(|_, (n, _)| *n != key);
    }

    /// Adds an endpoint to node `node`; returns its key.
    pub fn add_endpoint(&mut self, node: u64, e: EndpointDesc) -> u64 {
        self.next += 1;
        self.endpoints.insert(self.next, (node, e));
        self.next
    }

    /// Removes an endpoint.
    pub fn remove_endpoint(&mut self, key: u64) {
        self.endpoints.remove(&key);
    }

    /// The nodes with their endpoints.
    pub fn snapshot(&self) -> Vec<NodeDesc> {
        let mut nodes = self.nodes.clone();
        for (node, e) in self.endpoints.values() {
            if let Some(n) = nodes.get_mut(node) {
                n.endpoints.push(e.clone());
            }
        }
        nodes.into_values().collect()
    }
}

/// Every node known to a context: its own and the latest description of each remote
/// participant.
#[derive(Debug, Default)]
pub struct View {
    pub nodes: Vec<NodeDesc>,
}

impl View {
    /// Endpoints of `kind` named `name`.
    pub fn count(&self, kind: Kind, name: &str) -> usize {
        self.endpoints()
            .filter(|(_, e)| e.kind == kind && e.name == name)
            .count()
    }

    /// Every endpoint with its node.
    pub fn endpoints(&self) -> impl Iterator<Item = (&NodeDesc, &EndpointDesc)> {
        self.nodes
            .iter()
            .flat_map(|n| n.endpoints.iter().map(move |e| (n, e)))
    }

    /// Names and their sorted, distinct types for endpoints whose kind is in `kinds`, of the
    /// node `node` (name, namespace) if given.
    pub fn names_and_types(
        &self,
        kinds: &[Kind],
        node: Option<(&str, &str)>,
    ) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (n, e) in self.endpoints() {
            if !kinds.contains(&e.kind) {
                continue;
            }
            if let Some((name, ns)) = node
                && (n.name != name || n.namespace != ns)
            {
                continue;
            }
            let types = out.entry(e.name.clone()).or_default();
            if !types.contains(&e.type_name) {
                types.push(e.type_name.clone());
                types.sort();
            }
        }
        out
    }

    /// Whether node (name, namespace) exists.
    pub fn has_node(&self, name: &str, namespace: &str) -> bool {
        self.nodes
            .iter()
            .any(|n| n.name == name && n.namespace == namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<NodeDesc> {
        vec![
            NodeDesc {
                name: "talker".into(),
                namespace: "/".into(),
                enclave: "/".into(),
                endpoints: vec![
                    EndpointDesc {
                        kind: Kind::Publisher,
                        name: "/chatter".into(),
                        type_name: "std_msgs/msg/String".into(),
                        gid: [7; 16],
                        type_hash: Some([9; 32]),
                        qos: QosDesc {
                            depth: 10,
                            reliability: 1,
                            deadline: (1, 2),
                            ..Default::default()
                        },
                    },
                    EndpointDesc {
                        kind: Kind::Service,
                        name: "/add".into(),
                        type_name: "example/srv/Add".into(),
                        gid: [1; 16],
                        type_hash: None,
                        qos: QosDesc::default(),
                    },
                ],
            },
            NodeDesc {
                name: "listener".into(),
                namespace: "/ns".into(),
                enclave: "/".into(),
                endpoints: vec![],
            },
        ]
    }

    #[test]
    fn round_trip_and_every_truncation_fails_cleanly() {
        let nodes = sample();
        let bytes = encode(&nodes);
        assert_eq!(decode(&bytes).unwrap(), nodes);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "truncated at {n}");
        }
        let mut bad = bytes.clone();
        bad[0] = 9;
        assert_eq!(decode(&bad), Err(DecodeError::Version(9)));
        let mut huge = vec![VERSION];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge), Err(DecodeError::TooMany));
    }

    #[test]
    fn local_registry_and_queries() {
        let mut l = Local::default();
        let a = l.add_node("talker", "/", "/");
        let b = l.add_node("listener", "/", "/");
        let mk = |kind, name: &str, ty: &str| EndpointDesc {
            kind,
            name: name.into(),
            type_name: ty.into(),
            gid: [0; 16],
            type_hash: None,
            qos: QosDesc::default(),
        };
        let p = l.add_endpoint(a, mk(Kind::Publisher, "/chatter", "std_msgs/msg/String"));
        l.add_endpoint(b, mk(Kind::Subscription, "/chatter", "std_msgs/msg/String"));
        l.add_endpoint(b, mk(Kind::Subscription, "/chatter", "other/msg/String"));
        let v = View {
            nodes: l.snapshot(),
        };
        assert_eq!(v.count(Kind::Publisher, "/chatter"), 1);
        assert_eq!(v.count(Kind::Subscription, "/chatter"), 2);
        let all = v.names_and_types(&[Kind::Publisher, Kind::Subscription], None);
        assert_eq!(all["/chatter"], ["other/msg/String", "std_msgs/msg/String"]);
        let by = v.names_and_types(&[Kind::Publisher], Some(("talker", "/")));
        assert_eq!(by.len(), 1);
        assert!(v.has_node("listener", "/") && !v.has_node("listener", "/x"));
        l.remove_endpoint(p);
        l.remove_node(b);
        let v = View {
            nodes: l.snapshot(),
        };
        assert_eq!(v.count(Kind::Publisher, "/chatter"), 0);
        assert_eq!(v.nodes.len(), 1);
    }
}

//! Message bodies (`docs/PROTOCOL.md` sections 3 and 4).
//!
//! One `Repr` per message kind, each with `parse(flags, body)`, `flags()`, `buffer_len()` and
//! `emit(buf)`; [`MessageRepr`] dispatches on [`MsgKind`]. Parsing is zero-copy: names, topics,
//! sample payloads and fragments are `&'a` slices of the received frame. Lists inside a body
//! (HELLO endpoints, BATCH samples) are iterated in place.
//!
//! Every `emit` first checks everything `parse` checks, so whatever emits successfully parses
//! back to an equal value. An `emit` into a buffer shorter than `buffer_len()` fails with
//! [`WireError::BufferTooSmall`] (its `need` is `buffer_len()`), having written the part that
//! fits. Bytes after the fields a kind defines (up to the header's `length`)
//! are ignored on receive: later protocol revisions may append fields there (section 6).

use core::fmt;

use zerocopy::byteorder::network_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Ref, Unaligned};

use super::{EntityId, MsgKind, ParticipantId, WireError};

/// Per-kind bits of the header's `flags` field.
pub mod flags {
    /// HELLO: the receiver should answer with a unicast HELLO (static-peer probing).
    pub const HELLO_REPLY_REQUESTED: u8 = 0x01;
    /// HELLO: the endpoint list is followed by one extension record per endpoint (liveliness).
    /// Receivers that do not know the flag ignore it and the trailing records.
    pub const HELLO_ENDPOINT_EXT: u8 = 0x02;
    /// DATA, DATA_FRAG: the related-sample fields are present.
    pub const DATA_HAS_RELATED: u8 = 0x01;
    /// HEARTBEAT: no answer is needed.
    pub const HEARTBEAT_FINAL: u8 = 0x01;
    /// HEARTBEAT: the writer asserts its liveliness manually.
    pub const HEARTBEAT_LIVELINESS: u8 = 0x02;
    /// ACKNACK: no answer is needed.
    pub const ACKNACK_FINAL: u8 = 0x01;
    /// ACKNACK: the bitmap ends where the reader's room ends (flow control, section 10).
    /// Writers that do not know the flag ignore it.
    pub const ACKNACK_ROOM: u8 = 0x02;
}

/// Longest participant name in a HELLO, in bytes.
pub const MAX_NAME_LEN: usize = 63;
/// Longest topic or type name in a HELLO endpoint, in bytes.
pub const MAX_TOPIC_LEN: usize = 255;
/// Length of an endpoint's type hash when present.
pub const TYPE_HASH_LEN: usize = 32;
/// Most endpoints one HELLO carries.
pub const MAX_ENDPOINTS_PER_HELLO: usize = u8::MAX as usize;
/// Most samples one BATCH carries.
pub const MAX_BATCH_SAMPLES: usize = u16::MAX as usize;
/// Largest sample inside a BATCH.
pub const MAX_BATCH_SAMPLE_LEN: usize = u16::MAX as usize;

// ---------------------------------------------------------------------------------------------
// Cursor helpers: every read and write is bounds-checked and returns an error instead of
// panicking.

/// What a [`Reader`] read past the end of its bytes: [`WireError::Truncated`] where a parser
/// returns it. A unit error, so that a read's result is a pointer or `None`-like value in
/// registers and a `?` after each read costs little (a `WireError` result is three words,
/// moved up through every parser).
#[derive(Clone, Copy)]
struct Truncated;

impl From<Truncated> for WireError {
    fn from(_: Truncated) -> Self {
        WireError::Truncated
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn fixed<T: FromBytes + KnownLayout + Immutable + Unaligned>(
        &mut self,
    ) -> Result<&'a T, Truncated> {
        let (r, rest) = Ref::<&'a [u8], T>::from_prefix(self.rest).map_err(|_| Truncated)?;
        self.rest = rest;
        Ok(Ref::into_ref(r))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let (head, rest) = self.rest.split_at_checked(n).ok_or(Truncated)?;
        self.rest = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Truncated> {
        let (&b, rest) = self.rest.split_first().ok_or(Truncated)?;
        self.rest = rest;
        Ok(b)
    }

    /// A `u8` length followed by that many bytes.
    fn short_bytes(&mut self) -> Result<&'a [u8], Truncated> {
        let n = self.u8()?;
        self.bytes(usize::from(n))
    }
}

fn utf8(b: &[u8]) -> Result<&str, WireError> {
    core::str::from_utf8(b).map_err(|_| WireError::InvalidUtf8)
}

fn check_str(s: &str, max: usize) -> Result<(), WireError> {
    if s.len() > max {
        Err(WireError::StringTooLong { len: s.len(), max })
    } else {
        Ok(())
    }
}

/// Writes fields one after another. The writes cannot fail and carry no `Result` (a `?` after
/// each cost code in every emitter): one that does not fit the buffer writes nothing and counts
/// its bytes all the same, so that [`Writer::done`] reports the length the body needs.
struct Writer<'a> {
    buf: &'a mut [u8],
    /// Bytes written or counted so far (`usize::MAX` after a `short_bytes` longer than 255).
    at: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, at: 0 }
    }

    fn fixed<T: IntoBytes + Immutable>(&mut self, v: &T) {
        self.bytes(v.as_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        let end = self.at.saturating_add(b.len());
        if let Some(slot) = self.buf.get_mut(self.at..end) {
            super::copy_prefix(slot, b);
        }
        self.at = end;
    }

    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    /// A `u8` length followed by the bytes; the caller checked `b.len() <= 255` (a longer one
    /// makes [`Writer::done`] fail).
    fn short_bytes(&mut self, b: &[u8]) {
        match u8::try_from(b.len()) {
            Ok(n) => {
                self.u8(n);
                self.bytes(b);
            }
            Err(_) => self.at = usize::MAX,
        }
    }

    /// The bytes written, or [`WireError::BufferTooSmall`] (with the length the body needs) if
    /// they did not all fit; the buffer then holds the part that did.
    fn done(self) -> Result<usize, WireError> {
        super::error::check_buffer(self.buf.len(), self.at)?;
        Ok(self.at)
    }
}

fn nonzero_seq(seq: u64) -> Result<u64, WireError> {
    if seq == 0 {
        Err(WireError::BadSequence)
    } else {
        Ok(seq)
    }
}

// ---------------------------------------------------------------------------------------------
// HELLO

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct HelloFixed {
    lease_ms: U32,
    graph_epoch: U32,
    first_endpoint_index: U16,
    total_endpoints: U16,
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct EndpointFixed {
    entity_id: U32,
    endpoint_kind: u8,
    qos_flags: u8,
    history_depth: U16,
    deadline_ms: U32,
    lifespan_ms: U32,
}

/// What an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum EndpointKind {
    /// A topic publisher (writer).
    Publisher = 0,
    /// A topic subscriber (reader).
    Subscriber = 1,
    /// A service server: reads requests, writes replies.
    ServiceServer = 2,
    /// A service client: writes requests, reads replies.
    ServiceClient = 3,
}

impl EndpointKind {
    /// The kind with wire value `v`, or [`WireError::UnknownEndpointKind`].
    pub const fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            0 => EndpointKind::Publisher,
            1 => EndpointKind::Subscriber,
            2 => EndpointKind::ServiceServer,
            3 => EndpointKind::ServiceClient,
            other => return Err(WireError::UnknownEndpointKind(other)),
        })
    }
}

/// Quality-of-service settings announced with an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Qos {
    /// Reliable delivery (HEARTBEAT/ACKNACK repair) instead of best effort.
    pub reliable: bool,
    /// Transient-local durability: late joiners receive the history.
    pub transient_local: bool,
    /// Keep-all history instead of keep-last `history_depth`.
    pub keep_all: bool,
    /// History depth for keep-last.
    pub history_depth: u16,
    /// Deadline in milliseconds; 0 = none.
    pub deadline_ms: u32,
    /// Lifespan in milliseconds; 0 = infinite.
    pub lifespan_ms: u32,
    /// Liveliness is asserted by the writer per topic (samples, LIVELINESS HEARTBEATs) instead
    /// of following the participant's lease. Carried in the HELLO extension record.
    pub liveliness_manual: bool,
    /// Liveliness lease in milliseconds; 0 = infinite. Carried in the HELLO extension record.
    pub liveliness_lease_ms: u32,
}

impl Qos {
    const RELIABLE: u8 = 0x01;
    const TRANSIENT_LOCAL: u8 = 0x02;
    const KEEP_ALL: u8 = 0x04;

    /// True if the endpoint needs the HELLO extension record (its liveliness is not the
    /// default: automatic, infinite lease).
    pub const fn has_extension(&self) -> bool {
        self.liveliness_manual || self.liveliness_lease_ms != 0
    }

    /// The `qos_flags` byte.
    pub const fn flags(&self) -> u8 {
        (self.reliable as u8 * Self::RELIABLE)
            | (self.transient_local as u8 * Self::TRANSIENT_LOCAL)
            | (self.keep_all as u8 * Self::KEEP_ALL)
    }
}

/// One endpoint announced in a HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EndpointRepr<'a> {
    /// The endpoint's entity id inside the announcing participant.
    pub entity: EntityId,
    /// Publisher, subscriber, service server or client.
    pub kind: EndpointKind,
    /// Quality of service.
    pub qos: Qos,
    /// Topic (or service) name, at most 255 bytes of UTF-8.
    pub topic: &'a str,
    /// Type name, at most 255 bytes of UTF-8.
    pub type_name: &'a str,
    /// Hash of the type's definition, if the announcer has one.
    pub type_hash: Option<&'a [u8; TYPE_HASH_LEN]>,
}

const ENDPOINT_FIXED_LEN: usize = core::mem::size_of::<EndpointFixed>();

/// `liveliness_kind` values of the HELLO extension record.
const LIVELINESS_AUTOMATIC: u8 = 0;
const LIVELINESS_MANUAL_BY_TOPIC: u8 = 1;
/// Bytes of the extension record this version writes after its length byte: `liveliness_kind`
/// (1) and `liveliness_lease_ms` (4).
const EXT_BODY_LEN: usize = 5;

impl<'a> EndpointRepr<'a> {
    /// Bytes one endpoint's extension record takes (length byte included) when a HELLO page
    /// carries the extension block (section 4.1): add it per endpoint to bound a page's size.
    pub const EXTENSION_LEN: usize = 1 + EXT_BODY_LEN;

    fn write_extension(&self, w: &mut Writer<'_>) {
        w.u8(EXT_BODY_LEN as u8);
        w.u8(if self.qos.liveliness_manual {
            LIVELINESS_MANUAL_BY_TOPIC
        } else {
            LIVELINESS_AUTOMATIC
        });
        w.bytes(&self.qos.liveliness_lease_ms.to_be_bytes());
    }

    /// Apply one received extension record (its bytes after the length byte). Fields this
    /// version does not know are ignored; fields the record is too short to hold keep their
    /// defaults.
    fn apply_extension(&mut self, ext: &[u8]) -> Result<(), WireError> {
        if let Some(&kind) = ext.first() {
            self.qos.liveliness_manual = match kind {
                LIVELINESS_AUTOMATIC => false,
                LIVELINESS_MANUAL_BY_TOPIC => true,
                k => return Err(WireError::UnknownLiveliness(k)),
            };
        }
        if let Some(lease) = ext.get(1..5) {
            let mut b = [0u8; 4];
            b.copy_from_slice(lease);
            self.qos.liveliness_lease_ms = u32::from_be_bytes(b);
        }
        Ok(())
    }

    /// Bytes the endpoint takes in a HELLO.
    pub const fn buffer_len(&self) -> usize {
        ENDPOINT_FIXED_LEN
            + 1
            + self.topic.len()
            + 1
            + self.type_name.len()
            + 1
            + if self.type_hash.is_some() {
                TYPE_HASH_LEN
            } else {
                0
            }
    }

    fn check(&self) -> Result<(), WireError> {
        check_str(self.topic, MAX_TOPIC_LEN)?;
        check_str(self.type_name, MAX_TOPIC_LEN)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        self.check()?;
        w.fixed(&EndpointFixed {
            entity_id: U32::new(self.entity.0),
            endpoint_kind: self.kind as u8,
            qos_flags: self.qos.flags(),
            history_depth: U16::new(self.qos.history_depth),
            deadline_ms: U32::new(self.qos.deadline_ms),
            lifespan_ms: U32::new(self.qos.lifespan_ms),
        });
        w.short_bytes(self.topic.as_bytes());
        w.short_bytes(self.type_name.as_bytes());
        match self.type_hash {
            Some(h) => w.short_bytes(h),
            None => w.u8(0),
        }
        Ok(())
    }
}

/// The raw parts of one endpoint entry: its framing is sound, its content not yet checked.
struct RawEndpoint<'a> {
    fixed: &'a EndpointFixed,
    topic: &'a [u8],
    type_name: &'a [u8],
    hash: &'a [u8],
}

impl<'a> RawEndpoint<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, Truncated> {
        Ok(RawEndpoint {
            fixed: r.fixed()?,
            topic: r.short_bytes()?,
            type_name: r.short_bytes()?,
            hash: r.short_bytes()?,
        })
    }

    fn len(&self) -> usize {
        ENDPOINT_FIXED_LEN + 3 + self.topic.len() + self.type_name.len() + self.hash.len()
    }

    fn decode(&self) -> Result<EndpointRepr<'a>, WireError> {
        let f = self.fixed;
        let type_hash = match self.hash.len() {
            0 => None,
            TYPE_HASH_LEN => Some(
                <&[u8; TYPE_HASH_LEN]>::try_from(self.hash)
                    .map_err(|_| WireError::BadTypeHashLen(TYPE_HASH_LEN as u8))?,
            ),
            // The length came from a u8, so it fits.
            n => return Err(WireError::BadTypeHashLen(n as u8)),
        };
        Ok(EndpointRepr {
            entity: EntityId(f.entity_id.get()),
            kind: EndpointKind::from_u8(f.endpoint_kind)?,
            qos: Qos {
                reliable: f.qos_flags & Qos::RELIABLE != 0,
                transient_local: f.qos_flags & Qos::TRANSIENT_LOCAL != 0,
                keep_all: f.qos_flags & Qos::KEEP_ALL != 0,
                history_depth: f.history_depth.get(),
                deadline_ms: f.deadline_ms.get(),
                lifespan_ms: f.lifespan_ms.get(),
                liveliness_manual: false,
                liveliness_lease_ms: 0,
            },
            topic: utf8(self.topic)?,
            type_name: utf8(self.type_name)?,
            type_hash,
        })
    }
}

/// The endpoints of a HELLO: either a caller's list (to emit) or the received bytes (parsed
/// lazily by [`Endpoints::iter`]).
#[derive(Clone, Copy)]
pub enum Endpoints<'a> {
    /// Endpoints to announce.
    List(&'a [EndpointRepr<'a>]),
    /// Endpoints as received: `count` entries at the start of `bytes`, not yet validated.
    Wire {
        /// The `endpoint_count` field.
        count: u8,
        /// The body bytes from the first entry on (trailing bytes included).
        bytes: &'a [u8],
        /// [`flags::HELLO_ENDPOINT_EXT`]: the entries are followed by one extension record
        /// each.
        ext: bool,
    },
}

impl<'a> Endpoints<'a> {
    /// Number of entries (as announced by `endpoint_count` for received lists).
    pub fn len(&self) -> usize {
        match self {
            Endpoints::List(l) => l.len(),
            Endpoints::Wire { count, .. } => usize::from(*count),
        }
    }

    /// True if there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterate the entries. A received entry with bad content (unknown kind, bad UTF-8, a type
    /// hash length other than 0 or 32) yields an error and iteration continues with the next
    /// entry; an entry that runs past the end of the body yields [`WireError::Truncated`] and
    /// ends the iteration.
    pub fn iter(&self) -> EndpointIter<'a> {
        match *self {
            Endpoints::List(l) => EndpointIter {
                inner: IterInner::List(l.iter()),
            },
            Endpoints::Wire { count, bytes, ext } => {
                let records = if ext {
                    let (entries, _) = Self::entries_len(count, bytes);
                    Some(Reader::new(bytes.get(entries..).unwrap_or(&[])))
                } else {
                    None
                };
                EndpointIter {
                    inner: IterInner::Wire {
                        r: Reader::new(bytes),
                        remaining: count,
                        ext: records,
                    },
                }
            }
        }
    }

    /// Bytes taken by the first `count` framed entries of `bytes`, and whether all were framed.
    fn entries_len(count: u8, bytes: &[u8]) -> (usize, bool) {
        let mut r = Reader::new(bytes);
        let mut n = 0;
        for _ in 0..count {
            match RawEndpoint::read(&mut r) {
                Ok(e) => n += e.len(),
                Err(_) => return (n, false),
            }
        }
        (n, true)
    }

    /// True if the page carries the extension records ([`flags::HELLO_ENDPOINT_EXT`]): some
    /// endpoint's QoS is not the default.
    pub fn needs_extension(&self) -> bool {
        self.iter().any(|e| e.is_ok_and(|e| e.qos.has_extension()))
    }

    fn wire_len(&self) -> usize {
        let entries: usize = match *self {
            Endpoints::List(l) => l.iter().map(EndpointRepr::buffer_len).sum(),
            Endpoints::Wire { count, bytes, .. } => Self::entries_len(count, bytes).0,
        };
        if self.needs_extension() {
            entries + self.len() * EndpointRepr::EXTENSION_LEN
        } else {
            entries
        }
    }
}

impl PartialEq for Endpoints<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Endpoints<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Endpoints<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Endpoints({=usize})", self.len())
    }
}

enum IterInner<'a> {
    List(core::slice::Iter<'a, EndpointRepr<'a>>),
    Wire {
        r: Reader<'a>,
        remaining: u8,
        /// The extension block after the entries, if the page has one.
        ext: Option<Reader<'a>>,
    },
}

/// Iterator over a HELLO's endpoints; see [`Endpoints::iter`].
pub struct EndpointIter<'a> {
    inner: IterInner<'a>,
}

impl<'a> Iterator for EndpointIter<'a> {
    type Item = Result<EndpointRepr<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            IterInner::List(it) => it.next().map(|e| Ok(*e)),
            IterInner::Wire { r, remaining, ext } => {
                if *remaining == 0 {
                    return None;
                }
                let raw = match RawEndpoint::read(r) {
                    Ok(raw) => raw,
                    Err(e) => {
                        *remaining = 0;
                        return Some(Err(e.into()));
                    }
                };
                *remaining -= 1;
                // The entry's extension record, when the page has the block: a record that runs
                // past the body ends the list like a truncated entry.
                let record = match ext.as_mut().map(Reader::short_bytes) {
                    None => None,
                    Some(Ok(rec)) => Some(rec),
                    Some(Err(e)) => {
                        *remaining = 0;
                        return Some(Err(e.into()));
                    }
                };
                Some(raw.decode().and_then(|mut e| {
                    if let Some(rec) = record {
                        e.apply_extension(rec)?;
                    }
                    Ok(e)
                }))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            IterInner::List(it) => it.size_hint(),
            IterInner::Wire { remaining, .. } => (0, Some(usize::from(*remaining))),
        }
    }
}

/// HELLO: announces a participant and one page of its endpoints.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HelloRepr<'a> {
    /// Ask the receiver for a unicast HELLO back ([`flags::HELLO_REPLY_REQUESTED`]).
    pub reply_requested: bool,
    /// How long the announcement stays valid without another HELLO, in milliseconds.
    pub lease_ms: u32,
    /// Changes whenever the announced content (name or any endpoint) changes.
    pub graph_epoch: u32,
    /// Index of this page's first endpoint in the participant's whole list.
    pub first_endpoint_index: u16,
    /// Number of endpoints the participant has in all.
    pub total_endpoints: u16,
    /// Participant name, at most [`MAX_NAME_LEN`] bytes of UTF-8.
    pub name: &'a str,
    /// This page's endpoints.
    pub endpoints: Endpoints<'a>,
}

impl<'a> HelloRepr<'a> {
    /// Body bytes before the first endpoint, for a name of `name_len` bytes. A page holds
    /// endpoints while `overhead + sum(endpoint.buffer_len())` fits the link's
    /// [`max_body_len`](crate::wire::frame::max_body_len).
    pub const fn overhead(name_len: usize) -> usize {
        core::mem::size_of::<HelloFixed>() + 1 + name_len + 1
    }

    /// Parse a HELLO body.
    pub fn parse(flags: u8, body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let f: &HelloFixed = r.fixed()?;
        let name = utf8(r.short_bytes()?)?;
        check_str(name, MAX_NAME_LEN)?;
        let count = r.u8()?;
        let (first, total) = (f.first_endpoint_index.get(), f.total_endpoints.get());
        if u32::from(first) + u32::from(count) > u32::from(total) {
            return Err(WireError::BadEndpointPage);
        }
        Ok(HelloRepr {
            reply_requested: flags & flags::HELLO_REPLY_REQUESTED != 0,
            lease_ms: f.lease_ms.get(),
            graph_epoch: f.graph_epoch.get(),
            first_endpoint_index: first,
            total_endpoints: total,
            name,
            endpoints: Endpoints::Wire {
                count,
                bytes: r.rest,
                ext: flags & flags::HELLO_ENDPOINT_EXT != 0,
            },
        })
    }

    /// The header flags for this message.
    pub fn flags(&self) -> u8 {
        let mut f = 0;
        if self.reply_requested {
            f |= flags::HELLO_REPLY_REQUESTED;
        }
        if self.endpoints.needs_extension() {
            f |= flags::HELLO_ENDPOINT_EXT;
        }
        f
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        Self::overhead(self.name.len()) + self.endpoints.wire_len()
    }

    /// Write the body at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        check_str(self.name, MAX_NAME_LEN)?;
        let count = u8::try_from(self.endpoints.len()).map_err(|_| WireError::TooManyEntries)?;
        if u32::from(self.first_endpoint_index) + u32::from(count) > u32::from(self.total_endpoints)
        {
            return Err(WireError::BadEndpointPage);
        }
        let mut w = Writer::new(buf);
        w.fixed(&HelloFixed {
            lease_ms: U32::new(self.lease_ms),
            graph_epoch: U32::new(self.graph_epoch),
            first_endpoint_index: U16::new(self.first_endpoint_index),
            total_endpoints: U16::new(self.total_endpoints),
        });
        w.short_bytes(self.name.as_bytes());
        w.u8(count);
        for e in self.endpoints.iter() {
            e?.write(&mut w)?;
        }
        if self.endpoints.needs_extension() {
            // The loop above returned on any bad entry: these are all `Ok`.
            for e in self.endpoints.iter().flatten() {
                e.write_extension(&mut w);
            }
        }
        w.done()
    }
}

// ---------------------------------------------------------------------------------------------
// GOODBYE

/// GOODBYE: the participant leaves. The body is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GoodbyeRepr;

impl GoodbyeRepr {
    /// Parse a GOODBYE body (any bytes are ignored).
    pub fn parse(_flags: u8, _body: &[u8]) -> Result<Self, WireError> {
        Ok(GoodbyeRepr)
    }
    /// The header flags (none).
    pub fn flags(&self) -> u8 {
        0
    }
    /// Bytes the body takes (0).
    pub fn buffer_len(&self) -> usize {
        0
    }
    /// Write the (empty) body.
    pub fn emit(&self, _buf: &mut [u8]) -> Result<usize, WireError> {
        Ok(0)
    }
}

// ---------------------------------------------------------------------------------------------
// DATA and DATA_FRAG

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct SampleFixed {
    writer: U32,
    seq: U64,
    source_timestamp_ns: U64,
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RelatedFixed {
    participant: U64,
    entity: U32,
    seq: U64,
}

const SAMPLE_FIXED_LEN: usize = core::mem::size_of::<SampleFixed>();
const RELATED_LEN: usize = core::mem::size_of::<RelatedFixed>();

/// The sample a DATA or DATA_FRAG relates to (a service reply names its request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RelatedSample {
    /// Participant of the related sample's writer.
    pub participant: ParticipantId,
    /// Entity id of the related sample's writer.
    pub entity: EntityId,
    /// Sequence number of the related sample (never 0).
    pub seq: u64,
}

/// The fields DATA and DATA_FRAG share.
struct SampleHead {
    writer: EntityId,
    seq: u64,
    source_timestamp_ns: u64,
    related: Option<RelatedSample>,
}

impl SampleHead {
    fn read(r: &mut Reader<'_>, flags: u8) -> Result<Self, WireError> {
        let f: &SampleFixed = r.fixed()?;
        let related = if flags & flags::DATA_HAS_RELATED != 0 {
            let rel: &RelatedFixed = r.fixed()?;
            Some(RelatedSample {
                participant: ParticipantId::from_wire(rel.participant.get())?,
                entity: EntityId(rel.entity.get()),
                seq: nonzero_seq(rel.seq.get())?,
            })
        } else {
            None
        };
        Ok(SampleHead {
            writer: EntityId(f.writer.get()),
            seq: nonzero_seq(f.seq.get())?,
            source_timestamp_ns: f.source_timestamp_ns.get(),
            related,
        })
    }

    fn check(seq: u64, related: &Option<RelatedSample>) -> Result<(), WireError> {
        nonzero_seq(seq)?;
        if let Some(rel) = related {
            nonzero_seq(rel.seq)?;
        }
        Ok(())
    }

    fn write(
        w: &mut Writer<'_>,
        writer: EntityId,
        seq: u64,
        ts: u64,
        related: &Option<RelatedSample>,
    ) {
        w.fixed(&SampleFixed {
            writer: U32::new(writer.0),
            seq: U64::new(seq),
            source_timestamp_ns: U64::new(ts),
        });
        if let Some(rel) = related {
            w.fixed(&RelatedFixed {
                participant: U64::new(rel.participant.get()),
                entity: U32::new(rel.entity.0),
                seq: U64::new(rel.seq),
            });
        }
    }

    const fn len(has_related: bool) -> usize {
        SAMPLE_FIXED_LEN + if has_related { RELATED_LEN } else { 0 }
    }
}

fn related_flag(related: &Option<RelatedSample>) -> u8 {
    if related.is_some() {
        flags::DATA_HAS_RELATED
    } else {
        0
    }
}

/// DATA: one whole sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DataRepr<'a> {
    /// The writer's entity id.
    pub writer: EntityId,
    /// The sample's sequence number (never 0).
    pub seq: u64,
    /// When the sample was written, in nanoseconds; 0 = not given.
    pub source_timestamp_ns: u64,
    /// The related sample ([`flags::DATA_HAS_RELATED`]).
    pub related: Option<RelatedSample>,
    /// The serialized sample, everything up to the header's `length`.
    pub payload: &'a [u8],
}

impl<'a> DataRepr<'a> {
    /// Body bytes before the payload.
    pub const fn overhead(has_related: bool) -> usize {
        SampleHead::len(has_related)
    }

    /// Parse a DATA body.
    pub fn parse(flags: u8, body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let h = SampleHead::read(&mut r, flags)?;
        Ok(DataRepr {
            writer: h.writer,
            seq: h.seq,
            source_timestamp_ns: h.source_timestamp_ns,
            related: h.related,
            payload: r.rest,
        })
    }

    /// The header flags for this message.
    pub fn flags(&self) -> u8 {
        related_flag(&self.related)
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        Self::overhead(self.related.is_some()) + self.payload.len()
    }

    /// Write the body at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        SampleHead::check(self.seq, &self.related)?;
        let mut w = Writer::new(buf);
        SampleHead::write(
            &mut w,
            self.writer,
            self.seq,
            self.source_timestamp_ns,
            &self.related,
        );
        w.bytes(self.payload);
        w.done()
    }
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct FragFixed {
    sample_len: U32,
    frag_index: U32,
    frag_count: U32,
    frag_size: U16,
    reserved: U16,
}

/// The fragmentation of one sample: how many fragments of which size, and where each lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FragLayout {
    /// Length of the whole sample.
    pub sample_len: u32,
    /// Number of fragments.
    pub frag_count: u32,
    /// Bytes in every fragment but the last.
    pub frag_size: u16,
}

impl FragLayout {
    /// The layout that cuts `sample_len` bytes into fragments of `frag_size` bytes. Fails with
    /// [`WireError::BadFragment`] for an empty sample or a zero fragment size.
    pub const fn new(sample_len: u32, frag_size: u16) -> Result<Self, WireError> {
        if sample_len == 0 || frag_size == 0 {
            return Err(WireError::BadFragment);
        }
        Ok(FragLayout {
            sample_len,
            frag_count: sample_len.div_ceil(frag_size as u32),
            frag_size,
        })
    }

    /// Check that the fields are consistent: `frag_size > 0`, `frag_count > 0` and
    /// `(frag_count - 1) * frag_size < sample_len <= frag_count * frag_size`.
    pub const fn check(&self) -> Result<(), WireError> {
        if self.frag_size == 0 || self.frag_count == 0 {
            return Err(WireError::BadFragment);
        }
        let size = self.frag_size as u64;
        let len = self.sample_len as u64;
        let count = self.frag_count as u64;
        if (count - 1) * size < len && len <= count * size {
            Ok(())
        } else {
            Err(WireError::BadFragment)
        }
    }

    /// Byte offset of fragment `index` in the sample.
    pub const fn offset(&self, index: u32) -> u64 {
        index as u64 * self.frag_size as u64
    }

    /// Length of fragment `index`, or [`WireError::BadFragment`] if the layout is inconsistent
    /// or `index >= frag_count`.
    pub const fn frag_len(&self, index: u32) -> Result<usize, WireError> {
        if let Err(e) = self.check() {
            return Err(e);
        }
        if index >= self.frag_count {
            return Err(WireError::BadFragment);
        }
        if index + 1 < self.frag_count {
            Ok(self.frag_size as usize)
        } else {
            Ok((self.sample_len as u64 - self.offset(index)) as usize)
        }
    }
}

/// DATA_FRAG: one fragment of a sample too large for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DataFragRepr<'a> {
    /// The writer's entity id.
    pub writer: EntityId,
    /// The sample's sequence number (never 0).
    pub seq: u64,
    /// When the sample was written, in nanoseconds; 0 = not given.
    pub source_timestamp_ns: u64,
    /// The related sample ([`flags::DATA_HAS_RELATED`]).
    pub related: Option<RelatedSample>,
    /// How the sample is cut.
    pub layout: FragLayout,
    /// Which fragment this is (`< layout.frag_count`).
    pub frag_index: u32,
    /// The fragment's bytes: `layout.frag_len(frag_index)` of them.
    pub fragment: &'a [u8],
}

impl<'a> DataFragRepr<'a> {
    /// Body bytes before the fragment.
    pub const fn overhead(has_related: bool) -> usize {
        SampleHead::len(has_related) + core::mem::size_of::<FragFixed>()
    }

    /// Parse a DATA_FRAG body; checks the fragment fields' consistency.
    pub fn parse(flags: u8, body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let h = SampleHead::read(&mut r, flags)?;
        let f: &FragFixed = r.fixed()?;
        let layout = FragLayout {
            sample_len: f.sample_len.get(),
            frag_count: f.frag_count.get(),
            frag_size: f.frag_size.get(),
        };
        let frag_index = f.frag_index.get();
        let len = layout.frag_len(frag_index)?;
        if r.rest.len() != len {
            return Err(WireError::BadFragment);
        }
        Ok(DataFragRepr {
            writer: h.writer,
            seq: h.seq,
            source_timestamp_ns: h.source_timestamp_ns,
            related: h.related,
            layout,
            frag_index,
            fragment: r.rest,
        })
    }

    /// The header flags for this message.
    pub fn flags(&self) -> u8 {
        related_flag(&self.related)
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        Self::overhead(self.related.is_some()) + self.fragment.len()
    }

    /// Write the body at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        SampleHead::check(self.seq, &self.related)?;
        if self.layout.frag_len(self.frag_index)? != self.fragment.len() {
            return Err(WireError::BadFragment);
        }
        let mut w = Writer::new(buf);
        SampleHead::write(
            &mut w,
            self.writer,
            self.seq,
            self.source_timestamp_ns,
            &self.related,
        );
        w.fixed(&FragFixed {
            sample_len: U32::new(self.layout.sample_len),
            frag_index: U32::new(self.frag_index),
            frag_count: U32::new(self.layout.frag_count),
            frag_size: U16::new(self.layout.frag_size),
            reserved: U16::new(0),
        });
        w.bytes(self.fragment);
        w.done()
    }
}

// ---------------------------------------------------------------------------------------------
// BATCH

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct BatchFixed {
    writer: U32,
    first_seq: U64,
    source_timestamp_ns: U64,
    count: U16,
}

/// The samples of a BATCH: a caller's list (to emit) or the received bytes (framing already
/// validated by [`BatchRepr::parse`]).
#[derive(Clone, Copy)]
pub enum Samples<'a> {
    /// Samples to send, each at most [`MAX_BATCH_SAMPLE_LEN`] bytes.
    List(&'a [&'a [u8]]),
    /// Samples as received: `count` `(u16 len, bytes)` entries at the start of `bytes`.
    Wire {
        /// Number of samples.
        count: u16,
        /// The entries (exactly `count` of them; trailing bytes already cut off).
        bytes: &'a [u8],
    },
}

impl<'a> Samples<'a> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::List(l) => l.len(),
            Samples::Wire { count, .. } => usize::from(*count),
        }
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterate the samples' bytes in order.
    pub fn iter(&self) -> SampleIter<'a> {
        match *self {
            Samples::List(l) => SampleIter {
                list: l,
                wire: &[],
                remaining: l.len(),
            },
            Samples::Wire { count, bytes } => SampleIter {
                list: &[],
                wire: bytes,
                remaining: usize::from(count),
            },
        }
    }
}

impl PartialEq for Samples<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Samples<'_> {}

impl fmt::Debug for Samples<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Samples<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Samples({=usize})", self.len())
    }
}

/// Iterator over a BATCH's samples; see [`Samples::iter`].
pub struct SampleIter<'a> {
    list: &'a [&'a [u8]],
    wire: &'a [u8],
    remaining: usize,
}

impl<'a> Iterator for SampleIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some((first, rest)) = self.list.split_first() {
            self.list = rest;
            self.remaining -= 1;
            return Some(first);
        }
        if self.remaining == 0 {
            return None;
        }
        let mut r = Reader::new(self.wire);
        // The framing was validated by `BatchRepr::parse`; a failure here ends the iteration.
        let item = r.fixed::<U16>().and_then(|n| r.bytes(usize::from(n.get())));
        match item {
            Ok(s) => {
                self.wire = r.rest;
                self.remaining -= 1;
                Some(s)
            }
            Err(_) => {
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

/// BATCH: several small samples of one writer with consecutive sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BatchRepr<'a> {
    /// The writer's entity id.
    pub writer: EntityId,
    /// Sequence number of the first sample; sample `i` has `first_seq + i` (never 0).
    pub first_seq: u64,
    /// When the samples were written, in nanoseconds; 0 = not given.
    pub source_timestamp_ns: u64,
    /// The samples.
    pub samples: Samples<'a>,
}

impl<'a> BatchRepr<'a> {
    /// Body bytes before the first sample.
    pub const OVERHEAD: usize = core::mem::size_of::<BatchFixed>();
    /// Bytes each sample adds besides its own bytes.
    pub const PER_SAMPLE_OVERHEAD: usize = 2;

    fn check_range(first_seq: u64, count: usize) -> Result<(), WireError> {
        nonzero_seq(first_seq)?;
        if count > 0 && first_seq.checked_add(count as u64 - 1).is_none() {
            return Err(WireError::BadSequence);
        }
        Ok(())
    }

    /// Parse a BATCH body; checks that all `count` samples lie inside the body.
    pub fn parse(_flags: u8, body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let f: &BatchFixed = r.fixed()?;
        let count = f.count.get();
        let first_seq = f.first_seq.get();
        Self::check_range(first_seq, usize::from(count))?;
        let start = r.rest;
        for _ in 0..count {
            let n = r.fixed::<U16>()?.get();
            r.bytes(usize::from(n))?;
        }
        let used = start.len() - r.rest.len();
        Ok(BatchRepr {
            writer: EntityId(f.writer.get()),
            first_seq,
            source_timestamp_ns: f.source_timestamp_ns.get(),
            samples: Samples::Wire {
                count,
                bytes: start.get(..used).ok_or(WireError::Truncated)?,
            },
        })
    }

    /// The header flags (none).
    pub fn flags(&self) -> u8 {
        0
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        Self::OVERHEAD
            + match self.samples {
                Samples::List(l) => l.iter().map(|s| Self::PER_SAMPLE_OVERHEAD + s.len()).sum(),
                Samples::Wire { bytes, .. } => bytes.len(),
            }
    }

    /// Iterate `(seq, sample)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &'a [u8])> + use<'a> {
        let first = self.first_seq;
        self.samples
            .iter()
            .enumerate()
            .map(move |(i, s)| (first.wrapping_add(i as u64), s))
    }

    /// Write the body at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let count = u16::try_from(self.samples.len()).map_err(|_| WireError::TooManyEntries)?;
        Self::check_range(self.first_seq, usize::from(count))?;
        let mut w = Writer::new(buf);
        w.fixed(&BatchFixed {
            writer: U32::new(self.writer.0),
            first_seq: U64::new(self.first_seq),
            source_timestamp_ns: U64::new(self.source_timestamp_ns),
            count: U16::new(count),
        });
        for s in self.samples.iter() {
            let n = u16::try_from(s.len()).map_err(|_| WireError::TooLarge {
                len: s.len(),
                max: MAX_BATCH_SAMPLE_LEN,
            })?;
            w.fixed(&U16::new(n));
            w.bytes(s);
        }
        w.done()
    }
}

// ---------------------------------------------------------------------------------------------
// HEARTBEAT

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct HeartbeatFixed {
    writer: U32,
    first_seq: U64,
    last_seq: U64,
    count: U32,
}

/// HEARTBEAT: a reliable writer announces which sequence numbers it still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HeartbeatRepr {
    /// No answer needed ([`flags::HEARTBEAT_FINAL`]).
    pub is_final: bool,
    /// Manual liveliness assertion ([`flags::HEARTBEAT_LIVELINESS`]).
    pub liveliness: bool,
    /// The writer's entity id.
    pub writer: EntityId,
    /// Oldest sequence number available (at least 1).
    pub first_seq: u64,
    /// Newest sequence number available; `first_seq - 1` when the writer holds nothing.
    pub last_seq: u64,
    /// Heartbeat counter, incremented per HEARTBEAT, so receivers can drop duplicates.
    pub count: u32,
    /// The one reader (entity id in the receiving participant) this HEARTBEAT is for, or
    /// `None`: every matched reader. An optional trailing field (body length 28 instead of 24).
    pub reader: Option<EntityId>,
}

impl HeartbeatRepr {
    /// Body length without the optional `reader` field.
    pub const LEN: usize = core::mem::size_of::<HeartbeatFixed>();
    /// Body length with the `reader` field.
    pub const LEN_DIRECTED: usize = Self::LEN + 4;

    fn check(first: u64, last: u64) -> Result<(), WireError> {
        if first == 0 || last < first - 1 {
            Err(WireError::BadSequence)
        } else {
            Ok(())
        }
    }

    /// Parse a HEARTBEAT body.
    pub fn parse(flags: u8, body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let f: &HeartbeatFixed = r.fixed()?;
        let (first_seq, last_seq) = (f.first_seq.get(), f.last_seq.get());
        Self::check(first_seq, last_seq)?;
        // The reader field when the body has room for it; bytes beyond are ignored.
        let reader = r
            .bytes(4)
            .ok()
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|v| EntityId(u32::from_be_bytes(v)));
        Ok(HeartbeatRepr {
            is_final: flags & flags::HEARTBEAT_FINAL != 0,
            liveliness: flags & flags::HEARTBEAT_LIVELINESS != 0,
            writer: EntityId(f.writer.get()),
            first_seq,
            last_seq,
            count: f.count.get(),
            reader,
        })
    }

    /// The header flags for this message.
    pub fn flags(&self) -> u8 {
        (if self.is_final {
            flags::HEARTBEAT_FINAL
        } else {
            0
        }) | (if self.liveliness {
            flags::HEARTBEAT_LIVELINESS
        } else {
            0
        })
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        if self.reader.is_some() {
            Self::LEN_DIRECTED
        } else {
            Self::LEN
        }
    }

    /// Write the body at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        Self::check(self.first_seq, self.last_seq)?;
        let mut w = Writer::new(buf);
        w.fixed(&HeartbeatFixed {
            writer: U32::new(self.writer.0),
            first_seq: U64::new(self.first_seq),
            last_seq: U64::new(self.last_seq),
            count: U32::new(self.count),
        });
        if let Some(r) = self.reader {
            w.bytes(&r.0.to_be_bytes());
        }
        w.done()
    }
}

// ---------------------------------------------------------------------------------------------
// Bitmaps: ACKNACK and NACK_FRAG

/// A set of up to 256 consecutive numbers `base .. base + num_bits`, as carried by ACKNACK
/// (missing sequence numbers) and NACK_FRAG (missing fragment indices).
///
/// On the wire: `u16 num_bits`, `u16 reserved`, then `ceil(num_bits / 32)` big-endian `u32`
/// words; bit `i` (MSB first within word `i / 32`) stands for `base + i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SeqSet {
    base: u64,
    num_bits: u16,
    words: [u32; SeqSet::MAX_WORDS],
}

impl SeqSet {
    /// Most numbers a set spans.
    pub const MAX_BITS: u16 = 256;
    const MAX_WORDS: usize = Self::MAX_BITS as usize / 32;

    /// An empty set spanning `base .. base + num_bits`. Fails with
    /// [`WireError::BitmapTooLong`] for `num_bits > 256` and [`WireError::BadSequence`] if the
    /// span overflows `u64`.
    pub const fn new(base: u64, num_bits: u16) -> Result<Self, WireError> {
        if num_bits > Self::MAX_BITS {
            return Err(WireError::BitmapTooLong(num_bits));
        }
        if base.checked_add(num_bits as u64).is_none() {
            return Err(WireError::BadSequence);
        }
        Ok(SeqSet {
            base,
            num_bits,
            words: [0; Self::MAX_WORDS],
        })
    }

    /// The first number the set spans.
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// How many numbers the set spans.
    pub const fn num_bits(&self) -> u16 {
        self.num_bits
    }

    /// The bitmap words that go on the wire (`ceil(num_bits / 32)` of them).
    pub fn words(&self) -> &[u32] {
        // `num_bits` is at most 256 (`new`): the slice is never cut short.
        let n = Self::word_count(self.num_bits);
        self.words.get(..n).unwrap_or(&self.words)
    }

    const fn word_count(num_bits: u16) -> usize {
        (num_bits as usize).div_ceil(32)
    }

    fn offset(&self, n: u64) -> Option<usize> {
        let off = n.checked_sub(self.base)?;
        if off < u64::from(self.num_bits) {
            Some(off as usize)
        } else {
            None
        }
    }

    /// Add `n`; returns false (and changes nothing) if `n` lies outside the span.
    pub fn insert(&mut self, n: u64) -> bool {
        match self.offset(n) {
            Some(off) => {
                if let Some(w) = self.words.get_mut(off / 32) {
                    *w |= 0x8000_0000 >> (off % 32);
                }
                true
            }
            None => false,
        }
    }

    /// Remove `n`; returns whether it was in the set.
    pub fn remove(&mut self, n: u64) -> bool {
        let had = self.contains(n);
        if let Some(off) = self.offset(n) {
            self.words[off / 32] &= !(0x8000_0000 >> (off % 32));
        }
        had
    }

    /// True if `n` is in the set.
    pub fn contains(&self, n: u64) -> bool {
        self.offset(n)
            .is_some_and(|off| self.words[off / 32] & (0x8000_0000 >> (off % 32)) != 0)
    }

    /// How many numbers are in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True if no number is in the set.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The numbers in the set, ascending.
    pub fn iter(&self) -> SeqSetIter<'_> {
        SeqSetIter { set: self, next: 0 }
    }

    const BITMAP_HEAD: usize = 4;

    fn wire_len(&self) -> usize {
        Self::BITMAP_HEAD + 4 * Self::word_count(self.num_bits)
    }

    /// Read `num_bits`, `reserved` and the words. Bits past `num_bits` are ignored.
    fn read(r: &mut Reader<'_>, base: u64) -> Result<Self, WireError> {
        let head: &BitmapHead = r.fixed()?;
        let mut set = SeqSet::new(base, head.num_bits.get())?;
        let n = Self::word_count(set.num_bits);
        for w in set.words.iter_mut().take(n) {
            *w = r.fixed::<U32>()?.get();
        }
        let tail = set.num_bits % 32;
        if tail != 0 {
            let last = Self::word_count(set.num_bits) - 1;
            if let Some(w) = set.words.get_mut(last) {
                *w &= !(u32::MAX >> tail);
            }
        }
        Ok(set)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.fixed(&BitmapHead {
            num_bits: U16::new(self.num_bits),
            reserved: U16::new(0),
        });
        for &word in self.words() {
            w.fixed(&U32::new(word));
        }
    }
}

/// Iterator over a [`SeqSet`].
pub struct SeqSetIter<'a> {
    set: &'a SeqSet,
    next: u16,
}

impl Iterator for SeqSetIter<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        while self.next < self.set.num_bits {
            let i = usize::from(self.next);
            let word = self.set.words.get(i / 32).map_or(0, |w| w << (i % 32));
            if word == 0 {
                // Skip to the next word.
                self.next = ((i / 32 + 1) * 32) as u16;
                continue;
            }
            let off = i + word.leading_zeros() as usize;
            self.next = off as u16 + 1;
            return Some(self.set.base + off as u64);
        }
        None
    }
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct BitmapHead {
    num_bits: U16,
    reserved: U16,
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct AckNackFixed {
    writer_participant: U64,
    writer: U32,
    reader: U32,
    base_seq: U64,
    count: U32,
}

/// ACKNACK: a reliable reader acknowledges everything below `missing.base()` and asks for the
/// sequence numbers in `missing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AckNackRepr {
    /// No answer needed ([`flags::ACKNACK_FINAL`]).
    pub is_final: bool,
    /// `missing.base() + missing.num_bits()` is the first sequence number the reader cannot
    /// take in now: the writer sends nothing from there on ([`flags::ACKNACK_ROOM`]).
    pub room: bool,
    /// The writer's participant.
    pub writer_participant: ParticipantId,
    /// The writer's entity id.
    pub writer: EntityId,
    /// The reader's entity id (in the sending participant).
    pub reader: EntityId,
    /// Acknack counter, incremented per ACKNACK, so writers can drop duplicates.
    pub count: u32,
    /// `base` = `base_seq` (at least 1; everything below is acknowledged) and the missing
    /// sequence numbers.
    pub missing: SeqSet,
}

impl AckNackRepr {
    /// Parse an ACKNACK body.
    pub fn parse(flags: u8, body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let f: &AckNackFixed = r.fixed()?;
        let missing = SeqSet::read(&mut r, nonzero_seq(f.base_seq.get())?)?;
        Ok(AckNackRepr {
            is_final: flags & flags::ACKNACK_FINAL != 0,
            room: flags & flags::ACKNACK_ROOM != 0,
            writer_participant: ParticipantId::from_wire(f.writer_participant.get())?,
            writer: EntityId(f.writer.get()),
            reader: EntityId(f.reader.get()),
            count: f.count.get(),
            missing,
        })
    }

    /// The header flags for this message.
    pub fn flags(&self) -> u8 {
        let f = if self.is_final {
            flags::ACKNACK_FINAL
        } else {
            0
        };
        if self.room {
            f | flags::ACKNACK_ROOM
        } else {
            f
        }
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        core::mem::size_of::<AckNackFixed>() + self.missing.wire_len()
    }

    /// Write the body at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        nonzero_seq(self.missing.base)?;
        let mut w = Writer::new(buf);
        w.fixed(&AckNackFixed {
            writer_participant: U64::new(self.writer_participant.get()),
            writer: U32::new(self.writer.0),
            reader: U32::new(self.reader.0),
            base_seq: U64::new(self.missing.base),
            count: U32::new(self.count),
        });
        self.missing.write(&mut w);
        w.done()
    }
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct NackFragFixed {
    writer_participant: U64,
    writer: U32,
    reader: U32,
    seq: U64,
    base_frag: U32,
    count: U32,
}

/// NACK_FRAG: a reliable reader asks for missing fragments of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NackFragRepr {
    /// The writer's participant.
    pub writer_participant: ParticipantId,
    /// The writer's entity id.
    pub writer: EntityId,
    /// The reader's entity id (in the sending participant).
    pub reader: EntityId,
    /// The sample's sequence number (never 0).
    pub seq: u64,
    /// Nackfrag counter, incremented per NACK_FRAG, so writers can drop duplicates.
    pub count: u32,
    /// `base` = `base_frag` and the missing fragment indices; the span stays below 2^32.
    pub missing: SeqSet,
}

impl NackFragRepr {
    fn check(&self) -> Result<(), WireError> {
        nonzero_seq(self.seq)?;
        if self.missing.base + u64::from(self.missing.num_bits) > 1 << 32 {
            return Err(WireError::BadFragment);
        }
        Ok(())
    }

    /// Parse a NACK_FRAG body.
    pub fn parse(_flags: u8, body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let f: &NackFragFixed = r.fixed()?;
        let missing = SeqSet::read(&mut r, u64::from(f.base_frag.get()))?;
        let repr = NackFragRepr {
            writer_participant: ParticipantId::from_wire(f.writer_participant.get())?,
            writer: EntityId(f.writer.get()),
            reader: EntityId(f.reader.get()),
            seq: f.seq.get(),
            count: f.count.get(),
            missing,
        };
        repr.check()?;
        Ok(repr)
    }

    /// The header flags (none).
    pub fn flags(&self) -> u8 {
        0
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        core::mem::size_of::<NackFragFixed>() + self.missing.wire_len()
    }

    /// Write the body at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let base_frag = u32::try_from(self.missing.base).map_err(|_| WireError::BadFragment)?;
        let mut w = Writer::new(buf);
        w.fixed(&NackFragFixed {
            writer_participant: U64::new(self.writer_participant.get()),
            writer: U32::new(self.writer.0),
            reader: U32::new(self.reader.0),
            seq: U64::new(self.seq),
            base_frag: U32::new(base_frag),
            count: U32::new(self.count),
        });
        self.missing.write(&mut w);
        w.done()
    }
}

// ---------------------------------------------------------------------------------------------
// Any message

/// A message body of any kind.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageRepr<'a> {
    /// HELLO.
    Hello(HelloRepr<'a>),
    /// GOODBYE.
    Goodbye(GoodbyeRepr),
    /// DATA.
    Data(DataRepr<'a>),
    /// DATA_FRAG.
    DataFrag(DataFragRepr<'a>),
    /// BATCH.
    Batch(BatchRepr<'a>),
    /// HEARTBEAT.
    Heartbeat(HeartbeatRepr),
    /// ACKNACK.
    AckNack(AckNackRepr),
    /// NACK_FRAG.
    NackFrag(NackFragRepr),
}

macro_rules! each_kind {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            MessageRepr::Hello($m) => $e,
            MessageRepr::Goodbye($m) => $e,
            MessageRepr::Data($m) => $e,
            MessageRepr::DataFrag($m) => $e,
            MessageRepr::Batch($m) => $e,
            MessageRepr::Heartbeat($m) => $e,
            MessageRepr::AckNack($m) => $e,
            MessageRepr::NackFrag($m) => $e,
        }
    };
}

impl<'a> MessageRepr<'a> {
    /// Parse the body of a message of `kind` with header `flags`.
    pub fn parse(kind: MsgKind, flags: u8, body: &'a [u8]) -> Result<Self, WireError> {
        Ok(match kind {
            MsgKind::Hello => MessageRepr::Hello(HelloRepr::parse(flags, body)?),
            MsgKind::Goodbye => MessageRepr::Goodbye(GoodbyeRepr::parse(flags, body)?),
            MsgKind::Data => MessageRepr::Data(DataRepr::parse(flags, body)?),
            MsgKind::DataFrag => MessageRepr::DataFrag(DataFragRepr::parse(flags, body)?),
            MsgKind::Batch => MessageRepr::Batch(BatchRepr::parse(flags, body)?),
            MsgKind::Heartbeat => MessageRepr::Heartbeat(HeartbeatRepr::parse(flags, body)?),
            MsgKind::AckNack => MessageRepr::AckNack(AckNackRepr::parse(flags, body)?),
            MsgKind::NackFrag => MessageRepr::NackFrag(NackFragRepr::parse(flags, body)?),
        })
    }

    /// The message kind.
    pub fn kind(&self) -> MsgKind {
        match self {
            MessageRepr::Hello(_) => MsgKind::Hello,
            MessageRepr::Goodbye(_) => MsgKind::Goodbye,
            MessageRepr::Data(_) => MsgKind::Data,
            MessageRepr::DataFrag(_) => MsgKind::DataFrag,
            MessageRepr::Batch(_) => MsgKind::Batch,
            MessageRepr::Heartbeat(_) => MsgKind::Heartbeat,
            MessageRepr::AckNack(_) => MsgKind::AckNack,
            MessageRepr::NackFrag(_) => MsgKind::NackFrag,
        }
    }

    /// The header flags.
    pub fn flags(&self) -> u8 {
        each_kind!(self, m => m.flags())
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        each_kind!(self, m => m.buffer_len())
    }

    /// Write the body at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        each_kind!(self, m => m.emit(buf))
    }
}

#[cfg(test)]
mod tests;

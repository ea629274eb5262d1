//! The CDR walk over a ROS message in memory, driven by the rosidl introspection tables.
//!
//! Both introspection flavours describe a message as a list of members with a type id, an
//! offset and, for arrays and sequences, a size and (C++) accessor functions. The walk is
//! written once, generic over `Flavor`:
//!
//! * **C** (`rosidl_typesupport_introspection_c`): the memory layout is fixed by
//!   rosidl_generator_c, so strings (`rosidl_runtime_c__String` / `__U16String`) and sequences
//!   (`{data, size, capacity}`) are accessed directly. Growing memory uses the C allocator, as
//!   rosidl_runtime_c's default allocator does; new nested elements get the type's
//!   `init_function`, dropped ones its `fini_function` (or a table-driven fini when it has none).
//! * **C++** (`rosidl_typesupport_introspection_cpp`): arrays and sequences are only touched
//!   through the tables' `size_function` / `get_const_function` / `get_function` /
//!   `resize_function` (`fetch_function` / `assign_function` for `std::vector<bool>`), and
//!   strings through the C++ shim in [`super::cxx`].
//!
//! Deserialization never lets a length prefix size an allocation beyond what the rest of the
//! stream can hold, checks sequence bounds before any `resize_function` (a C++ BoundedVector or
//! an allocation failure would otherwise throw through C), and never reads past the input.
//!
//! Bounds: a bounded sequence over its bound is an error in both directions. String bounds
//! (`string<=N`) are not enforced, as rmw_cyclonedds_cpp does not enforce them: the reference
//! vectors hold a `string<=22` of 20 characters in 24 UTF-8 bytes, and bounds carry no memory
//! safety for strings.

use core::ffi::{CStr, c_void};
use core::marker::PhantomData;

use crate::abi::{
    field_type as ft, rosidl_message_type_support_t, rosidl_runtime_c__Sequence,
    rosidl_runtime_c__String, rosidl_runtime_c__U16String, rosidl_service_type_support_t,
    rosidl_typesupport_introspection_c__MessageMember as CMember,
    rosidl_typesupport_introspection_c__MessageMembers as CMembers,
    rosidl_typesupport_introspection_c__ServiceMembers,
    rosidl_typesupport_introspection_cpp__MessageMember as CppMember,
    rosidl_typesupport_introspection_cpp__MessageMembers as CppMembers,
};
use crate::cdr::{CdrError, Counter, Reader, Sink, SliceWriter};

use super::cxx;

/// Identifier of the C introspection type support.
pub const INTROSPECTION_C: &CStr = c"rosidl_typesupport_introspection_c";
/// Identifier of the C++ introspection type support.
pub const INTROSPECTION_CPP: &CStr = c"rosidl_typesupport_introspection_cpp";
/// Identifier of the C dispatching type support.
pub const TYPESUPPORT_C: &CStr = c"rosidl_typesupport_c";
/// Identifier of the C++ dispatching type support.
pub const TYPESUPPORT_CPP: &CStr = c"rosidl_typesupport_cpp";

/// `ROSIDL_RUNTIME_C_MSG_INIT_ALL` / `rosidl_runtime_cpp::MessageInitialization::ALL`.
const MSG_INIT_ALL: i32 = 0;

/// The introspection tables of one message type.
#[derive(Clone, Copy, Debug)]
pub enum MessageTables<'a> {
    C(&'a CMembers),
    Cpp(&'a CppMembers),
}

/// Finds the introspection tables behind a type support handle: an introspection handle is
/// used directly; any other (`rosidl_typesupport_c` / `_cpp`) is asked through its `func`
/// for an introspection handle, the flavour of the same language first.
///
/// # Safety
/// `ts` is null or points to a valid `rosidl_message_type_support_t` whose tables (and those
/// of every nested type) stay valid for `'a`.
pub unsafe fn resolve<'a>(
    ts: *const rosidl_message_type_support_t,
) -> Result<MessageTables<'a>, CdrError> {
    // SAFETY: the caller guarantees `ts` is null or valid.
    let handle = unsafe { ts.as_ref() }.ok_or(CdrError::BadTypeSupport("null type support"))?;
    if handle.typesupport_identifier.is_null() {
        return Err(CdrError::BadTypeSupport("null typesupport identifier"));
    }
    // SAFETY: a non-null identifier is a NUL-terminated string with static lifetime.
    let id = unsafe { CStr::from_ptr(handle.typesupport_identifier) };
    if let Some(t) = unsafe { direct(handle, id) }? {
        return Ok(t);
    }
    let order = if id == TYPESUPPORT_CPP {
        [INTROSPECTION_CPP, INTROSPECTION_C]
    } else {
        [INTROSPECTION_C, INTROSPECTION_CPP]
    };
    let func = handle.func.ok_or(CdrError::BadTypeSupport(
        "type support has no handle function",
    ))?;
    for want in order {
        // SAFETY: `func` is the handle-getter of this type support, called as rosidl's
        // get_message_typesupport_handle does: with the handle itself and an identifier.
        let found = unsafe { func(ts, want.as_ptr()) };
        // SAFETY: a handle returned by the getter is null or valid for as long as `ts`.
        if let Some(h) = unsafe { found.as_ref() } {
            if h.typesupport_identifier.is_null() {
                continue;
            }
            // SAFETY: non-null identifiers are NUL-terminated static strings.
            let id = unsafe { CStr::from_ptr(h.typesupport_identifier) };
            if let Some(t) = unsafe { direct(h, id) }? {
                return Ok(t);
            }
        }
    }
    Err(CdrError::BadTypeSupport(
        "no introspection type support available",
    ))
}

/// The request and response tables of a service type support: through its
/// `request_typesupport` / `response_typesupport` handles when it has them (rosidl since Iron),
/// otherwise through the introspection service members its `func` hands out.
///
/// # Safety
/// `ts` is null or points to a valid `rosidl_service_type_support_t` whose tables stay valid
/// for `'a`.
pub unsafe fn resolve_service<'a>(
    ts: *const rosidl_service_type_support_t,
) -> Result<(MessageTables<'a>, MessageTables<'a>), CdrError> {
    // SAFETY: the caller guarantees `ts` is null or valid.
    let handle = unsafe { ts.as_ref() }.ok_or(CdrError::BadTypeSupport("null type support"))?;
    if !handle.request_typesupport.is_null() && !handle.response_typesupport.is_null() {
        // SAFETY: non-null message handles of a valid service handle are valid.
        return unsafe {
            Ok((
                resolve(handle.request_typesupport)?,
                resolve(handle.response_typesupport)?,
            ))
        };
    }
    let mut candidates = vec![handle];
    if let Some(func) = handle.func {
        for want in [INTROSPECTION_C, INTROSPECTION_CPP] {
            // SAFETY: `func` is the handle-getter of this type support.
            if let Some(h) = unsafe { func(ts, want.as_ptr()).as_ref() } {
                candidates.push(h);
            }
        }
    }
    for h in candidates {
        if h.typesupport_identifier.is_null() || h.data.is_null() {
            continue;
        }
        // SAFETY: non-null identifiers are NUL-terminated static strings.
        let id = unsafe { CStr::from_ptr(h.typesupport_identifier) };
        // SAFETY: the data of an introspection service handle is its ServiceMembers, whose
        // request / response members are the flavour's MessageMembers.
        unsafe {
            let m = &*h
                .data
                .cast::<rosidl_typesupport_introspection_c__ServiceMembers>();
            let (rq, rs) = (m.request_members_, m.response_members_);
            if rq.is_null() || rs.is_null() {
                continue;
            }
            if id == INTROSPECTION_C {
                return Ok((
                    MessageTables::C(&*rq.cast::<CMembers>()),
                    MessageTables::C(&*rs.cast::<CMembers>()),
                ));
            }
            if id == INTROSPECTION_CPP {
                return Ok((
                    MessageTables::Cpp(&*rq.cast::<CppMembers>()),
                    MessageTables::Cpp(&*rs.cast::<CppMembers>()),
                ));
            }
        }
    }
    Err(CdrError::BadTypeSupport(
        "no introspection service type support available",
    ))
}

/// The type's RIHS01 hash from the handle's `get_type_hash_func`, when it has one (rosidl
/// since Iron); `None` when it has none or reports an unset (version 0) hash.
///
/// # Safety
/// `ts` is null or points to a valid `rosidl_message_type_support_t`.
pub unsafe fn type_hash(ts: *const rosidl_message_type_support_t) -> Option<[u8; 32]> {
    // SAFETY: the caller guarantees `ts` is null or valid.
    let handle = unsafe { ts.as_ref() }?;
    let get = handle.get_type_hash_func?;
    // SAFETY: the type's own hash getter, called with its handle; it returns null or a hash
    // with static lifetime.
    let hash = unsafe { get(ts).as_ref() }?;
    (hash.version != 0).then_some(hash.value)
}

/// The tables of an introspection handle, or `None` for another identifier.
///
/// # Safety
/// `handle.data` is the members struct of the flavour that `id` names.
unsafe fn direct<'a>(
    handle: &rosidl_message_type_support_t,
    id: &CStr,
) -> Result<Option<MessageTables<'a>>, CdrError> {
    let data = handle.data;
    if id == INTROSPECTION_C {
        // SAFETY: the data of a C introspection handle is its MessageMembers.
        let m = unsafe { data.cast::<CMembers>().as_ref() };
        Ok(Some(MessageTables::C(
            m.ok_or(CdrError::BadTypeSupport("null members"))?,
        )))
    } else if id == INTROSPECTION_CPP {
        // SAFETY: the data of a C++ introspection handle is its MessageMembers.
        let m = unsafe { data.cast::<CppMembers>().as_ref() };
        Ok(Some(MessageTables::Cpp(
            m.ok_or(CdrError::BadTypeSupport("null members"))?,
        )))
    } else {
        Ok(None)
    }
}

/// Size in bytes of the CDR stream (header included) for the message at `msg`.
///
/// # Safety
/// `msg` points to an initialised message of the type `tables` describes.
pub unsafe fn serialized_size(
    tables: MessageTables<'_>,
    msg: *const c_void,
) -> Result<usize, CdrError> {
    let mut counter = Counter::new();
    // SAFETY: forwarded from the caller.
    unsafe { serialize_to(tables, msg, &mut counter) }?;
    Ok(counter.pos())
}

/// Writes the CDR stream of the message at `msg` into `buf`; returns the bytes written.
///
/// # Safety
/// As [`serialized_size`].
pub unsafe fn serialize_into(
    tables: MessageTables<'_>,
    msg: *const c_void,
    buf: &mut [u8],
) -> Result<usize, CdrError> {
    let mut w = SliceWriter::new(buf)?;
    // SAFETY: forwarded from the caller.
    unsafe { serialize_to(tables, msg, &mut w) }?;
    Ok(w.pos())
}

/// Writes the CDR stream of the message at `msg` into `buf` from byte `at` on, growing `buf`
/// when it is too short; returns the bytes written. A buffer kept from message to message is
/// long enough from the second message of a size on: then the message is walked once, not
/// once to size it and once to write it.
///
/// # Safety
/// As [`serialized_size`].
pub unsafe fn serialize_into_vec(
    tables: MessageTables<'_>,
    msg: *const c_void,
    buf: &mut Vec<u8>,
    at: usize,
) -> Result<usize, CdrError> {
    if let Some(room) = buf.get_mut(at..) {
        // SAFETY: forwarded from the caller.
        match unsafe { serialize_into(tables, msg, room) } {
            // Too short: size it, then write it (every other error is the message's own,
            // and sizing would find it too).
            Err(CdrError::Overflow) => {}
            r => return r,
        }
    }
    // SAFETY: forwarded from the caller.
    let size = unsafe { serialized_size(tables, msg) }?;
    let total = at.checked_add(size).ok_or(CdrError::Overflow)?;
    if buf.len() < total {
        buf.resize(total, 0);
    }
    // SAFETY: forwarded from the caller.
    unsafe { serialize_into(tables, msg, &mut buf[at..total]) }
}

/// # Safety
/// As [`serialized_size`].
unsafe fn serialize_to<S: Sink>(
    tables: MessageTables<'_>,
    msg: *const c_void,
    out: &mut S,
) -> Result<(), CdrError> {
    if msg.is_null() {
        return Err(CdrError::BadTypeSupport("null message"));
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        match tables {
            MessageTables::C(m) => Walk::<C>::ser_message(m, msg.cast(), out),
            MessageTables::Cpp(m) => Walk::<Cpp>::ser_message(m, msg.cast(), out),
        }
    }
}

/// Reads the CDR stream `bytes` into the initialised message at `msg`.
///
/// On error the message is left valid (every string and sequence consistent, nothing leaked)
/// but with unspecified contents.
///
/// # Safety
/// `msg` points to an initialised message of the type `tables` describes, not otherwise
/// borrowed.
pub unsafe fn deserialize(
    tables: MessageTables<'_>,
    bytes: &[u8],
    msg: *mut c_void,
) -> Result<(), CdrError> {
    if msg.is_null() {
        return Err(CdrError::BadTypeSupport("null message"));
    }
    let mut r = Reader::new(bytes)?;
    // SAFETY: forwarded from the caller.
    unsafe {
        match tables {
            MessageTables::C(m) => Walk::<C>::de_message(m, msg.cast(), &mut r),
            MessageTables::Cpp(m) => Walk::<Cpp>::de_message(m, msg.cast(), &mut r),
        }
    }
}

/// Releases what a C message owns (strings, sequences, nested members), recursively, by its
/// tables, and leaves it zeroed-equivalent (null pointers, zero sizes). Uses a nested type's
/// own `fini_function` where the tables give one.
///
/// # Safety
/// `msg` points to a C message of the type `members` describes whose strings and sequences
/// were allocated with the C allocator.
pub unsafe fn c_message_fini(members: &CMembers, msg: *mut c_void) -> Result<(), CdrError> {
    // SAFETY: forwarded from the caller.
    unsafe { c_fini_members(members, msg.cast()) }
}

// ---------------------------------------------------------------------------------------------
// The two flavours.

/// A primitive type as stored in memory and on the wire (same width for every type here).
#[derive(Clone, Copy, Debug)]
struct Prim {
    size: usize,
    is_bool: bool,
}

/// What one element of a member is.
enum Elem<'a, F: Flavor> {
    Prim(Prim),
    Str,
    WStr,
    Msg(&'a F::Members),
}

/// The shape of a member.
#[derive(Clone, Copy, Debug)]
enum Shape {
    One,
    Array(usize),
    Sequence { bound: Option<usize> },
}

/// A member's table entry, normalised.
struct Field<'a, F: Flavor> {
    raw: &'a F::Member,
    elem: Elem<'a, F>,
    shape: Shape,
    offset: usize,
}

/// Access to one introspection flavour.
trait Flavor: Sized {
    type Members: 'static;
    type Member: 'static;
    const IDENTIFIER: &'static CStr;

    /// # Safety
    /// `m` is a valid members struct whose `members_` points to `member_count_` entries.
    unsafe fn members(m: &Self::Members) -> &[Self::Member];
    fn size_of(m: &Self::Members) -> usize;
    fn common(m: &Self::Member) -> Common;

    fn string_stride() -> usize;
    fn wstring_stride() -> usize;
    /// # Safety
    /// `p` points to a string of this flavour that outlives the slice.
    unsafe fn string_bytes<'a>(p: *const u8) -> Result<&'a [u8], CdrError>;
    /// # Safety
    /// `p` points to a string of this flavour.
    unsafe fn string_assign(p: *mut u8, bytes: &[u8]) -> Result<(), CdrError>;
    /// # Safety
    /// `p` points to a wide string of this flavour that outlives the slice.
    unsafe fn wstring_units<'a>(p: *const u8) -> Result<&'a [u16], CdrError>;
    /// # Safety
    /// `p` points to a wide string of this flavour.
    unsafe fn wstring_assign(p: *mut u8, units: &[u16]) -> Result<(), CdrError>;

    /// Number of elements of the sequence member at `p`.
    /// # Safety
    /// `p` points to the member `f` describes.
    unsafe fn seq_len(f: &Field<'_, Self>, p: *const u8) -> Result<usize, CdrError>;
    /// Pointer to element `i` (< length) of the array or sequence member at `p`, or `None`
    /// when elements cannot be addressed (`std::vector<bool>`).
    /// # Safety
    /// `p` points to the member `f` describes and `i` is in range.
    unsafe fn elem_ptr(
        f: &Field<'_, Self>,
        p: *const u8,
        i: usize,
    ) -> Result<Option<*const u8>, CdrError>;
    /// Mutable variant of [`Flavor::elem_ptr`].
    /// # Safety
    /// As `elem_ptr`.
    unsafe fn elem_mut(
        f: &Field<'_, Self>,
        p: *mut u8,
        i: usize,
    ) -> Result<Option<*mut u8>, CdrError>;
    /// Reads element `i` of a member whose elements cannot be addressed (bool only).
    /// # Safety
    /// As `elem_ptr`.
    unsafe fn fetch_bool(f: &Field<'_, Self>, p: *const u8, i: usize) -> Result<bool, CdrError>;
    /// Writes element `i` of a member whose elements cannot be addressed (bool only).
    /// # Safety
    /// As `elem_mut`.
    unsafe fn assign_bool(
        f: &Field<'_, Self>,
        p: *mut u8,
        i: usize,
        v: bool,
    ) -> Result<(), CdrError>;
    /// Makes the sequence member at `p` hold `n` elements (existing ones may be kept).
    /// # Safety
    /// As `elem_mut`.
    unsafe fn seq_resize(f: &Field<'_, Self>, p: *mut u8, n: usize) -> Result<(), CdrError>;
}

/// The members of a table entry that both flavours share.
struct Common {
    type_id: u8,
    members: *const rosidl_message_type_support_t,
    is_array: bool,
    array_size: usize,
    is_upper_bound: bool,
    offset: u32,
}

macro_rules! common_of {
    ($m:expr) => {
        Common {
            type_id: $m.type_id_,
            members: $m.members_,
            is_array: $m.is_array_,
            array_size: $m.array_size_,
            is_upper_bound: $m.is_upper_bound_,
            offset: $m.offset_,
        }
    };
}

/// Marker for the C flavour.
struct C;
/// Marker for the C++ flavour.
struct Cpp;

impl Flavor for C {
    type Members = CMembers;
    type Member = CMember;
    const IDENTIFIER: &'static CStr = INTROSPECTION_C;

    unsafe fn members(m: &CMembers) -> &[CMember] {
        if m.members_.is_null() || m.member_count_ == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees `members_` holds `member_count_` entries.
        unsafe { core::slice::from_raw_parts(m.members_, m.member_count_ as usize) }
    }
    fn size_of(m: &CMembers) -> usize {
        m.size_of_
    }
    fn common(m: &CMember) -> Common {
        common_of!(m)
    }
    fn string_stride() -> usize {
        size_of::<rosidl_runtime_c__String>()
    }
    fn wstring_stride() -> usize {
        size_of::<rosidl_runtime_c__U16String>()
    }
    unsafe fn string_bytes<'a>(p: *const u8) -> Result<&'a [u8], CdrError> {
        // SAFETY: the caller guarantees `p` is a rosidl_runtime_c__String.
        let s = unsafe { &*p.cast::<rosidl_runtime_c__String>() };
        if s.size == 0 {
            return Ok(&[]);
        }
        if s.data.is_null() {
            return Err(CdrError::BadTypeSupport("string with size but no data"));
        }
        // SAFETY: a rosidl string's data holds `size` bytes.
        Ok(unsafe { core::slice::from_raw_parts(s.data.cast::<u8>(), s.size) })
    }
    unsafe fn string_assign(p: *mut u8, bytes: &[u8]) -> Result<(), CdrError> {
        // SAFETY: the caller guarantees `p` is a rosidl_runtime_c__String.
        let s = unsafe { &mut *p.cast::<rosidl_runtime_c__String>() };
        let len = bytes.len();
        // SAFETY: `s.data` is null or was allocated with the C allocator (rosidl's default).
        let data = unsafe { libc::realloc(s.data.cast(), len + 1) }.cast::<u8>();
        if data.is_null() {
            return Err(CdrError::BadAlloc);
        }
        // SAFETY: `data` has room for len + 1 bytes and does not overlap `bytes`.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), data, len);
            *data.add(len) = 0;
        }
        s.data = data.cast();
        s.size = len;
        s.capacity = len + 1;
        Ok(())
    }
    unsafe fn wstring_units<'a>(p: *const u8) -> Result<&'a [u16], CdrError> {
        // SAFETY: the caller guarantees `p` is a rosidl_runtime_c__U16String.
        let s = unsafe { &*p.cast::<rosidl_runtime_c__U16String>() };
        if s.size == 0 {
            return Ok(&[]);
        }
        if s.data.is_null() {
            return Err(CdrError::BadTypeSupport("wstring with size but no data"));
        }
        // SAFETY: a rosidl u16 string's data holds `size` aligned units.
        Ok(unsafe { core::slice::from_raw_parts(s.data, s.size) })
    }
    unsafe fn wstring_assign(p: *mut u8, units: &[u16]) -> Result<(), CdrError> {
        // SAFETY: the caller guarantees `p` is a rosidl_runtime_c__U16String.
        let s = unsafe { &mut *p.cast::<rosidl_runtime_c__U16String>() };
        let len = units.len();
        // SAFETY: `s.data` is null or was allocated with the C allocator.
        let data = unsafe { libc::realloc(s.data.cast(), (len + 1) * 2) }.cast::<u16>();
        if data.is_null() {
            return Err(CdrError::BadAlloc);
        }
        // SAFETY: `data` (from malloc, so aligned) has room for len + 1 units.
        unsafe {
            core::ptr::copy_nonoverlapping(units.as_ptr(), data, len);
            *data.add(len) = 0;
        }
        s.data = data;
        s.size = len;
        s.capacity = len + 1;
        Ok(())
    }
    unsafe fn seq_len(_f: &Field<'_, Self>, p: *const u8) -> Result<usize, CdrError> {
        // SAFETY: the caller guarantees `p` is a rosidl sequence struct.
        let s = unsafe { &*p.cast::<rosidl_runtime_c__Sequence>() };
        if s.size > 0 && s.data.is_null() {
            return Err(CdrError::BadTypeSupport("sequence with size but no data"));
        }
        Ok(s.size)
    }
    unsafe fn elem_ptr(
        f: &Field<'_, Self>,
        p: *const u8,
        i: usize,
    ) -> Result<Option<*const u8>, CdrError> {
        let stride = f.elem.stride();
        let base = match f.shape {
            // SAFETY: the caller guarantees `p` is a rosidl sequence struct.
            Shape::Sequence { .. } => unsafe { (*p.cast::<rosidl_runtime_c__Sequence>()).data }
                .cast::<u8>()
                .cast_const(),
            _ => p,
        };
        // SAFETY: `i` is in range, so the element lies inside the array or sequence buffer.
        Ok(Some(unsafe { base.add(i * stride) }))
    }
    unsafe fn elem_mut(
        f: &Field<'_, Self>,
        p: *mut u8,
        i: usize,
    ) -> Result<Option<*mut u8>, CdrError> {
        // SAFETY: forwarded from the caller.
        Ok(unsafe { Self::elem_ptr(f, p, i) }?.map(|q| q.cast_mut()))
    }
    unsafe fn fetch_bool(_: &Field<'_, Self>, _: *const u8, _: usize) -> Result<bool, CdrError> {
        Err(CdrError::BadTypeSupport("unaddressable C element"))
    }
    unsafe fn assign_bool(
        _: &Field<'_, Self>,
        _: *mut u8,
        _: usize,
        _: bool,
    ) -> Result<(), CdrError> {
        Err(CdrError::BadTypeSupport("unaddressable C element"))
    }
    unsafe fn seq_resize(f: &Field<'_, Self>, p: *mut u8, n: usize) -> Result<(), CdrError> {
        // SAFETY: the caller guarantees `p` is a rosidl sequence struct.
        let s = unsafe { &mut *p.cast::<rosidl_runtime_c__Sequence>() };
        let old = s.size;
        if n == old && n > 0 && !s.data.is_null() {
            return Ok(());
        }
        let stride = f.elem.stride();
        let data = s.data.cast::<u8>();
        // Drop the elements that go away.
        for i in n..old {
            // SAFETY: element i < old lies in the buffer and is initialised.
            unsafe { c_fini_elem(&f.elem, data.add(i * stride)) }?;
        }
        if n == 0 {
            // SAFETY: the buffer came from the C allocator.
            unsafe { libc::free(data.cast()) };
            *s = rosidl_runtime_c__Sequence {
                data: core::ptr::null_mut(),
                size: 0,
                capacity: 0,
            };
            return Ok(());
        }
        let bytes = n.checked_mul(stride).ok_or(CdrError::BadAlloc)?;
        // SAFETY: the buffer is null or came from the C allocator.
        let new = unsafe { libc::realloc(data.cast(), bytes) }.cast::<u8>();
        if new.is_null() {
            if n < old {
                // Shrinking in place failed: keep the old buffer with fewer live elements.
                s.size = n;
                return Ok(());
            }
            return Err(CdrError::BadAlloc);
        }
        s.data = new.cast();
        s.capacity = n;
        if n > old {
            // SAFETY: bytes old*stride..n*stride are inside the new buffer.
            unsafe { core::ptr::write_bytes(new.add(old * stride), 0, (n - old) * stride) };
            for i in old..n {
                // SAFETY: element i is inside the new buffer and zeroed.
                let e = unsafe { new.add(i * stride) };
                match f.elem {
                    Elem::Msg(sub) => {
                        if let Some(init) = sub.init_function {
                            // SAFETY: zeroed memory of the element's size, as init expects.
                            unsafe { init(e.cast(), MSG_INIT_ALL) };
                        }
                    }
                    // New strings hold "" with its NUL, as rosidl_runtime_c's __init leaves
                    // them, so even a message whose deserialization fails later holds only
                    // printable strings.
                    // SAFETY: a zeroed (null, 0, 0) string struct.
                    Elem::Str => unsafe { Self::string_assign(e, &[]) }?,
                    // SAFETY: as above.
                    Elem::WStr => unsafe { Self::wstring_assign(e, &[]) }?,
                    Elem::Prim(_) => {}
                }
                s.size = i + 1;
            }
        }
        s.size = n;
        Ok(())
    }
}

impl Flavor for Cpp {
    type Members = CppMembers;
    type Member = CppMember;
    const IDENTIFIER: &'static CStr = INTROSPECTION_CPP;

    unsafe fn members(m: &CppMembers) -> &[CppMember] {
        if m.members_.is_null() || m.member_count_ == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees `members_` holds `member_count_` entries.
        unsafe { core::slice::from_raw_parts(m.members_, m.member_count_ as usize) }
    }
    fn size_of(m: &CppMembers) -> usize {
        m.size_of_
    }
    fn common(m: &CppMember) -> Common {
        common_of!(m)
    }
    fn string_stride() -> usize {
        cxx::string_size_of()
    }
    fn wstring_stride() -> usize {
        cxx::u16string_size_of()
    }
    unsafe fn string_bytes<'a>(p: *const u8) -> Result<&'a [u8], CdrError> {
        // SAFETY: the caller guarantees `p` is a std::string.
        Ok(unsafe { cxx::string_bytes(p) })
    }
    unsafe fn string_assign(p: *mut u8, bytes: &[u8]) -> Result<(), CdrError> {
        // SAFETY: the caller guarantees `p` is a std::string.
        if unsafe { cxx::string_assign(p, bytes) } {
            Ok(())
        } else {
            Err(CdrError::BadAlloc)
        }
    }
    unsafe fn wstring_units<'a>(p: *const u8) -> Result<&'a [u16], CdrError> {
        // SAFETY: the caller guarantees `p` is a std::u16string.
        Ok(unsafe { cxx::u16string_units(p) })
    }
    unsafe fn wstring_assign(p: *mut u8, units: &[u16]) -> Result<(), CdrError> {
        // SAFETY: the caller guarantees `p` is a std::u16string.
        if unsafe { cxx::u16string_assign(p, units) } {
            Ok(())
        } else {
            Err(CdrError::BadAlloc)
        }
    }
    unsafe fn seq_len(f: &Field<'_, Self>, p: *const u8) -> Result<usize, CdrError> {
        let size = f
            .raw
            .size_function
            .ok_or(CdrError::BadTypeSupport("sequence without size_function"))?;
        // SAFETY: the table's own accessor applied to its member.
        Ok(unsafe { size(p.cast()) })
    }
    unsafe fn elem_ptr(
        f: &Field<'_, Self>,
        p: *const u8,
        i: usize,
    ) -> Result<Option<*const u8>, CdrError> {
        match (f.raw.get_const_function, f.shape) {
            // SAFETY: the table's own accessor, with an index in range.
            (Some(get), _) => Ok(Some(unsafe { get(p.cast(), i) }.cast())),
            // A std::array without accessors: elements are contiguous at the member.
            // SAFETY: `i` < array size, so the element is inside the member.
            (None, Shape::Array(_)) => Ok(Some(unsafe { p.add(i * f.elem.stride()) })),
            (None, _) if f.raw.fetch_function.is_some() => Ok(None),
            (None, _) => Err(CdrError::BadTypeSupport("sequence without accessors")),
        }
    }
    unsafe fn elem_mut(
        f: &Field<'_, Self>,
        p: *mut u8,
        i: usize,
    ) -> Result<Option<*mut u8>, CdrError> {
        match (f.raw.get_function, f.shape) {
            // SAFETY: the table's own accessor, with an index in range.
            (Some(get), _) => Ok(Some(unsafe { get(p.cast(), i) }.cast())),
            // SAFETY: `i` < array size, so the element is inside the member.
            (None, Shape::Array(_)) => Ok(Some(unsafe { p.add(i * f.elem.stride()) })),
            (None, _) if f.raw.assign_function.is_some() => Ok(None),
            (None, _) => Err(CdrError::BadTypeSupport("sequence without accessors")),
        }
    }
    unsafe fn fetch_bool(f: &Field<'_, Self>, p: *const u8, i: usize) -> Result<bool, CdrError> {
        let fetch = f
            .raw
            .fetch_function
            .ok_or(CdrError::BadTypeSupport("no fetch_function"))?;
        let mut v = false;
        // SAFETY: the table's accessor copies element i (in range) into a bool.
        unsafe { fetch(p.cast(), i, (&raw mut v).cast()) };
        Ok(v)
    }
    unsafe fn assign_bool(
        f: &Field<'_, Self>,
        p: *mut u8,
        i: usize,
        v: bool,
    ) -> Result<(), CdrError> {
        let assign = f
            .raw
            .assign_function
            .ok_or(CdrError::BadTypeSupport("no assign_function"))?;
        // SAFETY: the table's accessor copies a bool into element i (in range).
        unsafe { assign(p.cast(), i, (&raw const v).cast()) };
        Ok(())
    }
    unsafe fn seq_resize(f: &Field<'_, Self>, p: *mut u8, n: usize) -> Result<(), CdrError> {
        let resize = f
            .raw
            .resize_function
            .ok_or(CdrError::BadTypeSupport("sequence without resize_function"))?;
        // SAFETY: the table's own accessor. `n` was checked against the bound and against
        // the bytes left in the stream before this call, so it cannot throw length_error and
        // the allocation is proportional to the input.
        unsafe { resize(p.cast(), n) };
        Ok(())
    }
}

impl<F: Flavor> Elem<'_, F> {
    /// Size of one element in memory.
    fn stride(&self) -> usize {
        match self {
            Elem::Prim(p) => p.size,
            Elem::Str => F::string_stride(),
            Elem::WStr => F::wstring_stride(),
            Elem::Msg(m) => F::size_of(m),
        }
    }
}

fn prim_of(type_id: u8) -> Result<Option<Prim>, CdrError> {
    let (size, is_bool) = match type_id {
        ft::BOOLEAN => (1, true),
        ft::CHAR | ft::OCTET | ft::UINT8 | ft::INT8 => (1, false),
        ft::UINT16 | ft::INT16 => (2, false),
        ft::FLOAT | ft::UINT32 | ft::INT32 => (4, false),
        ft::DOUBLE | ft::UINT64 | ft::INT64 => (8, false),
        ft::STRING | ft::WSTRING | ft::MESSAGE => return Ok(None),
        ft::LONG_DOUBLE => return Err(CdrError::BadTypeSupport("long double is not supported")),
        ft::WCHAR => return Err(CdrError::BadTypeSupport("wchar is not supported")),
        _ => return Err(CdrError::BadTypeSupport("unknown field type id")),
    };
    Ok(Some(Prim { size, is_bool }))
}

/// The members struct of a nested type's handle, for flavour `F`.
///
/// # Safety
/// `ts` is null or a valid handle whose tables live for `'a`.
unsafe fn sub_members<'a, F: Flavor>(
    ts: *const rosidl_message_type_support_t,
) -> Result<&'a F::Members, CdrError> {
    // SAFETY: the caller guarantees `ts` is null or valid.
    let mut h =
        unsafe { ts.as_ref() }.ok_or(CdrError::BadTypeSupport("nested type without members"))?;
    // SAFETY: identifiers are null or NUL-terminated static strings.
    let same = |h: &rosidl_message_type_support_t| {
        !h.typesupport_identifier.is_null()
            && unsafe { CStr::from_ptr(h.typesupport_identifier) } == F::IDENTIFIER
    };
    if !same(h) {
        // Generated tables always point at the same flavour, but follow the getter if not.
        let func = h
            .func
            .ok_or(CdrError::BadTypeSupport("nested handle of another flavour"))?;
        // SAFETY: the handle's own getter, called with itself.
        let found = unsafe { func(ts, F::IDENTIFIER.as_ptr()) };
        // SAFETY: the getter returns null or a valid handle.
        h = unsafe { found.as_ref() }
            .ok_or(CdrError::BadTypeSupport("nested type without members"))?;
        if !same(h) {
            return Err(CdrError::BadTypeSupport("nested handle of another flavour"));
        }
    }
    // SAFETY: an introspection handle of flavour F carries F's members struct.
    unsafe { h.data.cast::<F::Members>().as_ref() }
        .ok_or(CdrError::BadTypeSupport("nested type without members"))
}

/// Normalises one table entry.
///
/// # Safety
/// `raw` comes from valid tables whose nested handles live for `'a`.
unsafe fn field<'a, F: Flavor>(raw: &'a F::Member) -> Result<Field<'a, F>, CdrError> {
    let c = F::common(raw);
    let elem = match prim_of(c.type_id)? {
        Some(p) => Elem::Prim(p),
        None => match c.type_id {
            ft::STRING => Elem::Str,
            ft::WSTRING => Elem::WStr,
            // SAFETY: forwarded from the caller.
            _ => Elem::Msg(unsafe { sub_members::<F>(c.members) }?),
        },
    };
    let shape = if !c.is_array {
        Shape::One
    } else if c.is_upper_bound {
        Shape::Sequence {
            bound: Some(c.array_size),
        }
    } else if c.array_size == 0 {
        Shape::Sequence { bound: None }
    } else {
        Shape::Array(c.array_size)
    };
    Ok(Field {
        raw,
        elem,
        shape,
        offset: c.offset as usize,
    })
}

/// Smallest number of bytes one element can take on the wire (alignment ignored), so that a
/// count can be checked against what is left in the stream before anything is allocated.
///
/// # Safety
/// As [`field`].
unsafe fn min_wire<F: Flavor>(elem: &Elem<'_, F>, depth: u32) -> Result<usize, CdrError> {
    Ok(match elem {
        Elem::Prim(p) => p.size,
        Elem::Str | Elem::WStr => 4,
        Elem::Msg(m) => {
            if depth > 32 {
                return Ok(1);
            }
            let mut total = 0usize;
            // SAFETY: forwarded from the caller.
            for raw in unsafe { F::members(m) } {
                // SAFETY: forwarded from the caller.
                let f = unsafe { field::<F>(raw) }?;
                // SAFETY: forwarded from the caller.
                let one = unsafe { min_wire(&f.elem, depth + 1) }?;
                total = total.saturating_add(match f.shape {
                    Shape::One => one,
                    Shape::Array(n) => one.saturating_mul(n),
                    Shape::Sequence { .. } => 4,
                });
            }
            total.max(1)
        }
    })
}

/// Writes `n` primitives stored contiguously at `p`.
///
/// # Safety
/// `p` points to `n` initialised primitives of type `prim`.
unsafe fn put_prims<S: Sink>(
    out: &mut S,
    prim: Prim,
    p: *const u8,
    n: usize,
) -> Result<(), CdrError> {
    if n == 0 {
        return Ok(());
    }
    // SAFETY: the caller guarantees n * size readable bytes at `p`.
    let bytes = unsafe { core::slice::from_raw_parts(p, n * prim.size) };
    out.align(prim.size)?;
    if prim.is_bool {
        for &b in bytes {
            out.put(&[u8::from(b != 0)])?;
        }
    } else if cfg!(target_endian = "little") || prim.size == 1 {
        out.put(bytes)?;
    } else {
        for chunk in bytes.chunks_exact(prim.size) {
            let mut v = [0u8; 8];
            v[..prim.size].copy_from_slice(chunk);
            v[..prim.size].reverse();
            out.put(&v[..prim.size])?;
        }
    }
    Ok(())
}

/// Reads `n` primitives into contiguous memory at `p`.
///
/// # Safety
/// `p` points to writable room for `n` primitives of type `prim`.
unsafe fn get_prims(r: &mut Reader<'_>, prim: Prim, p: *mut u8, n: usize) -> Result<(), CdrError> {
    if n == 0 {
        return Ok(());
    }
    r.align(prim.size)?;
    let len = n.checked_mul(prim.size).ok_or(CdrError::LengthTooLong)?;
    let src = r.take(len)?;
    if prim.is_bool && src.iter().any(|&b| b > 1) {
        return Err(CdrError::InvalidBool);
    }
    // SAFETY: the caller guarantees `len` writable bytes at `p`; `src` is a separate buffer.
    let dst = unsafe { core::slice::from_raw_parts_mut(p, len) };
    dst.copy_from_slice(src);
    let swap = r.big_endian() != cfg!(target_endian = "big");
    if swap && prim.size > 1 {
        for chunk in dst.chunks_exact_mut(prim.size) {
            chunk.reverse();
        }
    }
    Ok(())
}

/// The walk, generic over the flavour.
struct Walk<F>(PhantomData<F>);

impl<F: Flavor> Walk<F> {
    /// # Safety
    /// `msg` points to an initialised message that `m` describes.
    unsafe fn ser_message<S: Sink>(
        m: &F::Members,
        msg: *const u8,
        out: &mut S,
    ) -> Result<(), CdrError> {
        // SAFETY: forwarded from the caller.
        for raw in unsafe { F::members(m) } {
            // SAFETY: forwarded from the caller.
            let f = unsafe { field::<F>(raw) }?;
            // SAFETY: the member lies at its offset inside the message.
            let p = unsafe { msg.add(f.offset) };
            // SAFETY: `p` is the member `f` describes.
            unsafe { Self::ser_field(&f, p, out) }?;
        }
        Ok(())
    }

    /// # Safety
    /// `p` points to the member `f` describes.
    unsafe fn ser_field<S: Sink>(
        f: &Field<'_, F>,
        p: *const u8,
        out: &mut S,
    ) -> Result<(), CdrError> {
        let n = match f.shape {
            // SAFETY: `p` is a single element.
            Shape::One => return unsafe { Self::ser_elem(f, p, out) },
            Shape::Array(n) => n,
            Shape::Sequence { bound } => {
                // SAFETY: `p` is a sequence member.
                let n = unsafe { F::seq_len(f, p) }?;
                if bound.is_some_and(|b| n > b) {
                    return Err(CdrError::BoundExceeded);
                }
                out.put_len(n)?;
                n
            }
        };
        if n == 0 {
            return Ok(());
        }
        if let Elem::Prim(prim) = f.elem {
            // SAFETY: n > 0 elements are in range.
            match unsafe { F::elem_ptr(f, p, 0) }? {
                // Contiguous storage: C arrays and sequences, std::array, std::vector<T != bool>.
                // SAFETY: element 0 of n contiguous primitives.
                Some(first) => return unsafe { put_prims(out, prim, first, n) },
                None => {
                    for i in 0..n {
                        // SAFETY: i < n is in range.
                        let v = unsafe { F::fetch_bool(f, p, i) }?;
                        out.put_aligned(&[u8::from(v)])?;
                    }
                    return Ok(());
                }
            }
        }
        for i in 0..n {
            // SAFETY: i < n is in range.
            let e = unsafe { F::elem_ptr(f, p, i) }?
                .ok_or(CdrError::BadTypeSupport("unaddressable element"))?;
            // SAFETY: `e` is one element of the member.
            unsafe { Self::ser_elem(f, e, out) }?;
        }
        Ok(())
    }

    /// # Safety
    /// `p` points to one element of the member `f` describes.
    unsafe fn ser_elem<S: Sink>(
        f: &Field<'_, F>,
        p: *const u8,
        out: &mut S,
    ) -> Result<(), CdrError> {
        match &f.elem {
            // SAFETY: one primitive at `p`.
            Elem::Prim(prim) => unsafe { put_prims(out, *prim, p, 1) },
            Elem::Str => {
                // SAFETY: `p` is a string of this flavour.
                let s = unsafe { F::string_bytes(p) }?;
                out.put_len(s.len() + 1)?;
                out.put(s)?;
                out.put(&[0])
            }
            Elem::WStr => {
                // SAFETY: `p` is a wide string of this flavour.
                let s = unsafe { F::wstring_units(p) }?;
                out.put_len(s.len())?;
                for &u in s {
                    out.put(&u32::from(u).to_le_bytes())?;
                }
                Ok(())
            }
            // SAFETY: `p` is a nested message that `m` describes.
            Elem::Msg(m) => unsafe { Self::ser_message(m, p, out) },
        }
    }

    /// # Safety
    /// `msg` points to an initialised message that `m` describes, not otherwise borrowed.
    unsafe fn de_message(m: &F::Members, msg: *mut u8, r: &mut Reader<'_>) -> Result<(), CdrError> {
        // SAFETY: forwarded from the caller.
        for raw in unsafe { F::members(m) } {
            // SAFETY: forwarded from the caller.
            let f = unsafe { field::<F>(raw) }?;
            // SAFETY: the member lies at its offset inside the message.
            let p = unsafe { msg.add(f.offset) };
            // SAFETY: `p` is the member `f` describes.
            unsafe { Self::de_field(&f, p, r) }?;
        }
        Ok(())
    }

    /// # Safety
    /// `p` points to the member `f` describes.
    unsafe fn de_field(f: &Field<'_, F>, p: *mut u8, r: &mut Reader<'_>) -> Result<(), CdrError> {
        let n = match f.shape {
            // SAFETY: `p` is a single element.
            Shape::One => return unsafe { Self::de_elem(f, p, r) },
            Shape::Array(n) => n,
            Shape::Sequence { bound } => {
                // SAFETY: tables valid, as for the whole walk.
                let min = unsafe { min_wire(&f.elem, 0) }?;
                let n = r.count(min)?;
                if bound.is_some_and(|b| n > b) {
                    return Err(CdrError::BoundExceeded);
                }
                // SAFETY: `p` is a sequence member; `n` is checked.
                unsafe { F::seq_resize(f, p, n) }?;
                n
            }
        };
        if n == 0 {
            return Ok(());
        }
        if let Elem::Prim(prim) = f.elem {
            // SAFETY: n > 0 elements are in range.
            match unsafe { F::elem_mut(f, p, 0) }? {
                // SAFETY: room for n contiguous primitives.
                Some(first) => return unsafe { get_prims(r, prim, first, n) },
                None => {
                    for i in 0..n {
                        let v = match r.take(1)?[0] {
                            0 => false,
                            1 => true,
                            _ => return Err(CdrError::InvalidBool),
                        };
                        // SAFETY: i < n is in range.
                        unsafe { F::assign_bool(f, p, i, v) }?;
                    }
                    return Ok(());
                }
            }
        }
        for i in 0..n {
            // SAFETY: i < n is in range.
            let e = unsafe { F::elem_mut(f, p, i) }?
                .ok_or(CdrError::BadTypeSupport("unaddressable element"))?;
            // SAFETY: `e` is one element of the member.
            unsafe { Self::de_elem(f, e, r) }?;
        }
        Ok(())
    }

    /// # Safety
    /// `p` points to one element of the member `f` describes.
    unsafe fn de_elem(f: &Field<'_, F>, p: *mut u8, r: &mut Reader<'_>) -> Result<(), CdrError> {
        match &f.elem {
            // SAFETY: room for one primitive at `p`.
            Elem::Prim(prim) => unsafe { get_prims(r, *prim, p, 1) },
            Elem::Str => {
                let len = r.count(1)?;
                let bytes = r.take(len)?;
                let s = match bytes.split_last() {
                    None => bytes,
                    Some((0, s)) => s,
                    Some(_) => return Err(CdrError::MissingNul),
                };
                // SAFETY: `p` is a string of this flavour.
                unsafe { F::string_assign(p, s) }
            }
            Elem::WStr => {
                let n = r.count(4)?;
                let mut units = Vec::with_capacity(n);
                for _ in 0..n {
                    let u = u32::from_le_bytes(r.prim::<4>()?);
                    units.push(u16::try_from(u).map_err(|_| CdrError::InvalidWchar)?);
                }
                // SAFETY: `p` is a wide string of this flavour.
                unsafe { F::wstring_assign(p, &units) }
            }
            // SAFETY: `p` is a nested message that `m` describes.
            Elem::Msg(m) => unsafe { Self::de_message(m, p, r) },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Releasing C message memory by the tables.

/// # Safety
/// `msg` is a C message that `m` describes.
unsafe fn c_fini_members(m: &CMembers, msg: *mut u8) -> Result<(), CdrError> {
    // SAFETY: forwarded from the caller.
    for raw in unsafe { C::members(m) } {
        // SAFETY: forwarded from the caller.
        let f = unsafe { field::<C>(raw) }?;
        // SAFETY: the member lies at its offset.
        let p = unsafe { msg.add(f.offset) };
        match f.shape {
            // SAFETY: `p` is one element.
            Shape::One => unsafe { c_fini_elem(&f.elem, p) }?,
            Shape::Array(n) => {
                for i in 0..n {
                    // SAFETY: element i of a C array.
                    unsafe { c_fini_elem(&f.elem, p.add(i * f.elem.stride())) }?;
                }
            }
            // SAFETY: `p` is a sequence; resizing to 0 finalises and frees it.
            Shape::Sequence { .. } => unsafe { C::seq_resize(&f, p, 0) }?,
        }
    }
    Ok(())
}

/// # Safety
/// `p` is one element of kind `elem` of a C message.
unsafe fn c_fini_elem(elem: &Elem<'_, C>, p: *mut u8) -> Result<(), CdrError> {
    match elem {
        Elem::Prim(_) => {}
        Elem::Str => {
            // SAFETY: `p` is a rosidl_runtime_c__String.
            let s = unsafe { &mut *p.cast::<rosidl_runtime_c__String>() };
            // SAFETY: data is null or from the C allocator.
            unsafe { libc::free(s.data.cast()) };
            *s = rosidl_runtime_c__String {
                data: core::ptr::null_mut(),
                size: 0,
                capacity: 0,
            };
        }
        Elem::WStr => {
            // SAFETY: `p` is a rosidl_runtime_c__U16String.
            let s = unsafe { &mut *p.cast::<rosidl_runtime_c__U16String>() };
            // SAFETY: data is null or from the C allocator.
            unsafe { libc::free(s.data.cast()) };
            *s = rosidl_runtime_c__U16String {
                data: core::ptr::null_mut(),
                size: 0,
                capacity: 0,
            };
        }
        Elem::Msg(m) => match m.fini_function {
            // SAFETY: the type's own fini on one of its messages.
            Some(fini) => unsafe { fini(p.cast()) },
            // SAFETY: `p` is a message that `m` describes.
            None => unsafe { c_fini_members(m, p) }?,
        },
    }
    Ok(())
}

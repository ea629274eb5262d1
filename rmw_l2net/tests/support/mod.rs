//! Test support: the C and C++ fixture libraries (tests/fixtures, built by build.rs), message
//! memory, and an oracle that fills messages from the JSON values of the reference vectors and
//! reads them back. The oracle is written independently of the library's walk: for C it uses the
//! rosidl layouts directly, for C++ the tables' accessors and the fixture's own std::string
//! helpers.

#![allow(dead_code, unsafe_op_in_unsafe_fn)]

use std::alloc::Layout;
use std::ffi::{CStr, CString, c_void};
use std::path::PathBuf;
use std::sync::OnceLock;

use rmw_l2net_cpp::abi::*;
use serde_json::Value;

#[cfg(target_os = "linux")]
pub mod rmw;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    C,
    Cpp,
}

pub const FLAVORS: [Flavor; 2] = [Flavor::C, Flavor::Cpp];

struct Lib(*mut c_void);
// SAFETY: a dlopen handle may be used from any thread.
unsafe impl Send for Lib {}
// SAFETY: as above; dlsym is thread-safe.
unsafe impl Sync for Lib {}

fn open(name: &str) -> Lib {
    let path = CString::new(format!("{}/{name}", env!("OUT_DIR"))).unwrap();
    // SAFETY: dlopen of our own fixture library, built by build.rs.
    let h = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h.is_null(), "dlopen {name} failed");
    Lib(h)
}

fn lib(flavor: Flavor) -> &'static Lib {
    static C: OnceLock<Lib> = OnceLock::new();
    static CPP: OnceLock<Lib> = OnceLock::new();
    match flavor {
        Flavor::C => C.get_or_init(|| open("libl2net_fixtures_c.so")),
        Flavor::Cpp => CPP.get_or_init(|| open("libl2net_fixtures_cpp.so")),
    }
}

fn sym(flavor: Flavor, name: &CStr) -> *mut c_void {
    // SAFETY: dlsym on a live handle.
    let p = unsafe { libc::dlsym(lib(flavor).0, name.as_ptr()) };
    assert!(!p.is_null(), "missing fixture symbol {name:?}");
    p
}

/// The fixture's introspection handle for a type such as "test_msgs/msg/BasicTypes".
pub fn type_support(flavor: Flavor, ty: &str) -> *const rosidl_message_type_support_t {
    type Get = unsafe extern "C" fn(*const libc::c_char) -> *const rosidl_message_type_support_t;
    // SAFETY: the fixture exports l2net_fixture_ts with this signature.
    let get: Get = unsafe { std::mem::transmute(sym(flavor, c"l2net_fixture_ts")) };
    let name = CString::new(ty).unwrap();
    // SAFETY: a NUL-terminated name.
    let ts = unsafe { get(name.as_ptr()) };
    assert!(!ts.is_null(), "no fixture for {ty}");
    ts
}

/// An initialised message of a fixture type, finalised on drop.
pub struct Msg {
    pub flavor: Flavor,
    pub ts: *const rosidl_message_type_support_t,
    pub ptr: *mut u8,
    layout: Layout,
}

impl Msg {
    pub fn new(flavor: Flavor, ty: &str) -> Self {
        let ts = type_support(flavor, ty);
        // SAFETY: fixture handles carry their flavour's members struct.
        let (size, init) = unsafe {
            match flavor {
                Flavor::C => {
                    let m = &*(*ts).data.cast::<CMembers>();
                    (m.size_of_, m.init_function)
                }
                Flavor::Cpp => {
                    let m = &*(*ts).data.cast::<CppMembers>();
                    (m.size_of_, m.init_function)
                }
            }
        };
        let layout = Layout::from_size_align(size.max(1), 16).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        // SAFETY: zeroed memory of the type's size, as the init functions expect.
        unsafe { init.unwrap()(ptr.cast(), 0) };
        Self {
            flavor,
            ts,
            ptr,
            layout,
        }
    }

    pub fn fill(&mut self, v: &Value) {
        // SAFETY: the message is initialised and of the handle's type.
        unsafe { fill_message(self.flavor, (*self.ts).data, self.ptr, v) }
    }

    pub fn read(&self) -> Value {
        // SAFETY: as fill.
        unsafe { read_message(self.flavor, (*self.ts).data, self.ptr) }
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        // SAFETY: the message is initialised; its memory came from `layout`.
        unsafe {
            match self.flavor {
                Flavor::C => {
                    let m = &*(*self.ts).data.cast::<CMembers>();
                    rmw_l2net_cpp::sys::introspection::c_message_fini(m, self.ptr.cast()).unwrap();
                }
                Flavor::Cpp => {
                    let m = &*(*self.ts).data.cast::<CppMembers>();
                    m.fini_function.unwrap()(self.ptr.cast());
                }
            }
            std::alloc::dealloc(self.ptr, self.layout);
        }
    }
}

pub type CMembers = rosidl_typesupport_introspection_c__MessageMembers;
pub type CppMembers = rosidl_typesupport_introspection_cpp__MessageMembers;

/// One table entry, flavour-independent.
struct M {
    name: String,
    type_id: u8,
    sub: *const c_void,
    is_array: bool,
    array_size: usize,
    is_upper_bound: bool,
    offset: usize,
    cpp: Option<*const rosidl_typesupport_introspection_cpp__MessageMember>,
}

unsafe fn members(flavor: Flavor, data: *const c_void) -> (Vec<M>, usize) {
    macro_rules! conv {
        ($mm:expr, $cpp:expr) => {{
            let mm = $mm;
            let list = std::slice::from_raw_parts(mm.members_, mm.member_count_ as usize);
            let v = list
                .iter()
                .map(|m| M {
                    name: CStr::from_ptr(m.name_).to_str().unwrap().to_owned(),
                    type_id: m.type_id_,
                    sub: if m.members_.is_null() {
                        std::ptr::null()
                    } else {
                        (*m.members_).data
                    },
                    is_array: m.is_array_,
                    array_size: m.array_size_,
                    is_upper_bound: m.is_upper_bound_,
                    offset: m.offset_ as usize,
                    cpp: $cpp(m),
                })
                .collect();
            (v, mm.size_of_)
        }};
    }
    match flavor {
        Flavor::C => conv!(&*data.cast::<CMembers>(), |_| None),
        Flavor::Cpp => conv!(
            &*data.cast::<CppMembers>(),
            |m: &rosidl_typesupport_introspection_cpp__MessageMember| Some(m as *const _)
        ),
    }
}

fn prim_size(type_id: u8) -> Option<usize> {
    use field_type as f;
    Some(match type_id {
        f::BOOLEAN | f::OCTET | f::UINT8 | f::INT8 | f::CHAR => 1,
        f::INT16 | f::UINT16 => 2,
        f::INT32 | f::UINT32 | f::FLOAT => 4,
        f::INT64 | f::UINT64 | f::DOUBLE => 8,
        _ => return None,
    })
}

fn stride(flavor: Flavor, m: &M) -> usize {
    if let Some(s) = prim_size(m.type_id) {
        return s;
    }
    match (m.type_id, flavor) {
        (field_type::STRING | field_type::WSTRING, Flavor::C) => 24,
        (field_type::STRING | field_type::WSTRING, Flavor::Cpp) => 32,
        // SAFETY: nested handles carry their members struct.
        _ => unsafe { members(flavor, m.sub).1 },
    }
}

unsafe fn fill_message(flavor: Flavor, data: *const c_void, msg: *mut u8, v: &Value) {
    let (ms, _) = members(flavor, data);
    for m in &ms {
        let Some(fv) = v.get(&m.name) else { continue };
        let p = msg.add(m.offset);
        if !m.is_array {
            fill_elem(flavor, m, p, fv);
            continue;
        }
        let items = fv.as_array().unwrap();
        let n = items.len();
        let is_seq = m.is_upper_bound || m.array_size == 0;
        match flavor {
            Flavor::C => {
                let base = if is_seq {
                    let s = &mut *p.cast::<rosidl_runtime_c__Sequence>();
                    assert!(s.data.is_null());
                    let st = stride(flavor, m);
                    s.data = libc::calloc(n.max(1), st);
                    s.size = n;
                    s.capacity = n;
                    if m.type_id == field_type::MESSAGE {
                        let init = (*m.sub.cast::<CMembers>()).init_function.unwrap();
                        for i in 0..n {
                            init(s.data.cast::<u8>().add(i * st).cast(), 0);
                        }
                    }
                    s.data.cast::<u8>()
                } else {
                    assert_eq!(n, m.array_size);
                    p
                };
                for (i, item) in items.iter().enumerate() {
                    fill_elem(flavor, m, base.add(i * stride(flavor, m)), item);
                }
            }
            Flavor::Cpp => {
                let raw = &*m.cpp.unwrap();
                if is_seq {
                    raw.resize_function.unwrap()(p.cast(), n);
                }
                assert_eq!(raw.size_function.unwrap()(p.cast()), n);
                for (i, item) in items.iter().enumerate() {
                    match raw.get_function {
                        Some(get) => fill_elem(flavor, m, get(p.cast(), i).cast(), item),
                        None => {
                            let b = item.as_bool().unwrap();
                            raw.assign_function.unwrap()(p.cast(), i, (&raw const b).cast());
                        }
                    }
                }
            }
        }
    }
}

unsafe fn fill_elem(flavor: Flavor, m: &M, p: *mut u8, v: &Value) {
    use field_type as f;
    match m.type_id {
        f::BOOLEAN => *p = u8::from(v.as_bool().unwrap()),
        f::OCTET | f::UINT8 | f::CHAR => *p = u8::try_from(v.as_u64().unwrap()).unwrap(),
        f::INT8 => *p.cast::<i8>() = i8::try_from(v.as_i64().unwrap()).unwrap(),
        f::INT16 => p
            .cast::<i16>()
            .write_unaligned(v.as_i64().unwrap().try_into().unwrap()),
        f::UINT16 => p
            .cast::<u16>()
            .write_unaligned(v.as_u64().unwrap().try_into().unwrap()),
        f::INT32 => p
            .cast::<i32>()
            .write_unaligned(v.as_i64().unwrap().try_into().unwrap()),
        f::UINT32 => p
            .cast::<u32>()
            .write_unaligned(v.as_u64().unwrap().try_into().unwrap()),
        f::INT64 => p.cast::<i64>().write_unaligned(v.as_i64().unwrap()),
        f::UINT64 => p.cast::<u64>().write_unaligned(v.as_u64().unwrap()),
        f::FLOAT => p.cast::<f32>().write_unaligned(v.as_f64().unwrap() as f32),
        f::DOUBLE => p.cast::<f64>().write_unaligned(v.as_f64().unwrap()),
        f::STRING => {
            let s = v.as_str().unwrap().as_bytes();
            match flavor {
                Flavor::C => {
                    let st = &mut *p.cast::<rosidl_runtime_c__String>();
                    libc::free(st.data.cast());
                    let d = libc::malloc(s.len() + 1).cast::<u8>();
                    std::ptr::copy_nonoverlapping(s.as_ptr(), d, s.len());
                    *d.add(s.len()) = 0;
                    st.data = d.cast();
                    st.size = s.len();
                    st.capacity = s.len() + 1;
                }
                Flavor::Cpp => {
                    type Set = unsafe extern "C" fn(*mut u8, *const u8, usize);
                    let set: Set = std::mem::transmute(sym(flavor, c"fx_string_set"));
                    set(p, s.as_ptr(), s.len());
                }
            }
        }
        f::WSTRING => {
            let u: Vec<u16> = v.as_str().unwrap().encode_utf16().collect();
            match flavor {
                Flavor::C => {
                    let st = &mut *p.cast::<rosidl_runtime_c__U16String>();
                    libc::free(st.data.cast());
                    let d = libc::malloc((u.len() + 1) * 2).cast::<u16>();
                    std::ptr::copy_nonoverlapping(u.as_ptr(), d, u.len());
                    *d.add(u.len()) = 0;
                    st.data = d;
                    st.size = u.len();
                    st.capacity = u.len() + 1;
                }
                Flavor::Cpp => {
                    type Set = unsafe extern "C" fn(*mut u8, *const u16, usize);
                    let set: Set = std::mem::transmute(sym(flavor, c"fx_u16string_set"));
                    set(p, u.as_ptr(), u.len());
                }
            }
        }
        f::MESSAGE => fill_message(flavor, m.sub, p, v),
        other => panic!("type id {other} not in the fixtures"),
    }
}

unsafe fn read_message(flavor: Flavor, data: *const c_void, msg: *const u8) -> Value {
    let (ms, _) = members(flavor, data);
    let mut out = serde_json::Map::new();
    for m in &ms {
        if m.name == "structure_needs_at_least_one_member" {
            continue;
        }
        let p = msg.add(m.offset);
        let v = if !m.is_array {
            read_elem(flavor, m, p)
        } else {
            let is_seq = m.is_upper_bound || m.array_size == 0;
            let mut items = Vec::new();
            match flavor {
                Flavor::C => {
                    let (base, n) = if is_seq {
                        let s = &*p.cast::<rosidl_runtime_c__Sequence>();
                        (s.data.cast::<u8>().cast_const(), s.size)
                    } else {
                        (p, m.array_size)
                    };
                    for i in 0..n {
                        items.push(read_elem(flavor, m, base.add(i * stride(flavor, m))));
                    }
                }
                Flavor::Cpp => {
                    let raw = &*m.cpp.unwrap();
                    let n = raw.size_function.unwrap()(p.cast());
                    for i in 0..n {
                        items.push(match raw.get_const_function {
                            Some(get) => read_elem(flavor, m, get(p.cast(), i).cast()),
                            None => {
                                let mut b = false;
                                raw.fetch_function.unwrap()(p.cast(), i, (&raw mut b).cast());
                                Value::Bool(b)
                            }
                        });
                    }
                }
            }
            Value::Array(items)
        };
        out.insert(m.name.clone(), v);
    }
    Value::Object(out)
}

unsafe fn read_elem(flavor: Flavor, m: &M, p: *const u8) -> Value {
    use field_type as f;
    match m.type_id {
        f::BOOLEAN => {
            let b = *p;
            assert!(b <= 1, "bool byte {b}");
            Value::Bool(b == 1)
        }
        f::OCTET | f::UINT8 | f::CHAR => Value::from(*p),
        f::INT8 => Value::from(*p.cast::<i8>()),
        f::INT16 => Value::from(p.cast::<i16>().read_unaligned()),
        f::UINT16 => Value::from(p.cast::<u16>().read_unaligned()),
        f::INT32 => Value::from(p.cast::<i32>().read_unaligned()),
        f::UINT32 => Value::from(p.cast::<u32>().read_unaligned()),
        f::INT64 => Value::from(p.cast::<i64>().read_unaligned()),
        f::UINT64 => Value::from(p.cast::<u64>().read_unaligned()),
        f::FLOAT => Value::from(f64::from(p.cast::<f32>().read_unaligned())),
        f::DOUBLE => Value::from(p.cast::<f64>().read_unaligned()),
        f::STRING => {
            let bytes: &[u8] = match flavor {
                Flavor::C => {
                    let st = &*p.cast::<rosidl_runtime_c__String>();
                    if st.size == 0 {
                        &[]
                    } else {
                        assert_eq!(*st.data.add(st.size), 0, "C string not NUL-terminated");
                        assert!(st.capacity > st.size);
                        std::slice::from_raw_parts(st.data.cast(), st.size)
                    }
                }
                Flavor::Cpp => {
                    type Get = unsafe extern "C" fn(*const u8, *mut usize) -> *const u8;
                    let get: Get = std::mem::transmute(sym(flavor, c"fx_string_get"));
                    let mut n = 0;
                    let d = get(p, &mut n);
                    std::slice::from_raw_parts(d, n)
                }
            };
            Value::String(String::from_utf8(bytes.to_vec()).unwrap())
        }
        f::WSTRING => {
            let units: &[u16] = match flavor {
                Flavor::C => {
                    let st = &*p.cast::<rosidl_runtime_c__U16String>();
                    if st.size == 0 {
                        &[]
                    } else {
                        assert_eq!(*st.data.add(st.size), 0, "C wstring not terminated");
                        std::slice::from_raw_parts(st.data, st.size)
                    }
                }
                Flavor::Cpp => {
                    type Get = unsafe extern "C" fn(*const u8, *mut usize) -> *const u16;
                    let get: Get = std::mem::transmute(sym(flavor, c"fx_u16string_get"));
                    let mut n = 0;
                    let d = get(p, &mut n);
                    std::slice::from_raw_parts(d, n)
                }
            };
            Value::String(String::from_utf16(units).unwrap())
        }
        f::MESSAGE => read_message(flavor, m.sub, p),
        other => panic!("type id {other} not in the fixtures"),
    }
}

/// Equality of JSON values with floats compared bit for bit (so -0.0 != 0.0).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                x.as_f64().unwrap().to_bits() == y.as_f64().unwrap().to_bits()
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------------
// Reference vectors.

pub struct Case {
    pub name: String,
    pub value: Value,
    pub cdr: Vec<u8>,
}

pub struct VectorFile {
    pub ty: String,
    pub cases: Vec<Case>,
}

pub fn vectors_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("L2NET_CDR_VECTORS") {
        return d.into();
    }
    // The repository sits beside shared/ (main/ and shared/ are siblings), in CI too.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.join("../../shared/ros2/cdr-vectors")
}

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn load_vectors() -> Vec<VectorFile> {
    let dir = vectors_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let d: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            VectorFile {
                ty: d["type"].as_str().unwrap().to_owned(),
                cases: d["cases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| Case {
                        name: c["name"].as_str().unwrap().to_owned(),
                        value: c["value"].clone(),
                        cdr: hex(c["cdr_hex"].as_str().unwrap()),
                    })
                    .collect(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Serialized messages with a malloc-backed rcutils allocator.

unsafe extern "C" fn t_alloc(n: usize, _: *mut c_void) -> *mut c_void {
    libc::malloc(n)
}
unsafe extern "C" fn t_free(p: *mut c_void, _: *mut c_void) {
    libc::free(p)
}
unsafe extern "C" fn t_realloc(p: *mut c_void, n: usize, _: *mut c_void) -> *mut c_void {
    libc::realloc(p, n)
}
unsafe extern "C" fn t_calloc(n: usize, s: usize, _: *mut c_void) -> *mut c_void {
    libc::calloc(n, s)
}

pub fn allocator() -> rcutils_allocator_t {
    rcutils_allocator_t {
        allocate: Some(t_alloc),
        deallocate: Some(t_free),
        reallocate: Some(t_realloc),
        zero_allocate: Some(t_calloc),
        state: std::ptr::null_mut(),
    }
}

pub struct Serialized(pub rmw_serialized_message_t);

impl Serialized {
    pub fn empty() -> Self {
        Self(rmw_serialized_message_t {
            buffer: std::ptr::null_mut(),
            buffer_length: 0,
            buffer_capacity: 0,
            allocator: allocator(),
        })
    }

    pub fn from_bytes(b: &[u8]) -> Self {
        let mut s = Self::empty();
        // SAFETY: plain malloc of the buffer the struct then owns.
        unsafe {
            s.0.buffer = libc::malloc(b.len().max(1)).cast();
            std::ptr::copy_nonoverlapping(b.as_ptr(), s.0.buffer, b.len());
        }
        s.0.buffer_length = b.len();
        s.0.buffer_capacity = b.len().max(1);
        s
    }

    pub fn bytes(&self) -> &[u8] {
        if self.0.buffer_length == 0 {
            return &[];
        }
        // SAFETY: the buffer holds buffer_length bytes.
        unsafe { std::slice::from_raw_parts(self.0.buffer, self.0.buffer_length) }
    }
}

impl Drop for Serialized {
    fn drop(&mut self) {
        // SAFETY: the buffer came from malloc (or realloc through the allocator).
        unsafe { libc::free(self.0.buffer.cast()) }
    }
}

pub fn serialize(msg: &Msg) -> Result<Vec<u8>, (rmw_ret_t, String)> {
    let mut out = Serialized::empty();
    // SAFETY: an initialised message of the handle's type.
    let ret =
        unsafe { rmw_l2net_cpp::sys::exports::rmw_serialize(msg.ptr.cast(), msg.ts, &mut out.0) };
    if ret == RMW_RET_OK {
        Ok(out.bytes().to_vec())
    } else {
        Err((
            ret,
            rmw_l2net_cpp::sys::error_state::last_error().unwrap_or_default(),
        ))
    }
}

pub fn deserialize(bytes: &[u8], msg: &mut Msg) -> Result<(), (rmw_ret_t, String)> {
    let s = Serialized::from_bytes(bytes);
    // SAFETY: an initialised message of the handle's type.
    let ret = unsafe { rmw_l2net_cpp::sys::exports::rmw_deserialize(&s.0, msg.ts, msg.ptr.cast()) };
    if ret == RMW_RET_OK {
        Ok(())
    } else {
        Err((
            ret,
            rmw_l2net_cpp::sys::error_state::last_error().unwrap_or_default(),
        ))
    }
}

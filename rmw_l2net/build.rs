//! Builds the C++ std::string shim that is linked into the library, and the C / C++ test
//! fixtures (`tests/fixtures`) as two small shared objects in OUT_DIR that the integration
//! tests dlopen. The fixtures never end up in librmw_l2net_cpp.so.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=csrc/cxx_string_shim.cpp");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .flag_if_supported("-fvisibility=hidden")
        .warnings(true)
        .file("csrc/cxx_string_shim.cpp")
        .compile("l2net_rmw_cxx_shim");

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let fixtures = Path::new("tests/fixtures");
    for f in [
        "fixture_common.h",
        "fixture_common.hpp",
        "test_msgs_c.c",
        "test_msgs_cpp.cpp",
        "dlopen_smoke.c",
        "fake_rcutils.c",
        "rcl_like.c",
    ] {
        println!("cargo:rerun-if-changed={}", fixtures.join(f).display());
    }
    shared_object(
        cc::Build::new().cpp(false),
        &fixtures.join("test_msgs_c.c"),
        &out.join("libl2net_fixtures_c.so"),
    );
    shared_object(
        cc::Build::new().cpp(true).std("c++17"),
        &fixtures.join("test_msgs_cpp.cpp"),
        &out.join("libl2net_fixtures_cpp.so"),
    );
    shared_object(
        cc::Build::new().cpp(false),
        &fixtures.join("fake_rcutils.c"),
        &out.join("libfake_rcutils.so"),
    );
    // A plain C program that dlopens the built library like rmw_implementation does.
    link(
        cc::Build::new().cpp(false),
        &fixtures.join("dlopen_smoke.c"),
        &out.join("dlopen_smoke"),
        &["-ldl"],
    );
    // A plain C program that drives the library the way rcl does (tests/rcl_like.rs).
    link(
        cc::Build::new().cpp(false).std("gnu11"),
        &fixtures.join("rcl_like.c"),
        &out.join("rcl_like"),
        &["-ldl"],
    );
}

/// Compiles one source file straight into a shared object with the compiler `cc` found.
fn shared_object(build: &mut cc::Build, src: &Path, dst: &Path) {
    let compiler = build.cargo_metadata(false).get_compiler();
    let status = compiler
        .to_command()
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(dst)
        .arg(src)
        .status()
        .expect("run the C/C++ compiler");
    assert!(status.success(), "compiling {} failed", src.display());
}

/// Compiles one source file into an executable.
fn link(build: &mut cc::Build, src: &Path, dst: &Path, libs: &[&str]) {
    let compiler = build.cargo_metadata(false).get_compiler();
    let status = compiler
        .to_command()
        .arg("-o")
        .arg(dst)
        .arg(src)
        .args(libs)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {} failed", src.display());
}

//! The ROS package description (package.xml, CMakeLists.txt) agrees with the crate: package name,
//! library name, version, and the build type colcon needs. The full install layout is checked by
//! `.ci/check.d/rmw-colcon.sh` (a colcon build of this directory).

const PACKAGE_XML: &str = include_str!("../package.xml");
const CMAKE_LISTS: &str = include_str!("../CMakeLists.txt");

/// The text of the first `<tag>...</tag>` in package.xml.
fn element<'a>(tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = PACKAGE_XML
        .find(&open)
        .unwrap_or_else(|| panic!("package.xml has no <{tag}>"))
        + open.len();
    let len = PACKAGE_XML[start..]
        .find(&close)
        .unwrap_or_else(|| panic!("package.xml: <{tag}> is not closed"));
    PACKAGE_XML[start..start + len].trim()
}

#[test]
fn package_xml_is_format_3_with_plain_cmake_build_type() {
    assert!(PACKAGE_XML.contains("<package format=\"3\">"));
    assert_eq!(element("build_type"), "cmake");
    assert_eq!(element("buildtool_depend"), "cmake");
    assert!(
        !PACKAGE_XML.contains(">ament_cmake"),
        "the package must build without ament_cmake"
    );
    assert_eq!(element("member_of_group"), "rmw_implementation_packages");
}

#[test]
fn package_name_is_the_library_rmw_implementation_loads() {
    // rmw_implementation loads lib<RMW_IMPLEMENTATION>.so, and the ament index resource is
    // named after the package: all three must be rmw_l2net_cpp.
    assert_eq!(element("name"), "rmw_l2net_cpp");
    assert!(CMAKE_LISTS.contains("project(rmw_l2net_cpp "));
    assert!(CMAKE_LISTS.contains("set(RMW_L2NET_LIBRARY_FILE librmw_l2net_cpp.so)"));
    assert_eq!(rmw_l2net_cpp::IDENTIFIER.to_str(), Ok("rmw_l2net_cpp"));
}

#[test]
fn package_version_is_the_crate_version() {
    assert_eq!(element("version"), env!("CARGO_PKG_VERSION"));
}

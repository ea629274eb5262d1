//! The reference vectors (shared/ros2/cdr-vectors, bytes from rmw_cyclonedds_cpp): every case
//! serializes to the same bytes and reads back to the same value, through `rmw_serialize` /
//! `rmw_deserialize`, with the C and the C++ introspection type supports.

mod support;

use support::*;

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn vectors_serialize_byte_for_byte_and_read_back() {
    let files = load_vectors();
    assert_eq!(files.len(), 15, "expected the 15 vector files");
    let mut checked = 0;
    for flavor in FLAVORS {
        for f in &files {
            // One message reused across the cases: exercises growing and shrinking sequences
            // and overwriting strings in place.
            let mut reused = Msg::new(flavor, &f.ty);
            for case in &f.cases {
                let what = format!("{flavor:?} {} / {}", f.ty, case.name);
                let mut msg = Msg::new(flavor, &f.ty);
                msg.fill(&case.value);
                assert!(
                    same_value(&msg.read(), &case.value),
                    "{what}: the test oracle does not round-trip\n{}\n{}",
                    msg.read(),
                    case.value
                );
                let bytes = serialize(&msg).unwrap_or_else(|e| panic!("{what}: {e:?}"));
                assert_eq!(
                    hexs(&bytes),
                    hexs(&case.cdr),
                    "{what}: serialized bytes differ"
                );

                let mut back = Msg::new(flavor, &f.ty);
                deserialize(&case.cdr, &mut back).unwrap_or_else(|e| panic!("{what}: {e:?}"));
                assert!(
                    same_value(&back.read(), &case.value),
                    "{what}: deserialized value differs:\n{}\n{}",
                    back.read(),
                    case.value
                );
                assert_eq!(serialize(&back).unwrap(), case.cdr, "{what}: second pass");

                deserialize(&case.cdr, &mut reused).unwrap_or_else(|e| panic!("{what}: {e:?}"));
                assert!(
                    same_value(&reused.read(), &case.value),
                    "{what}: reused message"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 63);
}

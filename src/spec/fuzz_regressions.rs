//! Inputs found by the cargo-fuzz targets in `fuzz/` (see fuzz/README.md),
//! kept so the invariants in [`fuzz_check`] keep holding without cargo-fuzz.

use super::fields;
use super::fuzz_check;

/// Service files: never a panic, positions inside the file, no raw control
/// characters in messages, and accepted specs that round-trip.
const SPEC_FILES: &[&[u8]] = &[
    b"",
    b"\n",
    b"\xff",
    b"[[components]]\nname = \"web\"\nimage = \"busybox\"\n",
    // spec_file: a NUL in a port string came back raw in the message
    // "container port `\01` is not a number from 1 to 65535".
    b"[[components]]\nname = \"app\"\nimage = \"busybox\"\nports = [\"0.0.0.0:8080:80\", \"191:\\u00001\"]\n",
    // The same class of bug, found by reading every message after the above:
    // field errors and unknown keys quoted user text without `fields::shown`.
    b"[[components]]\nname = \"a\"\nimage = \"b\"\nports = [\"80:80/\\u0007\", \"\\t1:80:80\"]\n",
    b"[[components]]\nname = \"a\"\nimage = \"b\"\nvolumes = [\"\\u001b[31m:/x\", \"/a:b\\r\", \"/a:/b:r\\no\"]\n",
    b"\"\\u0001\" = 1\n[[components]]\nname = \"a\"\nimage = \"b\"\n\"\\n\" = 2\n",
    b"name = \"x\\ny\"\n[[components]]\nname = \"a\"\nimage = \"b\"\n",
    b"[[components]]\nname = \"a\"\nimage = \"b\"\n[components.health]\ntcp = 80\ntimeout = \"1\\u0000s\"\n",
    b"[[components]]\nname = \"a\"\nimage = \"b\"\n[components.health]\ntcp = 80\ntimeout = \"\\t0s\"\n",
    // fields: a NUL in a volume path was accepted (podman can never be given it).
    b"[[components]]\nname = \"a\"\nimage = \"b\"\nvolumes = [\"/srv\\u0000x:/srv\"]\n",
    // Multi-byte characters around every position that is reported.
    "[[components]]\nname = \"é\"\nimage = \"ü@sha256:ééééééééééééé\"\n\"日本\" = 1\n".as_bytes(),
];

/// Field values for parse_port, parse_volume, check_image, split_tag, ...
const FIELD_VALUES: &[&[u8]] = &[
    b"",
    b"80:80",
    b"/a:/b:ro",
    b"busybox:1",
    b"+80:080",
    b"[1.2.3.4]:80:80",
    // fields: image_version sliced a digest at byte 12, inside a multi-byte
    // character ("end byte index 12 is not a char boundary").
    b"8248::84@/udp\xfe\xff\xff\xbd",
    "a@sha256:ééééééé".as_bytes(),
    // fields: parse_volume accepted a NUL (and any other control character).
    b"da:/\x86dat\x00g",
    b"/a:/b\n",
    b"80:80/\x01",
];

#[test]
fn spec_files_found_by_fuzzing() {
    for input in SPEC_FILES {
        fuzz_check::spec_file(input);
    }
}

#[test]
fn field_values_found_by_fuzzing() {
    for input in FIELD_VALUES {
        fuzz_check::fields_input(input);
    }
}

#[test]
fn findings_are_refused_or_safe() {
    assert_eq!(
        fields::image_version("a@sha256:ééééééééééééé"),
        "sha256:éééééééééééé"
    );
    assert!(fields::parse_volume("/srv\0x:/srv").is_err());
    assert!(fields::parse_volume("/srv:/srv\n").is_err());
    let why = fields::parse_port("191:\u{0}1").unwrap_err();
    assert!(why.contains("`\\u{0}1`"), "{why}");
}

/// The committed seed corpus (fuzz/seeds) holds every invariant too.
#[test]
fn seed_corpus_holds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (target, check) in [
        ("spec_file", fuzz_check::spec_file as fn(&[u8])),
        ("fields", fuzz_check::fields_input),
    ] {
        for entry in std::fs::read_dir(dir.join(target)).expect("fuzz/seeds exists") {
            let path = entry.expect("readable seed").path();
            let data = std::fs::read(&path).expect("readable seed");
            check(&data);
        }
    }
}

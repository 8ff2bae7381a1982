//! Invariants of spec parsing and validation, checked on arbitrary input.
//! Shared by the cargo-fuzz targets in `fuzz/` and the regression tests in
//! `fuzz_regressions.rs`; every function panics when an invariant breaks.

use std::path::Path;

use super::diag::Diagnostic;
use super::fields;
use super::hash::RuntimeSpec;
use super::load::cross_file_checks;
use super::model::HealthProbe;
use super::parse::FileReader;

/// Arbitrary bytes as the content of a service file `fuzz.toml`.
pub fn spec_file(data: &[u8]) {
    if let Ok(source) = std::str::from_utf8(data) {
        spec_source(source);
    }
}

/// Parses `source` as a service file and checks every invariant.
pub fn spec_source(source: &str) {
    let file = Path::new("fuzz.toml");
    let mut reader = FileReader::new(file, source);
    let parsed = reader.read_service("fuzz");
    let mut diagnostics = reader.diagnostics;
    if parsed.is_none() {
        assert!(
            !diagnostics.is_empty(),
            "a file that yields no service must say why"
        );
    }
    if let Some(p) = &parsed {
        diagnostics.extend(cross_file_checks(std::slice::from_ref(p)));
        let broken = std::collections::BTreeSet::new();
        diagnostics.extend(super::requires::check(std::slice::from_ref(p), &broken));
    }
    for d in &diagnostics {
        diagnostic(source, d);
    }
    if diagnostics.is_empty() {
        // Invariant: checked above, no diagnostics means a service.
        let spec = &parsed.expect("a service").spec;
        accepted(spec);
    }
}

/// Position within the source, and no raw control characters in the text.
fn diagnostic(source: &str, d: &Diagnostic) {
    assert_eq!(d.file, Path::new("fuzz.toml"), "{d:?}");
    assert!(d.line >= 1 && d.col >= 1, "position below 1:1: {d:?}");
    let lines: Vec<&str> = source.split('\n').collect();
    assert!(d.line <= lines.len(), "line past the end: {d:?}");
    let width = lines[d.line - 1].chars().count();
    assert!(d.col <= width + 1, "column past the end of its line: {d:?}");
    for text in std::iter::once(&d.message).chain(d.hint.as_ref()) {
        assert!(!text.is_empty(), "empty text: {d:?}");
        assert!(
            !text.chars().any(char::is_control),
            "raw control character in a message: {d:?}"
        );
    }
    let rendered = d.to_string();
    let controls = rendered.chars().filter(|c| c.is_control()).count();
    assert_eq!(controls, usize::from(d.hint.is_some()), "{rendered:?}");
}

/// A service without diagnostics: every field is what validation promises.
fn accepted(spec: &super::model::ServiceSpec) {
    assert!(fields::is_service_name(&spec.name), "{:?}", spec.name);
    assert!(spec.comment.len() <= 4096);
    assert!(!spec.components.is_empty());
    for (i, c) in spec.components.iter().enumerate() {
        assert!(fields::is_component_name(&c.name), "{:?}", c.name);
        assert!(
            spec.components[..i].iter().all(|o| o.name != c.name),
            "duplicate component {:?}",
            c.name
        );
        assert_eq!(fields::check_image(&c.image), Ok(()), "{:?}", c.image);
        if let Some(n) = &c.network {
            assert!(fields::is_network_name(n) && !fields::NETWORK_MODES.contains(&n.as_str()));
        }
        if let Some(u) = &c.user {
            assert!(fields::is_user(u), "{u:?}");
        }
        for p in &c.ports {
            let text = p.to_string();
            assert_eq!(fields::parse_port(&text).as_ref(), Ok(p), "{text:?}");
        }
        for (j, v) in c.volumes.iter().enumerate() {
            let text = v.to_string();
            assert!(!text.contains('\0'), "{text:?}");
            assert_eq!(fields::parse_volume(&text).as_ref(), Ok(v), "{text:?}");
            assert!(c.volumes[..j].iter().all(|o| o.target != v.target));
        }
        for arg in c.cmd.iter().flatten() {
            assert!(!arg.contains('\0'), "{arg:?}");
        }
        for (k, v) in &c.env {
            assert!(fields::is_env_key(k) && !v.contains('\0'), "{k:?}");
        }
        if let Some(m) = c.memory_mb {
            assert!((16..=1 << 20).contains(&m), "{m}");
        }
        if let Some(n) = c.vcpus {
            assert!((1..=256).contains(&n), "{n}");
        }
        if let Some(h) = &c.health {
            match &h.probe {
                HealthProbe::Tcp(p) => assert!(*p > 0),
                HealthProbe::Http(u) => assert_eq!(fields::check_http_url(u), Ok(())),
                HealthProbe::Cmd(argv) => {
                    assert!(argv.first().is_some_and(|a| !a.is_empty()));
                    assert!(argv.iter().all(|a| !a.contains('\0')));
                }
            }
            assert!(h.interval().as_millis() >= 100 && h.interval() <= h.timeout);
            assert!(!h.timeout.is_zero() && h.timeout.as_secs() <= 3600);
        }
        for (j, r) in c.routes.iter().enumerate() {
            assert!(fields::is_component_name(&r.name) && r.port > 0);
            assert!(matches!(
                r.mode,
                crate::model::RouteMode::L4 | crate::model::RouteMode::L7
            ));
            assert!(r.hostname.as_deref().is_none_or(fields::is_hostname));
            assert!(c.routes[..j].iter().all(|o| o.name != r.name));
        }
        let runtime = RuntimeSpec::of(c);
        let json = runtime.canonical_json();
        let back: RuntimeSpec = serde_json::from_str(&json).expect("canonical JSON reads back");
        assert_eq!(back, runtime);
        assert_eq!(runtime.hash().len(), 16);
    }
}

/// Arbitrary bytes as one field value (invalid UTF-8 replaced).
pub fn fields_input(data: &[u8]) {
    field_value(&String::from_utf8_lossy(data));
}

/// One value through every field check: no panic, round trips for successes.
pub fn field_value(s: &str) {
    if let Ok(p) = fields::parse_port(s) {
        assert!(p.host_port > 0 && p.container_port > 0, "{s:?}");
        let text = p.to_string();
        assert_eq!(
            fields::parse_port(&text),
            Ok(p.clone()),
            "{s:?} -> {text:?}"
        );
        assert_eq!(p.to_string(), text);
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
    if let Ok(v) = fields::parse_volume(s) {
        let text = v.to_string();
        assert_eq!(
            fields::parse_volume(&text),
            Ok(v.clone()),
            "{s:?} -> {text:?}"
        );
        assert_eq!(text, s, "a volume is kept as written");
        assert!(v.source.starts_with('/') || fields::is_network_name(&v.source));
        assert!(v.target.starts_with('/'));
        assert!(!text.contains('\0'), "{text:?}");
    }
    let (repo, tag) = fields::split_tag(s);
    match tag {
        Some(t) => assert_eq!(format!("{repo}:{t}"), s),
        None => assert_eq!(repo, s),
    }
    let version = fields::image_version(s);
    if fields::check_image(s).is_ok() {
        assert!(!version.is_empty(), "{s:?}");
        assert!(!s.starts_with('-'));
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        );
    }
    for err in [
        fields::check_image(s).err(),
        fields::parse_port(s).err(),
        fields::parse_volume(s).err(),
        fields::check_http_url(s).err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!err.is_empty());
        assert!(
            !err.chars().any(char::is_control),
            "raw control character in {err:?}"
        );
    }
    let shown = fields::shown(s);
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    for name_check in [
        fields::is_service_name,
        fields::is_component_name,
        fields::is_network_name,
        fields::is_env_key,
        fields::is_user,
        fields::is_hostname,
    ] {
        if name_check(s) {
            assert!(!s.is_empty() && s.is_ascii() && !s.chars().any(char::is_control));
        }
    }
    let _ = crate::duration::parse(s);
}

//! Golden outputs of `import compose` for the compose files in tests/compose/, and a
//! check that no input makes the importer panic.

use std::path::Path;

use proptest::prelude::*;

use super::compose::{Imported, Input, import};
use super::interp::Vars;
use super::toml_out;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compose")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn vars() -> Vars {
    let mut v = Vars::default();
    v.env.insert("HOME".into(), "/home/op".into());
    v.env.insert("REGISTRY".into(), "127.0.0.1:5471".into());
    v.env
        .insert("EMPTY_FROM_SHELL".into(), "from the shell".into());
    v.dotenv.insert("DB_PASSWORD".into(), "from-dotenv".into());
    v
}

fn read_file(path: &Path) -> std::io::Result<String> {
    match path.to_str() {
        Some("/srv/demo/db.env") => {
            Ok("# db settings\nPGDATA=/var/lib/postgresql/data\nSHARED=overridden\n".into())
        }
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    }
}

fn run(source: &str, project: Option<&str>) -> Imported {
    let vars = vars();
    import(&Input {
        source,
        dir: Path::new("/srv/demo"),
        vars: &vars,
        project,
        read_file: &read_file,
        exists: &|p| p.starts_with("/etc") || p.starts_with("/srv/demo/init"),
    })
}

/// What import writes must pass mcp's own parser (what `mcp validate` runs per file).
#[track_caller]
fn assert_validates(imported: &Imported) {
    let text = toml_out::render(imported, "compose.yaml");
    let file = Path::new("/srv/demo").join(format!("{}.toml", imported.service));
    let mut reader = crate::spec::parse::FileReader::new(&file, &text);
    let parsed = reader.read_service(&imported.service);
    assert!(
        parsed.is_some() && reader.diagnostics.is_empty(),
        "{:?}\n{text}",
        reader.diagnostics
    );
}

/// The file and the findings, as a user sees them.
fn report(imported: &Imported) -> String {
    let mut out = toml_out::render(imported, "compose.yaml");
    out.push_str("\n# --- findings ---\n");
    for f in &imported.findings {
        out.push_str(&format!(
            "# compose.yaml:{}:{}: {:?}: {}: {}\n",
            f.line, f.column, f.severity, f.key, f.message
        ));
    }
    out.push_str(&format!(
        "# skipped: {:?}\n# omitted: {:?}\n",
        imported.skipped, imported.omitted
    ));
    out
}

#[test]
fn golden_full() {
    let imported = run(&fixture("full.yaml"), None);
    assert_validates(&imported);
    insta::assert_snapshot!(report(&imported));
}

#[test]
fn golden_three_services() {
    let imported = run(&fixture("three.yaml"), None);
    assert!(!imported.has_errors(), "{:?}", imported.findings);
    assert_eq!(imported.service, "shop");
    let app = imported
        .components
        .iter()
        .find(|c| c.name == "app")
        .unwrap();
    assert_eq!(app.requires, vec!["shop/db"]);
    assert_validates(&imported);
    insta::assert_snapshot!(report(&imported));
}

#[test]
fn golden_unmapped() {
    let imported = run(&fixture("unmapped.yaml"), Some("demo"));
    assert!(imported.has_errors());
    assert_validates(&imported);
    insta::assert_snapshot!(report(&imported));
}

#[test]
fn build_only_service_is_an_error_at_its_line() {
    let imported = run(&fixture("build.yaml"), Some("site"));
    let errors: Vec<_> = imported
        .findings
        .iter()
        .filter(|f| f.severity == super::compose::Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].line, errors[0].key.as_str()),
        (6, "services.builder")
    );
    assert_eq!(imported.skipped, vec!["builder"]);
    assert_eq!(imported.components.len(), 1);
    assert_validates(&imported);
}

#[test]
fn bad_yaml_and_bad_shapes_are_findings() {
    for (src, want) in [
        ("services: [", "not valid YAML"),
        ("", "empty"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("services:\n  a: 3\n", "must be a mapping"),
        ("services: {}\n", "no service to import"),
        (
            "services:\n  a:\n    image: x\n    ports: 8080\n",
            "expected a list",
        ),
        (
            "services:\n  a:\n    image: ${NOPE:?give NOPE}\n",
            "NOPE is required",
        ),
        (
            // Found by the mutation test: a program that expanded to nothing.
            "services:\n  a:\n    image: r/a:1\n    healthcheck:\n      test: [\"CMD\", \"${EMPTY:-}\", \"-q\"]\n",
            "names no program",
        ),
    ] {
        let imported = run(src, Some("p"));
        assert!(
            imported.findings.iter().any(|f| f.message.contains(want)),
            "{src:?}: {:?}",
            imported.findings
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    // The real fixtures with bytes replaced, inserted or removed: the inputs closest to
    // what a user's half-edited file looks like.
    #[test]
    fn import_never_panics_on_mutated_fixtures(
        which in 0usize..4,
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(
            vec![' ', '\n', ':', '-', '[', ']', '{', '}', '"', '\'', '&', '*', '$', '#', '|', '>', '\t', 'x', '9', '!', '?', ',', '%', '@'])), 1..6),
    ) {
        let name = ["three.yaml", "full.yaml", "build.yaml", "unmapped.yaml"][which];
        let mut chars: Vec<char> = fixture(name).chars().collect();
        for (at, op, c) in edits {
            let i = at.index(chars.len().max(1)).min(chars.len());
            match op {
                0 if i < chars.len() => chars[i] = c,
                1 => chars.insert(i, c),
                _ if i < chars.len() => { chars.remove(i); }
                _ => {}
            }
        }
        let src: String = chars.into_iter().collect();
        let imported = run(&src, Some("p"));
        if !imported.components.is_empty() {
            assert_validates(&imported);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    // Arbitrary text never panics the importer (and so neither the command).
    #[test]
    fn import_never_panics_on_text(s in "\\PC{0,300}") {
        let _ = run(&s, None);
    }

    // Compose-shaped YAML with random values in every mapped key.
    #[test]
    fn import_never_panics_on_compose_shapes(
        key in prop::sample::select(vec![
            "image", "ports", "volumes", "environment", "env_file", "command", "entrypoint",
            "depends_on", "healthcheck", "restart", "user", "networks", "deploy",
            "mem_limit", "cpus", "stop_signal", "stop_grace_period", "profiles", "build",
        ]),
        value in prop::sample::select(vec![
            "x", "''", "null", "[]", "{}", "[a, 1, null]", "{a: 1}", "{test: [CMD]}",
            "[\"::1\"]", "[\"1-2:3\"]", "[{target: x}]", "{resources: {limits: {cpus: -1}}}",
            "[{type: tmpfs}]", "\"$$\"", "[\"/a:/b:zz\"]", "{a: {condition: x}}", "[[[]]]",
            "\"0:0\"", "\"65536\"", "1e400", "\"${X:-}\"", "{limits: 5}",
        ]),
        extra in "[a-z: \\[\\]{}\"'0-9\n-]{0,40}",
    ) {
        let src = format!("services:\n  s:\n    image: busybox\n    {key}: {value}\n  t:\n    {extra}\n");
        let imported = run(&src, Some("p"));
        // Whatever was kept is written in a form mcp accepts.
        if !imported.components.is_empty() {
            assert_validates(&imported);
        }
    }
}

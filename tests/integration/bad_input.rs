//! Data-driven bad-input suite: every directory under `tests/bad_specs/` is one
//! case. Its `services/` files form a services directory; `expected` holds the
//! exact stderr of `mcp validate`, with the services directory written `$DIR`
//! (and the case's temp root `$TMP`). Each case must also leave an existing
//! registry byte-for-byte untouched when `mcp sync` meets it.
//!
//! Things git cannot carry portably are made by an optional `generate` file in
//! the case directory, one directive a line:
//!
//! - `big NAME BYTES`: a file of BYTES bytes (TOML comments) in the services dir;
//! - `symlink-outside NAME`: a valid service file outside the services dir, and
//!   a symlink NAME to it inside;
//! - `symlink-broken NAME`: a symlink NAME to a file that does not exist;
//! - `dir NAME`: a directory NAME in the services dir.
//!
//! `UPDATE_EXPECTED=1 cargo test --test integration bad_input` rewrites the
//! `expected` files from the actual output; review every change by eye.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

const INVALID_SPECS: i32 = 65;

/// A valid service placed outside the services dir for `symlink-outside`.
const OUTSIDE_SERVICE: &str = "[[components]]\nname = \"app\"\nimage = \"busybox\"\n";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_specs")
}

/// Runs mcp with an isolated config and the given services dir, db and state dir.
fn mcp(root: &Path, services: &Path, command: &str) -> Output {
    let config = root.join("mcp.toml");
    if !config.exists() {
        fs::write(&config, "").expect("write empty config");
    }
    // Isolated podman even here: `sync` with a fresh registry acts on every
    // mcp-labelled container it can see, and these cases run `sync`.
    let mut cmd = crate::support::isolation::mcp_command(&root.join("podman"));
    cmd.env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", root.join("xdg/config"))
        .env("XDG_DATA_HOME", root.join("xdg/data"))
        .env("XDG_STATE_HOME", root.join("xdg/state"))
        .arg("--config")
        .arg(&config)
        .arg("--services")
        .arg(services)
        .arg("--db")
        .arg(root.join("registry.db"))
        .arg("--state-dir")
        .arg(root.join("state"))
        .arg(command)
        .output()
        .expect("run mcp")
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    let mut entries: Vec<_> = fs::read_dir(from)
        .expect("read case dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for src in entries {
        let dst = to.join(src.file_name().expect("file name"));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).expect("copy case file");
        }
    }
}

/// Applies the case's `generate` directives.
fn generate(case: &Path, root: &Path, services: &Path) -> Result<(), String> {
    let Ok(text) = fs::read_to_string(case.join("generate")) else {
        return Ok(());
    };
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["big", name, bytes] => {
                let bytes: usize = bytes.parse().map_err(|_| format!("bad size in `{line}`"))?;
                let row = "# padding padding padding padding padding padding padding\n";
                let mut body = row.repeat(bytes / row.len() + 1);
                body.truncate(bytes);
                fs::write(services.join(name), body).map_err(|e| e.to_string())?;
            }
            ["symlink-outside", name] => {
                let outside = root.join("outside");
                fs::create_dir_all(&outside).map_err(|e| e.to_string())?;
                let target = outside.join(name);
                fs::write(&target, OUTSIDE_SERVICE).map_err(|e| e.to_string())?;
                std::os::unix::fs::symlink(&target, services.join(name))
                    .map_err(|e| e.to_string())?;
            }
            ["symlink-broken", name] => {
                std::os::unix::fs::symlink(root.join("missing.toml"), services.join(name))
                    .map_err(|e| e.to_string())?;
            }
            ["dir", name] => fs::create_dir_all(services.join(name)).map_err(|e| e.to_string())?,
            _ => return Err(format!("unknown generate directive `{line}`")),
        }
    }
    Ok(())
}

/// A small line diff (longest common subsequence), `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            let _ = writeln!(out, "   {}", a[i]);
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            let _ = writeln!(out, " - {}", a[i]);
            i += 1;
        } else {
            let _ = writeln!(out, " + {}", b[j]);
            j += 1;
        }
    }
    out
}

/// Runs one case; returns a description of every way it failed.
fn run_case(case: &Path, update: bool) -> Vec<String> {
    let mut failures = Vec::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    // Canonical, so that paths in messages (e.g. a resolved symlink) match.
    let root = fs::canonicalize(tmp.path()).expect("canonical tempdir");
    let services = root.join("services");
    let case_services = case.join("services");
    if case_services.is_dir() {
        copy_tree(&case_services, &services);
    } else {
        fs::create_dir_all(&services).expect("create services dir");
    }
    if let Err(e) = generate(case, &root, &services) {
        return vec![format!("generate: {e}")];
    }

    // 1. validate: exit 65 and the exact diagnostics.
    let out = mcp(&root, &services, "validate");
    let stderr = String::from_utf8_lossy(&out.stderr)
        .replace(&services.display().to_string(), "$DIR")
        .replace(&root.display().to_string(), "$TMP");
    if out.status.code() != Some(INVALID_SPECS) {
        failures.push(format!(
            "validate exited with {:?}, expected {INVALID_SPECS}",
            out.status.code()
        ));
    }
    let expected_file = case.join("expected");
    if update {
        fs::write(&expected_file, &stderr).expect("write expected");
    } else {
        match fs::read_to_string(&expected_file) {
            Ok(expected) if expected == stderr => {}
            Ok(expected) => failures.push(format!(
                "stderr differs (- expected, + actual):\n{}",
                diff(&expected, &stderr)
            )),
            Err(e) => failures.push(format!(
                "cannot read {}: {e}\nactual stderr:\n{stderr}",
                expected_file.display()
            )),
        }
    }
    if !out.stdout.is_empty() {
        failures.push(format!(
            "validate printed to stdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }

    // 2. sync against an existing registry: exit 65 and the db is untouched.
    let empty = root.join("empty-services");
    fs::create_dir_all(&empty).expect("create empty services dir");
    let first = mcp(&root, &empty, "sync");
    if !first.status.success() {
        failures.push(format!(
            "sync on an empty services dir failed ({:?}):\n{}",
            first.status.code(),
            String::from_utf8_lossy(&first.stderr)
        ));
        return failures;
    }
    let db = root.join("registry.db");
    let before = fs::read(&db).expect("read registry after first sync");
    let out = mcp(&root, &services, "sync");
    if out.status.code() != Some(INVALID_SPECS) {
        failures.push(format!(
            "sync exited with {:?}, expected {INVALID_SPECS}; stderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    match fs::read(&db) {
        Ok(after) if after == before => {}
        Ok(_) => failures.push("sync changed the registry file".into()),
        Err(e) => failures.push(format!("registry unreadable after sync: {e}")),
    }
    failures
}

#[test]
fn bad_service_files_are_rejected_with_exact_messages_and_change_nothing() {
    let update = std::env::var_os("UPDATE_EXPECTED").is_some_and(|v| v == "1");
    let mut cases: Vec<PathBuf> = fs::read_dir(cases_dir())
        .expect("read tests/bad_specs")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 60, "only {} bad-input cases", cases.len());

    let mut report = String::new();
    let mut failed = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .expect("case name")
            .to_string_lossy()
            .into_owned();
        let failures = run_case(case, update);
        if !failures.is_empty() {
            let _ = writeln!(report, "=== {name}");
            for f in &failures {
                let _ = writeln!(report, "{f}");
            }
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} bad-input cases failed: {}\n\n{report}\n(run with UPDATE_EXPECTED=1 to rewrite the expected files, then review them)",
        failed.len(),
        cases.len(),
        failed.join(", ")
    );
}

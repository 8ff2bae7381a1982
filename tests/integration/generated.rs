//! The generated files under `completions/` and `man/` are committed (DESIGN §6): these
//! tests render each one with the built `mcp` binary and fail when a committed file is
//! stale, missing or left over from a command that no longer exists.
//!
//! Regenerate after changing the CLI (src/cli.rs, src/commands/man.rs):
//!
//! ```text
//! MCP_UPDATE_GENERATED=1 cargo nextest run generated
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Set to `1` to rewrite the committed files instead of comparing them.
const UPDATE_VAR: &str = "MCP_UPDATE_GENERATED";
const REGENERATE: &str = "MCP_UPDATE_GENERATED=1 cargo nextest run generated";

/// Directories that hold only generated files.
const GENERATED_DIRS: [&str; 2] = ["completions", "man"];

fn updating() -> bool {
    std::env::var_os(UPDATE_VAR).is_some_and(|v| v == "1")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every generated file (path relative to the repository) and the `mcp` arguments that
/// print it.
fn generated_files() -> Vec<(String, Vec<String>)> {
    let mut files = vec![
        (
            "completions/mcp.bash".to_string(),
            args(&["completions", "bash"]),
        ),
        (
            "completions/_mcp".to_string(),
            args(&["completions", "zsh"]),
        ),
        (
            "completions/mcp.fish".to_string(),
            args(&["completions", "fish"]),
        ),
    ];
    for page in mcp::commands::man::page_names() {
        let argv = match page.strip_prefix("mcp-") {
            Some(command) => args(&["man", command]),
            None => args(&["man"]),
        };
        files.push((format!("man/{page}.1"), argv));
    }
    files
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs the built `mcp` with `argv` and returns its stdout. `MCP_*` variables are removed
/// so that the developer's setup cannot leak into the output.
fn render(argv: &[String]) -> Vec<u8> {
    let root = tempfile::tempdir().expect("temp dir");
    let mut cmd = crate::support::isolation::mcp_command(root.path());
    let out = cmd
        .args(argv)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running mcp {}: {e}", argv.join(" ")));
    assert!(
        out.status.success(),
        "mcp {} failed ({}):\n{}",
        argv.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stdout.is_empty(),
        "mcp {} printed nothing",
        argv.join(" ")
    );
    out.stdout
}

fn render_text(argv: &[&str]) -> String {
    String::from_utf8(render(&args(argv)))
        .unwrap_or_else(|e| panic!("mcp {} printed invalid UTF-8: {e}", argv.join(" ")))
}

#[test]
fn committed_completions_and_man_pages_are_up_to_date() {
    let root = repo();
    let mut stale = Vec::new();
    for (rel, argv) in generated_files() {
        let path = root.join(&rel);
        let fresh = render(&argv);
        let committed = fs::read(&path).ok();
        if committed.as_deref() == Some(fresh.as_slice()) {
            continue;
        }
        if updating() {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)
                    .unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
            }
            fs::write(&path, &fresh).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            eprintln!("updated {rel}");
        } else {
            let why = if committed.is_none() {
                "missing"
            } else {
                "differs"
            };
            stale.push(format!("  {rel} ({why} from `mcp {}`)", argv.join(" ")));
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are stale (the CLI changed?):\n{}\nregenerate them with:\n  {REGENERATE}\nand commit the result",
        stale.join("\n")
    );
}

#[test]
fn no_stale_generated_files_are_left_over() {
    let root = repo();
    let expected: BTreeSet<String> = generated_files().into_iter().map(|(rel, _)| rel).collect();
    let mut present = BTreeSet::new();
    for dir in GENERATED_DIRS {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            present.insert(format!("{dir}/{}", entry.file_name().to_string_lossy()));
        }
    }
    let extra: Vec<&String> = present.difference(&expected).collect();
    if updating() {
        // The other test writes what is missing; this one removes what is left over.
        for rel in extra {
            remove(&root.join(rel));
            eprintln!("removed {rel}");
        }
        return;
    }
    let missing: Vec<&String> = expected.difference(&present).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "generated files do not match the CLI: left over (no command generates them): \
         {extra:?}; missing: {missing:?}\nregenerate them with:\n  {REGENERATE}\n\
         and commit the result"
    );
    let pages = mcp::commands::man::page_names();
    assert!(pages.contains(&"mcp".to_string()), "pages: {pages:?}");
    assert!(pages.contains(&"mcp-sync".to_string()), "pages: {pages:?}");
}

fn remove(path: &Path) {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
}

#[test]
fn completions_and_man_page_have_the_expected_shape() {
    let bash = render_text(&["completions", "bash"]);
    assert!(
        bash.starts_with("_mcp() {"),
        "bash completion does not start with its function:\n{}",
        &bash[..bash.len().min(200)]
    );
    assert!(
        bash.contains("complete -F _mcp"),
        "bash completion is not registered"
    );

    let zsh = render_text(&["completions", "zsh"]);
    assert!(
        zsh.starts_with("#compdef mcp"),
        "zsh: {}",
        &zsh[..zsh.len().min(200)]
    );
    let fish = render_text(&["completions", "fish"]);
    assert!(
        fish.contains("complete -c mcp"),
        "fish: {}",
        &fish[..fish.len().min(200)]
    );

    let man = render_text(&["man"]);
    assert!(man.contains(".TH mcp 1"), "no .TH line in `mcp man`");
    for section in ["NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
        assert!(
            man.lines()
                .any(|l| l.starts_with(".SH") && l.contains(section)),
            "`mcp man` has no {section} section"
        );
    }
    for code in ["0", "1", "2", "3", "65", "75"] {
        assert!(
            man.contains(&format!("\\fB{code}\\fR")),
            "`mcp man` does not document exit code {code}"
        );
    }
    for var in ["MCP_CONFIG", "MCP_SERVICES", "MCP_DB", "MCP_STATE_DIR"] {
        assert!(man.contains(var), "`mcp man` does not mention {var}");
    }

    let sync = render_text(&["man", "sync"]);
    assert!(
        sync.contains(".TH mcp-sync 1"),
        "no .TH line in `mcp man sync`"
    );
    assert!(
        sync.contains("dry\\-run"),
        "`mcp man sync` does not mention --dry-run"
    );
}

/// Every `mcp-X(1)` a page points to is a page that exists.
#[test]
fn man_pages_refer_only_to_pages_that_exist() {
    let pages: BTreeSet<String> = mcp::commands::man::page_names().into_iter().collect();
    for page in &pages {
        let argv: Vec<&str> = match page.strip_prefix("mcp-") {
            Some(command) => vec!["man", command],
            None => vec!["man"],
        };
        // roff writes `mcp-sync(1)` as `mcp\-sync(1)`.
        let text = render_text(&argv).replace("\\-", "-");
        for (i, _) in text.match_indices("(1)") {
            let start = text[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .map_or(0, |p| p + 1);
            let named = &text[start..i];
            if named.starts_with("mcp") {
                assert!(
                    pages.contains(named),
                    "the page of `mcp {}` names {named}(1), which does not exist; pages: {pages:?}",
                    argv[1..].join(" ")
                );
            }
        }
    }
}

/// The config keys mcp accepts, as its own error for an unknown key lists
/// them (`expected one of ...`), so a key added to the config is caught here.
fn accepted_config_keys(section: Option<&str>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp.toml");
    let text = match section {
        Some(s) => format!("[{s}]\nno_such_key = 1\n"),
        None => "no_such_key = 1\n".to_string(),
    };
    fs::write(&config, text).unwrap();
    let mut cmd = crate::support::isolation::mcp_command(dir.path());
    let out = cmd
        .arg("--config")
        .arg(&config)
        .arg("--services")
        .arg(dir.path().join("services"))
        .arg("--db")
        .arg(dir.path().join("r.db"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("history")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let list = stderr
        .split_once("expected one of")
        .unwrap_or_else(|| panic!("no key list in the error for an unknown key:\n{stderr}"))
        .1;
    list.lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|k| k.trim().trim_matches('`').to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

#[test]
fn man_page_documents_every_config_key() {
    let man = render_text(&["man"]).replace("\\-", "-");
    let files = man
        .split_once(".SH FILES")
        .expect("`mcp man` has a FILES section")
        .1;
    let mut missing = Vec::new();
    let top = accepted_config_keys(None);
    assert!(top.contains(&"podman".to_string()), "keys: {top:?}");
    for section in [None, Some("podman"), Some("unikernel")] {
        for key in accepted_config_keys(section) {
            if section.is_none() && (key == "podman" || key == "unikernel") {
                assert!(files.contains(&format!("[{key}]")), "no [{key}] in FILES");
                continue;
            }
            let shown = match section {
                Some(s) => format!("[{s}] {key}"),
                None => key.clone(),
            };
            // Keys are listed comma- or space-separated after their section.
            let scope = match section {
                Some(s) => files.split_once(&format!("[{s}]")).map_or("", |p| p.1),
                None => files,
            };
            let scope = scope.split(";").next().unwrap_or_default();
            let listed = scope
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == key);
            if !listed {
                missing.push(shown);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "`mcp man` (FILES) does not document these config keys: {missing:?}"
    );
}

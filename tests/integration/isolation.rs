//! The suite never reaches the machine's own podman: every `mcp` and `podman` a test
//! runs is built by the test support, which sets an isolated storage and refuses
//! (support::isolation::ensure) to start one without it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::isolation;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read tests dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Only the support module may construct `mcp` or `podman` commands: anything else
/// would bypass the guard in `run_raw`.
#[test]
fn only_the_support_module_builds_mcp_or_podman_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let forbidden = [
        concat!("CARGO_BIN_", "EXE_mcp"),
        concat!("Command::new(", "\"podman\")"),
    ];
    let mut offenders = Vec::new();
    for file in files {
        if file.starts_with(root.join("support")) {
            continue;
        }
        let text = fs::read_to_string(&file).expect("read test source");
        for (n, line) in text.lines().enumerate() {
            if forbidden.iter().any(|f| line.contains(f)) {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "build mcp/podman commands with Host::command, Host::mcp_command or \
         support::isolation::mcp_command:\n{}",
        offenders.join("\n")
    );
}

#[test]
#[should_panic(expected = "test isolation")]
fn a_podman_without_test_storage_is_refused() {
    let bare = Command::new(concat!("pod", "man"));
    isolation::ensure(&bare);
}

#[test]
#[should_panic(expected = "outside the temp dir")]
fn an_mcp_pointed_at_the_system_storage_is_refused() {
    let mut cmd = Command::new("/usr/local/bin/mcp");
    cmd.env("CONTAINERS_CONF", "/etc/containers/containers.conf")
        .env("CONTAINERS_STORAGE_CONF", "/etc/containers/storage.conf");
    isolation::ensure(&cmd);
}

#[test]
fn a_test_host_passes_the_guard() {
    let dir = tempfile::tempdir().expect("temp dir");
    isolation::ensure(&isolation::mcp_command(dir.path()));
}

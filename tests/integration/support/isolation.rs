//! The guard that keeps tests off the machine's own podman storage.
//!
//! `mcp sync` with a fresh registry acts on every mcp-labelled container it can see. Run
//! against the machine's default storage (no `CONTAINERS_STORAGE_CONF`), a test would reach
//! a developer's or CI machine's real containers. So every `mcp` or `podman` the suite runs
//! must carry an explicit storage and containers configuration under the temp dir, and
//! [`ensure`] fails the test before such a command starts otherwise. The source scan in
//! `tests/integration/isolation.rs` makes sure no test builds those commands around it.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::fixtures;

/// The variables without which podman falls back to the machine's own configuration.
const REQUIRED: [&str; 2] = ["CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF"];

/// Panics unless `cmd` (when it is `mcp` or `podman`) points podman at a test storage.
#[track_caller]
pub fn ensure(cmd: &Command) {
    if let Err(why) = check(cmd) {
        panic!("test isolation: {why}");
    }
}

fn check(cmd: &Command) -> Result<(), String> {
    let program = Path::new(cmd.get_program());
    let name = program.file_name().and_then(OsStr::to_str).unwrap_or("");
    if name != "mcp" && name != "podman" {
        return Ok(());
    }
    let temp = std::env::temp_dir();
    for var in REQUIRED {
        let value = cmd
            .get_envs()
            .find(|(k, _)| *k == OsStr::new(var))
            .and_then(|(_, v)| v);
        let Some(value) = value else {
            return Err(format!(
                "`{}` would run with the machine's own podman {var}; build it with \
                 Host::command/mcp_command or support::isolation::mcp_command",
                program.display()
            ));
        };
        if !Path::new(value).starts_with(&temp) {
            return Err(format!(
                "`{}` has {var}={} outside the temp dir {}",
                program.display(),
                Path::new(value).display(),
                temp.display()
            ));
        }
    }
    Ok(())
}

/// Podman configuration for a test that needs no images or network of its own (the
/// bad-input suite, generated files): storage and network config under `root`.
pub fn env_under(root: &Path) -> Vec<(String, String)> {
    let storage = root.join("podman-storage");
    let networks = root.join("podman-networks");
    for dir in [&storage, &networks] {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    }
    let containers_conf = root.join("containers.conf");
    let storage_conf = root.join("storage.conf");
    let write = |path: &PathBuf, text: String| {
        fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()))
    };
    write(
        &containers_conf,
        fixtures::containers_conf(&networks, &root.join("events.log"), "", "podman"),
    );
    write(
        &storage_conf,
        fixtures::storage_conf(&storage, &fixtures::storage_driver()),
    );
    vec![
        (
            "CONTAINERS_CONF".to_string(),
            containers_conf.display().to_string(),
        ),
        (
            "CONTAINERS_STORAGE_CONF".to_string(),
            storage_conf.display().to_string(),
        ),
    ]
}

/// A bare `mcp` command (no global flags) whose podman is isolated under `root`, with
/// the developer's `MCP_*` settings removed.
pub fn mcp_command(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp"));
    for var in super::MCP_ENV {
        cmd.env_remove(var);
    }
    cmd.envs(env_under(root));
    ensure(&cmd);
    cmd
}

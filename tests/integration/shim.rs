//! A PATH shim in front of the real podman: it logs every call and can fail
//! or hang the Nth one. Fault injection wraps the real tool; it never
//! replaces it on the happy path.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Host, Output};

pub struct PodmanShim {
    dir: tempfile::TempDir,
}

fn real_podman() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v podman"])
        .output()
        .expect("sh runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl PodmanShim {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = format!(
            r#"#!/bin/sh
dir='{dir}'
n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$dir/count"
echo "$*" >> "$dir/calls.log"
if [ "$n" = "${{SHIM_FAIL_AT:-0}}" ]; then
  echo "injected failure of call $n: podman $*" >&2
  exit 125
fi
if [ "$n" = "${{SHIM_HANG_AT:-0}}" ]; then
  exec sleep 3600
fi
exec '{real}' "$@"
"#,
            dir = dir.path().display(),
            real = real_podman()
        );
        let path = dir.path().join("podman");
        std::fs::write(&path, script).expect("write shim");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        PodmanShim { dir }
    }

    /// The calls logged since the last reset, one `podman` argv per line.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn reset(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("calls.log"));
        let _ = std::fs::remove_file(self.dir.path().join("count"));
    }

    /// `mcp` with this shim first on PATH and the given injection.
    pub fn command(
        &self,
        host: &Host,
        fail_at: Option<usize>,
        hang_at: Option<usize>,
    ) -> std::process::Command {
        let mut cmd = host.mcp_command();
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path);
        if let Some(n) = fail_at {
            cmd.env("SHIM_FAIL_AT", n.to_string());
        }
        if let Some(n) = hang_at {
            cmd.env("SHIM_HANG_AT", n.to_string());
        }
        cmd
    }

    pub fn mcp(
        &self,
        host: &Host,
        args: &[&str],
        fail_at: Option<usize>,
        hang_at: Option<usize>,
    ) -> Output {
        self.reset();
        let mut cmd = self.command(host, fail_at, hang_at);
        cmd.args(args);
        host.run(cmd)
    }
}

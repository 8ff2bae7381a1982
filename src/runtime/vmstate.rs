//! The on-disk state of one VM: `<state_dir>/vms/<instance>/` (mode 0700).
//!
//! - `vm.json`: what was built (labels, image, image id, disk, resources); written
//!   last by `create`, so a directory without it is a half-created VM.
//! - `run.json`: the running qemu's pid, its start time (field 22 of
//!   `/proc/<pid>/stat`) and the accelerator; a pid alone could be reused.
//! - `qemu.pid` (written by qemu), `vm.pid` (by mcp), `exit-status` (by the
//!   supervisor shell when qemu ends), `qmp.sock`, `serial.log`, `qemu.log`.
//!
//! qemu runs with this directory as its working directory and relative paths
//! only, so renaming the directory of a running VM (`.next`/`.prev`) keeps
//! every path valid, its QMP socket included.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::State;
use crate::model::ResolvedAccel;

pub const RECORD: &str = "vm.json";
pub const RUN: &str = "run.json";
pub const QEMU_PIDFILE: &str = "qemu.pid";
pub const VM_PIDFILE: &str = "vm.pid";
pub const EXIT_STATUS: &str = "exit-status";
pub const SUPERVISOR_PIDFILE: &str = "supervisor.pid";
/// The supervisor shell's `$0`, by which a live one is told from a reused pid.
pub const SUPERVISOR_NAME: &str = "mcp-vm-supervisor";
/// How long `observe` waits for a live supervisor to write the exit status
/// of a qemu that has just ended.
const STATUS_COMING: Duration = Duration::from_secs(2);
pub const QMP_SOCKET: &str = "qmp.sock";
pub const SERIAL_LOG: &str = "serial.log";
pub const QEMU_LOG: &str = "qemu.log";
pub const OPS_CONFIG: &str = "ops-config.json";

/// What `create` built; everything `start` needs to boot it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VmRecord {
    pub labels: BTreeMap<String, String>,
    /// The image reference as the spec named it.
    pub image: String,
    pub image_id: String,
    /// The program extracted from the image, inside the state dir.
    pub program: String,
    /// The `ops build -i` name and the raw disk ops wrote.
    pub ops_image: String,
    pub disk: PathBuf,
    pub memory_mb: u32,
    pub vcpus: u32,
    /// Podman-style port specs, `[ip:]host:guest[/proto]`.
    pub ports: Vec<String>,
    /// `-name` for qemu: `<service>-<component>`.
    pub qemu_name: String,
}

/// The qemu process of the current boot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub pid: u32,
    /// Clock ticks since host boot when the process started.
    pub start_ticks: u64,
    /// Unix time of the boot.
    pub started_at: i64,
    pub accel: ResolvedAccel,
}

/// One VM directory.
#[derive(Debug, Clone)]
pub struct VmDir {
    pub path: PathBuf,
}

impl VmDir {
    pub fn new(vms: &Path, name: &str) -> Self {
        VmDir {
            path: vms.join(name),
        }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn exists(&self) -> bool {
        self.path.is_dir()
    }

    pub fn record(&self) -> anyhow::Result<Option<VmRecord>> {
        read_json(&self.file(RECORD))
    }

    pub fn run(&self) -> anyhow::Result<Option<RunRecord>> {
        read_json(&self.file(RUN))
    }

    /// The qemu pid of the current boot if that very process is still alive.
    pub fn live_pid(&self) -> Option<u32> {
        match self.run().ok().flatten() {
            Some(run) => (proc_start_ticks(run.pid) == Some(run.start_ticks)).then_some(run.pid),
            // mcp died between spawning qemu and recording it: trust qemu's
            // own pidfile if it names a live qemu.
            None => {
                let pid = read_pid(&self.file(QEMU_PIDFILE))?;
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
                comm.starts_with("qemu").then_some(pid)
            }
        }
    }

    /// The exit status the supervisor recorded when qemu ended.
    pub fn exit_status(&self) -> Option<i32> {
        fs::read_to_string(self.file(EXIT_STATUS))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The state as `list` reports it (no QMP: a file scan only).
    pub fn observe(&self) -> State {
        if self.live_pid().is_some() {
            return State::Running;
        }
        match self.exit_status() {
            Some(status) => State::Exited(guest_exit_code(status)),
            None if self.file(RUN).exists() => match self.status_coming() {
                Some(status) => State::Exited(guest_exit_code(status)),
                // Started once, gone without a recorded status (supervisor killed).
                None => State::Exited(-1),
            },
            None => State::Created,
        }
    }

    /// The exit status of a qemu that has just ended, once its still-live
    /// supervisor writes it (it reaps qemu first, then writes). `None` when
    /// no supervisor is alive to write one, or it does not within
    /// [`STATUS_COMING`].
    fn status_coming(&self) -> Option<i32> {
        let pid = read_pid(&self.file(SUPERVISOR_PIDFILE))?;
        let deadline = Instant::now() + STATUS_COMING;
        while supervisor_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.exit_status()
    }

    /// Removes what belongs to one boot, before the next.
    pub fn clear_run_files(&self) -> anyhow::Result<()> {
        for f in [
            RUN,
            QEMU_PIDFILE,
            VM_PIDFILE,
            EXIT_STATUS,
            QMP_SOCKET,
            SUPERVISOR_PIDFILE,
        ] {
            match fs::remove_file(self.file(f)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", self.file(f).display()));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Creates `dir` (and parents) with mode 0700: VM state holds env values.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting the mode of {}", dir.display()))
}

/// Maps qemu's exit status to what `status` shows. `isa-debug-exit` makes
/// qemu exit with `(code << 1) | 1` when the guest writes `code`; a clean
/// power-off exits 0. The supervisor shell reports death by signal N as
/// 128+N, which collides with odd debug-exit values: the signals mcp or an
/// operator actually send (HUP, KILL, SEGV, TERM) are taken as signals and
/// reported like podman does (137 for SIGKILL).
pub fn guest_exit_code(status: i32) -> i32 {
    match status {
        0 => 0,
        129 | 137 | 139 | 143 => status,
        s if s & 1 == 1 => s >> 1,
        s => s,
    }
}

/// Whether `pid` is a live (not zombie) VM supervisor shell.
fn supervisor_alive(pid: u32) -> bool {
    let is_supervisor = fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|argv| {
        argv.split(|b| *b == 0)
            .any(|arg| arg == SUPERVISOR_NAME.as_bytes())
    });
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Field 3 is the process state.
    let zombie = stat_field(&stat, 3).is_none_or(|state| state == "Z" || state == "X");
    is_supervisor && !zombie
}

/// Field 22 (`starttime`) of `/proc/<pid>/stat`, if the process exists.
pub fn proc_start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_ticks(&stat)
}

/// Parses field 22 of a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may itself hold spaces and parentheses, so fields
/// are counted from the last `)`.
pub fn parse_start_ticks(stat: &str) -> Option<u64> {
    stat_field(stat, 22)?.parse().ok()
}

/// Field `n` (counted from 1, at least 3) of a `/proc/<pid>/stat` line,
/// counted after the command name's closing parenthesis.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // after_comm starts at field 3 (state).
    after_comm.split_whitespace().nth(n.checked_sub(3)?)
}

pub fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Option<T>> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes via a temp file and rename, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    // Created afresh, never through a symlink left in its place.
    let mut f = crate::safefs::create_fresh(&tmp)?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_vec_pretty(value).context("serializing VM state")?;
    write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_ticks_counted_after_the_command_name() {
        let stat = "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 987654 1000 200";
        assert_eq!(parse_start_ticks(stat), Some(987654));
        assert_eq!(parse_start_ticks("1 (init) S 0"), None);
        assert_eq!(parse_start_ticks("garbage"), None);
    }

    #[test]
    fn own_process_is_alive_with_its_start_time() {
        let me = std::process::id();
        let ticks = proc_start_ticks(me).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let vm = VmDir {
            path: dir.path().to_path_buf(),
        };
        let run = |start_ticks| RunRecord {
            pid: me,
            start_ticks,
            started_at: 0,
            accel: ResolvedAccel::Tcg,
        };
        write_json(&vm.file(RUN), &run(ticks)).unwrap();
        assert_eq!(vm.live_pid(), Some(me));
        assert_eq!(vm.observe(), State::Running);
        // Same pid, another start time: a reused pid is not the VM.
        write_json(&vm.file(RUN), &run(ticks + 1)).unwrap();
        assert_eq!(vm.live_pid(), None);
        assert_eq!(vm.observe(), State::Exited(-1));
        fs::write(vm.file(EXIT_STATUS), "7\n").unwrap();
        assert_eq!(vm.observe(), State::Exited(3));
    }

    /// qemu is gone but its supervisor has not written the status yet (seen
    /// under load as a flicker of `exited (-1)` in status): observe waits for
    /// the live supervisor instead of reporting an unknown exit.
    #[test]
    fn a_status_still_being_written_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let vm = VmDir {
            path: dir.path().to_path_buf(),
        };
        let gone = RunRecord {
            pid: std::process::id(),
            start_ticks: proc_start_ticks(std::process::id()).unwrap() + 1,
            started_at: 0,
            accel: ResolvedAccel::Tcg,
        };
        write_json(&vm.file(RUN), &gone).unwrap();
        // Like the real supervisor, the shell records its own pid, so the
        // pid file names it only once it runs as the supervisor.
        let mut supervisor = std::process::Command::new("sh")
            .args([
                "-c",
                "echo $$ >supervisor.pid; sleep 0.3; echo 7 >exit-status",
                SUPERVISOR_NAME,
            ])
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        while read_pid(&vm.file(SUPERVISOR_PIDFILE)).is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(vm.observe(), State::Exited(3));
        supervisor.wait().unwrap();
        // A supervisor that is gone without a status: unknown, at once.
        fs::remove_file(vm.file(EXIT_STATUS)).unwrap();
        let started = Instant::now();
        assert_eq!(vm.observe(), State::Exited(-1));
        assert!(started.elapsed() < STATUS_COMING);
    }

    #[test]
    fn exit_status_decoding() {
        assert_eq!(guest_exit_code(0), 0);
        assert_eq!(guest_exit_code(7), 3);
        assert_eq!(guest_exit_code(1), 0);
        assert_eq!(guest_exit_code(137), 137);
        assert_eq!(guest_exit_code(143), 143);
        assert_eq!(guest_exit_code(2), 2);
    }
}

//! The unikernel runtime: Nanos VMs built by `ops` and booted by mcp under
//! `qemu-system-x86_64`, one state directory each (see `vmstate`).
//!
//! qemu is detached from mcp but not left unwatched: it runs under a tiny
//! supervisor, `sh -c SUPERVISOR`, that waits for it and writes its exit
//! status to `exit-status`. That is how a VM that powered off on its own
//! reports `exited` with the guest's exit code (`isa-debug-exit`), long after
//! the mcp that booted it is gone, without a daemon. The supervisor's script
//! is a constant; qemu's argv reaches it as positional parameters, never
//! through the shell's parser.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::exec::{Secrets, Tool};
use super::podman_cli::PodmanCli;
use super::qemu_argv::{HostKvm, Machine, choose_machine, qemu_args};
use super::qmp::Qmp;
use super::vmstate::*;
use super::*;
use crate::model::{ResolvedAccel, VmSettings};

/// Waits for qemu, then records its exit status (see the module docs). It
/// writes relative to its working directory, the VM's state directory,
/// which follows a rename of that directory. Its own pid goes first to
/// `supervisor.pid`: between qemu's end and the status file there is a
/// moment when only a live supervisor says the status is still coming.
const SUPERVISOR: &str = "trap '' HUP INT\necho $$ >supervisor.pid\n\"$@\"\necho $? >exit-status.tmp\nmv -f exit-status.tmp exit-status\n";
const QMP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long qemu may take to create its pidfile and QMP socket.
const LAUNCH: Duration = Duration::from_secs(30);
/// Under KVM, how long a boot is watched for `internal-error` before the
/// guest has printed anything. Generous: under load (2 busy cores) kvm_pvm was seen to
/// reach `internal-error` only after more than 10 s.
const KVM_BOOT_WATCH: Duration = Duration::from_secs(30);
/// After `quit` or SIGKILL, how long qemu may take to go.
const GONE: Duration = Duration::from_secs(5);
const REMOVE_STOP: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

pub struct Qemu {
    vms: PathBuf,
    podman: PodmanCli,
    config: VmSettings,
    trace: bool,
}

impl Qemu {
    pub fn new(state_dir: &Path, podman: PodmanCli, config: VmSettings, trace: bool) -> Self {
        Qemu {
            vms: state_dir.join("vms"),
            podman,
            config,
            trace,
        }
    }

    /// Whether a VM of this name exists (its state directory does).
    pub fn has(&self, name: &str) -> bool {
        self.dir(name).exists()
    }

    fn dir(&self, name: &str) -> VmDir {
        VmDir::new(&self.vms, name)
    }

    /// A tool, recording its children where podman's are recorded.
    fn tool(
        &self,
        name: &'static str,
        configured: Option<&Path>,
        needed_by: &str,
    ) -> anyhow::Result<Tool> {
        Ok(Tool::locate(name, configured, needed_by, self.trace)?
            .recording(&self.podman.tool.children))
    }

    fn ops(&self, needed_by: &str) -> anyhow::Result<Tool> {
        self.tool("ops", self.config.ops.as_deref(), needed_by)
    }

    fn qemu(&self, needed_by: &str) -> anyhow::Result<Tool> {
        self.tool("qemu-system-x86_64", self.config.qemu.as_deref(), needed_by)
    }

    /// `service/component` of a VM, for errors about missing tools.
    fn needed_by(record: &VmRecord, name: &str) -> String {
        match (
            record.labels.get(LABEL_SERVICE),
            record.labels.get(LABEL_COMPONENT),
        ) {
            (Some(s), Some(c)) => format!("{s}/{c}"),
            _ => name.to_string(),
        }
    }

    fn instance(&self, name: &str, query_qmp: bool) -> Instance {
        let dir = self.dir(name);
        // A missing or unreadable vm.json is a half-created VM: shown, with
        // no labels, so the planner replaces or adopts it.
        let record = dir.record().ok().flatten();
        let mut state = dir.observe();
        let run = dir.run().ok().flatten();
        if state == State::Running
            && (query_qmp || run.as_ref().is_some_and(|r| r.accel == ResolvedAccel::Kvm))
        {
            state = qmp_state(&dir, run.as_ref());
        }
        let _ = vmlogs::rotate_if_large(&dir.file(SERIAL_LOG));
        Instance {
            name: name.to_string(),
            runtime: crate::model::RuntimeKind::Unikernel,
            image: record.as_ref().map(|r| r.image.clone()).unwrap_or_default(),
            image_id: record
                .as_ref()
                .map(|r| r.image_id.clone())
                .unwrap_or_default(),
            started_at: run
                .filter(|_| state == State::Running)
                .map(|r| r.started_at),
            state,
            labels: record.map(|r| r.labels).unwrap_or_default(),
        }
    }

    /// A built disk with this ops image name that another VM already uses.
    fn reusable_disk(&self, ops_image: &str) -> Option<PathBuf> {
        self.records()
            .into_iter()
            .find(|r| r.ops_image == ops_image && r.disk.is_file())
            .map(|r| r.disk)
    }

    fn records(&self) -> Vec<VmRecord> {
        let Ok(entries) = fs::read_dir(&self.vms) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| VmDir { path: e.path() }.record().ok().flatten())
            .collect()
    }

    fn build(&self, req: &CreateRequest<'_>, dir: &VmDir, ops: &Tool) -> anyhow::Result<()> {
        let spec = req.spec;
        let image = vmbuild::ensure_image(&self.podman, &spec.image)?;
        let (program, args) = super::ops::program_and_args(&image, spec.cmd.as_deref())?;
        let program_dir = dir.file("program");
        create_private_dir(&program_dir)?;
        let elf =
            vmbuild::extract_program(&self.podman, &spec.image, &image, &program, &program_dir)?;
        let config = super::ops::ops_config(spec, &image, args);
        // The config holds env values: ops reads it from an in-memory file
        // (/dev/fd/N), so no copy is left on disk should mcp be killed.
        // Earlier mcp versions wrote it beside the VM state.
        let _ = fs::remove_file(dir.file(OPS_CONFIG));
        let mut secrets = Secrets::default();
        let config_path = secrets.inherit_text(
            &serde_json::to_string_pretty(&config).context("serializing the ops config")?,
        )?;
        let ops_image = super::ops::image_name(req.service, &spec.name, req.spec_hash, &image.id);
        let disk = match self.reusable_disk(&ops_image) {
            Some(disk) => disk,
            None => vmbuild::ops_build(ops, &elf, &config_path, &secrets, &ops_image)?,
        };
        let labels = req.labels();
        let record = VmRecord {
            labels,
            image: spec.image.clone(),
            image_id: image.id,
            program: elf
                .strip_prefix(&dir.path)
                .unwrap_or(&elf)
                .display()
                .to_string(),
            ops_image,
            disk,
            memory_mb: config.run_config.memory.trim_end_matches('M').parse()?,
            vcpus: config.run_config.cpus,
            ports: spec.ports.iter().map(ToString::to_string).collect(),
            qemu_name: crate::spec::instance_name(req.service, &spec.name),
        };
        write_json(&dir.file(RECORD), &record)
    }

    /// Waits until the spawned qemu is up: pid recorded, QMP answering, and
    /// under KVM, the guest past the point where kvm_pvm hosts fail.
    fn wait_booted(&self, name: &str, dir: &VmDir, machine: &Machine) -> anyhow::Result<()> {
        let deadline = Instant::now() + LAUNCH;
        let run = loop {
            if let Some(status) = dir.exit_status() {
                anyhow::bail!(
                    "qemu for {name} exited at once (status {status}): {}",
                    tail_of(&dir.file(QEMU_LOG))
                );
            }
            let pid = read_pid(&dir.file(QEMU_PIDFILE));
            let ticks = pid.and_then(proc_start_ticks);
            if let (Some(pid), Some(start_ticks)) = (pid, ticks)
                && dir.file(QMP_SOCKET).exists()
            {
                break RunRecord {
                    pid,
                    start_ticks,
                    started_at: vmlogs::now(),
                    accel: machine.accel,
                };
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "qemu for {name} did not come up within {}s: {}",
                    LAUNCH.as_secs(),
                    tail_of(&dir.file(QEMU_LOG))
                );
            }
            std::thread::sleep(POLL);
        };
        write_json(&dir.file(RUN), &run)?;
        crate::safefs::write_nofollow(&dir.file(VM_PIDFILE), format!("{}\n", run.pid).as_bytes())?;

        let serial = dir.file(SERIAL_LOG);
        let serial_at_boot = fs::metadata(&serial).map_or(0, |m| m.len());
        let watch_until = Instant::now() + KVM_BOOT_WATCH;
        loop {
            match qmp_status(dir, Some(&run)) {
                QmpStatus::Running => {}
                fault @ QmpStatus::InternalError { .. } => {
                    let _ = self.stop(name, Duration::ZERO);
                    anyhow::bail!("{name} {}", fault.state().describe());
                }
                other => anyhow::bail!(
                    "{name} is {} right after boot: {}",
                    other.state().describe(),
                    tail_of(&dir.file(QEMU_LOG))
                ),
            }
            let printed = fs::metadata(&serial).map_or(0, |m| m.len()) > serial_at_boot;
            if machine.accel != ResolvedAccel::Kvm || printed || Instant::now() >= watch_until {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// A running qemu's own view of its guest, from QMP `query-status`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum QmpStatus {
    /// Running, or QMP too busy to say (the file scan found the process).
    Running,
    Paused,
    GuestPanicked,
    /// The guest CPU stopped: under KVM on a kvm_pvm host, a known failure
    /// whose fix is TCG.
    InternalError {
        under: Option<ResolvedAccel>,
        kvm_pvm: bool,
    },
}

impl QmpStatus {
    /// The state shown for it; an internal error carries its cause and fix.
    fn state(&self) -> State {
        match self {
            QmpStatus::Running => State::Running,
            QmpStatus::Paused => State::Paused,
            QmpStatus::GuestPanicked => State::Other("guest-panicked".into()),
            QmpStatus::InternalError { under, kvm_pvm } => {
                let under = match under {
                    Some(ResolvedAccel::Kvm) => "KVM",
                    Some(ResolvedAccel::Tcg) => "TCG",
                    None => "its accelerator",
                };
                let pvm = if *kvm_pvm {
                    " (this host's /dev/kvm is the kvm_pvm module, which cannot run ordinary guests)"
                } else {
                    ""
                };
                State::Other(format!(
                    "internal-error: the guest CPU stopped under {under}{pvm}; set accel = \"tcg\" in the [unikernel] section of mcp.toml"
                ))
            }
        }
    }
}

fn qmp_state(dir: &VmDir, run: Option<&RunRecord>) -> State {
    qmp_status(dir, run).state()
}

/// The guest's status from QMP. Falls back to `Running` (what the file scan
/// found) if QMP is busy.
fn qmp_status(dir: &VmDir, run: Option<&RunRecord>) -> QmpStatus {
    let status = Qmp::connect(&dir.file(QMP_SOCKET), QMP_TIMEOUT).and_then(|mut q| q.status());
    match status.as_deref() {
        Ok("internal-error") => QmpStatus::InternalError {
            under: run.map(|r| r.accel),
            kvm_pvm: Path::new("/sys/module/kvm_pvm").exists(),
        },
        Ok("paused") => QmpStatus::Paused,
        Ok("guest-panicked") => QmpStatus::GuestPanicked,
        _ => QmpStatus::Running,
    }
}

/// Whether the process of `run` is gone, waiting up to `timeout`.
fn wait_gone(run: &RunRecord, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if proc_start_ticks(run.pid) != Some(run.start_ticks) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// The last lines of a log, for error messages.
fn tail_of(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        format!("{} is empty", path.display())
    } else {
        tail
    }
}

use super::{vmbuild, vmlogs};

impl Runtime for Qemu {
    fn list(&self) -> anyhow::Result<Vec<Instance>> {
        let entries = match fs::read_dir(&self.vms) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.vms.display())),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        Ok(names.iter().map(|n| self.instance(n, false)).collect())
    }

    fn preflight(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        let needed_by = format!("{}/{}", req.service, req.spec.name);
        self.ops(&needed_by)?;
        self.qemu(&needed_by)?;
        Ok(())
    }

    fn create(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        self.preflight(req)?;
        let ops = self.ops(&format!("{}/{}", req.service, req.spec.name))?;
        let dir = self.dir(req.name);
        if dir.exists() {
            if dir.record()?.is_some() {
                anyhow::bail!("a VM named {} already exists", req.name);
            }
            // Left by an interrupted create.
            fs::remove_dir_all(&dir.path)
                .with_context(|| format!("removing {}", dir.path.display()))?;
        }
        create_private_dir(&self.vms)?;
        create_private_dir(&dir.path)?;
        let built = self.build(req, &dir, &ops);
        if built.is_err() {
            let _ = fs::remove_dir_all(&dir.path);
        }
        built.with_context(|| format!("creating VM {}", req.name))
    }

    fn run(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        self.create(req)?;
        self.start(req.name)
    }

    fn start(&self, name: &str) -> anyhow::Result<()> {
        let dir = self.dir(name);
        let record = dir
            .record()?
            .with_context(|| format!("VM {name} was never completely built; remove it"))?;
        if dir.live_pid().is_some() {
            return Ok(());
        }
        let needed_by = Self::needed_by(&record, name);
        let qemu = self.qemu(&needed_by)?;
        let sh = self.tool("sh", None, &needed_by)?;
        if !record.disk.is_file() {
            anyhow::bail!(
                "the disk image {} of {name} is gone; `mcp deploy {needed_by}` rebuilds it",
                record.disk.display()
            );
        }
        let machine = choose_machine(
            self.config.accel,
            self.config.cpu.as_deref(),
            HostKvm::probe(),
        );
        let mut argv: Vec<std::ffi::OsString> = vec![
            "-c".into(),
            SUPERVISOR.into(),
            SUPERVISOR_NAME.into(),
            qemu.path.clone().into(),
        ];
        argv.extend(qemu_args(&record, &machine)?.into_iter().map(Into::into));
        dir.clear_run_files()?;
        let serial = dir.file(SERIAL_LOG);
        vmlogs::rotate_if_large(&serial)?;
        vmlogs::mark(
            &serial,
            &format!("boot ({}, {})", machine.accel, machine.cpu),
        )?;
        let log = crate::safefs::create_fresh(&dir.file(QEMU_LOG))?;
        sh.spawn_detached(argv, &dir.path, log)
            .with_context(|| format!("booting {name}"))?;
        self.wait_booted(name, &dir, &machine)
    }

    fn forwarded(&self, name: &str) -> anyhow::Result<Option<Vec<super::usernet::Forwarded>>> {
        let text = Qmp::connect(&self.dir(name).file(QMP_SOCKET), QMP_TIMEOUT)
            .and_then(|mut q| q.human("info usernet"))
            .with_context(|| format!("asking qemu of {name} about forwarded connections"))?;
        Ok(Some(super::usernet::parse(&text)))
    }

    fn stop(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        let dir = self.dir(name);
        let Some(pid) = dir.live_pid() else {
            return Ok(());
        };
        let Some(run) = dir.run()? else {
            anyhow::bail!(
                "{name} runs but mcp has no record of its boot; stop its qemu by hand (kill {pid})"
            );
        };
        let started = Instant::now();
        let qmp = |command: &str| {
            Qmp::connect(&dir.file(QMP_SOCKET), QMP_TIMEOUT).and_then(|mut q| q.execute(command))
        };
        // The guest's orderly shutdown first (ACPI power button), then qemu's own.
        let mut how = "system_powerdown";
        if timeout.is_zero() || qmp("system_powerdown").is_err() || !wait_gone(&run, timeout) {
            how = "QMP quit";
            if qmp("quit").is_err() || !wait_gone(&run, GONE) {
                how = "SIGKILL";
                let kill = self.tool("kill", None, name)?;
                kill.run(["-KILL", &run.pid.to_string()], QMP_TIMEOUT)
                    .with_context(|| format!("killing qemu of {name}"))?;
                if !wait_gone(&run, GONE) {
                    anyhow::bail!("qemu of {name} (pid {}) survived SIGKILL", run.pid);
                }
            }
        }
        let _ = vmlogs::mark(
            &dir.file(SERIAL_LOG),
            &format!(
                "stopped by {how} after {:.1}s",
                started.elapsed().as_secs_f64()
            ),
        );
        // The supervisor writes the exit status a moment after qemu ends.
        let deadline = Instant::now() + Duration::from_secs(2);
        while dir.exit_status().is_none() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    fn remove(&self, name: &str) -> anyhow::Result<()> {
        let dir = self.dir(name);
        if !dir.exists() {
            return Ok(());
        }
        self.stop(name, REMOVE_STOP)?;
        let record = dir.record().ok().flatten();
        fs::remove_dir_all(&dir.path)
            .with_context(|| format!("removing {}", dir.path.display()))?;
        // The disk goes with its last VM (a replacement with the same spec
        // and image boots the very same disk).
        if let Some(r) = record
            && !self.records().iter().any(|o| o.disk == r.disk)
        {
            match fs::remove_file(&r.disk) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", r.disk.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn take_over_ports(&self, from: &str, to: &str, ports: &[String]) -> anyhow::Result<bool> {
        super::hostfwd::take_over(&self.dir(from), &self.dir(to), ports)
            .with_context(|| format!("moving the ports of VM {from} to {to}"))?;
        Ok(true)
    }

    fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let (a, b) = (self.dir(from), self.dir(to));
        if b.exists() {
            anyhow::bail!("cannot rename VM {from} to {to}: {to} exists");
        }
        fs::rename(&a.path, &b.path).with_context(|| format!("renaming VM {from} to {to}"))
    }

    fn state(&self, name: &str) -> anyhow::Result<Option<State>> {
        if !self.dir(name).exists() {
            return Ok(None);
        }
        Ok(Some(self.instance(name, true).state))
    }

    fn evidence(&self, name: &str) -> Option<super::evidence::Evidence> {
        let dir = self.dir(name);
        if !dir.exists() {
            return None;
        }
        let serial = fs::read(dir.file(SERIAL_LOG)).unwrap_or_default();
        let code = dir.exit_status().map(guest_exit_code);
        Some(super::evidence::Evidence::new(
            name,
            code,
            &String::from_utf8_lossy(&serial),
            "",
        ))
    }

    fn logs(
        &self,
        name: &str,
        opts: &LogOptions,
        out: &mut dyn std::io::Write,
    ) -> anyhow::Result<i32> {
        let dir = self.dir(name);
        if !dir.exists() {
            anyhow::bail!("there is no VM {name}");
        }
        let alive = || dir.live_pid().is_some();
        vmlogs::print(
            &dir.file(SERIAL_LOG),
            opts.tail,
            opts.since,
            opts.follow,
            &alive,
            opts.json_component.as_deref(),
            out,
        )?;
        Ok(0)
    }
}

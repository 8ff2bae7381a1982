//! The one wrapper through which every external command runs: an argv
//! (never a shell string), a timeout, and stderr carried into the error.
//!
//! A child's output goes to anonymous in-memory files (memfd), read once it
//! has exited, never to pipes: should mcp be killed while, say, `podman stop`
//! waits out a container that ignores SIGTERM, a pipe would lose its reader
//! and podman would die of SIGPIPE half-way, leaving the container `stopping`
//! for good. A memfd keeps taking writes whoever holds its other end.

use std::ffi::{CStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

/// The last non-empty line of stdout (else stderr), at most 200 characters
/// and without control characters: a one-line summary of a command's output.
pub fn last_line(stdout: &str, stderr: &str) -> String {
    let last = |s: &str| {
        s.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    let line = last(stdout).or_else(|| last(stderr)).unwrap_or_default();
    let mut out: String = line.chars().filter(|c| !c.is_control()).take(200).collect();
    if line.chars().count() > 200 {
        out.push_str("...");
    }
    out
}

use super::children::Children;
use super::logjson::Stream;

/// An external tool at a resolved path.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
    /// Print each command line on stderr before running it (`-v`).
    pub trace: bool,
    /// Where running children are recorded (see [`super::children`]).
    pub children: Children,
}

/// What a command printed, for callers that need both streams.
#[derive(Debug)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

/// Values a child needs that must never be on its command line (where any
/// local user reads them in /proc/PID/cmdline) nor in a file on disk (which a
/// kill -9 of mcp would leave behind): environment variables set for the
/// child alone, and an in-memory file the child inherits as `/dev/fd/N`.
#[derive(Debug, Default)]
pub struct Secrets {
    pub vars: Vec<(String, String)>,
    inherited: Option<File>,
}

impl Secrets {
    /// An in-memory file holding `text` that the child inherits; returns
    /// the path by which the child opens it.
    pub fn inherit_text(&mut self, text: &str) -> anyhow::Result<PathBuf> {
        let mut file = memfd(c"mcp-secret").context("creating an in-memory file")?;
        file.write_all(text.as_bytes())
            .context("writing an in-memory file")?;
        let path = PathBuf::from(format!("/dev/fd/{}", file.as_raw_fd()));
        self.inherited = Some(file);
        Ok(path)
    }
}

/// An anonymous in-memory file, closed on exec unless handed on explicitly.
fn memfd(name: &CStr) -> std::io::Result<File> {
    // SAFETY: `name` is a valid NUL-terminated string; the returned fd is
    // owned by nobody else, so File may take it.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor owned by this File alone.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn read_all(mut file: &File) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The mcp.toml key that sets a tool's path, for hints that name it; tools
/// without one (`sh`, `kill`) must be on PATH.
fn config_key(tool: &str) -> Option<&'static str> {
    match tool {
        "podman" => Some("path in [podman]"),
        "ops" => Some("ops in [unikernel]"),
        "qemu-system-x86_64" => Some("qemu in [unikernel]"),
        _ => None,
    }
}

impl Tool {
    /// Resolves `name` from a configured path or PATH. `needed_by` names what
    /// needs it, so a missing tool is reported where it matters.
    pub fn locate(
        name: &'static str,
        configured: Option<&Path>,
        needed_by: &str,
        trace: bool,
    ) -> anyhow::Result<Self> {
        let path = match configured {
            Some(p) if p.is_file() => p.to_path_buf(),
            Some(p) => anyhow::bail!(
                "{name} is configured at {} but that file does not exist (needed by {needed_by}); fix {} in mcp.toml",
                p.display(),
                config_key(name).unwrap_or("its path")
            ),
            None => which::which(name).map_err(|_| match config_key(name) {
                Some(key) => anyhow::anyhow!(
                    "{name} was not found on PATH (needed by {needed_by}); install it or set {key} in mcp.toml"
                ),
                None => anyhow::anyhow!(
                    "{name} was not found on PATH (needed by {needed_by}); install it"
                ),
            })?,
        };
        Ok(Tool {
            name,
            path,
            trace,
            children: Children::default(),
        })
    }

    /// The same tool, recording its children in `children`.
    pub fn recording(mut self, children: &Children) -> Self {
        self.children = children.clone();
        self
    }

    /// The command line as shown in traces and errors. Environment values
    /// never reach argv (see [`Secrets`]); should one be passed as
    /// `--env K=V` anyway, only its key is shown.
    fn command_line(&self, args: &[OsString]) -> String {
        let mut line = self.name.to_string();
        let mut after_env_flag = false;
        for a in args {
            let a = a.to_string_lossy();
            line.push(' ');
            match a.split_once('=') {
                Some((key, _)) if after_env_flag => {
                    line.push_str(key);
                    line.push_str("=***");
                }
                _ => line.push_str(&a),
            }
            after_env_flag = a == "--env" || a == "-e";
        }
        line
    }

    /// The command line for messages, printed first under `-v`.
    fn announce(&self, args: &[OsString]) -> String {
        let line = self.command_line(args);
        if self.trace {
            eprintln!("+ {line}");
        }
        line
    }

    /// Runs to completion within `timeout`; returns stdout, or an error that
    /// carries the command line, the exit status and stderr.
    pub fn run<I, S>(&self, args: I, timeout: Duration) -> anyhow::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.run_with(args, &Secrets::default(), timeout)
    }

    /// [`Tool::run`] with values handed over out of sight (see [`Secrets`]).
    pub fn run_with<I, S>(
        &self,
        args: I,
        secrets: &Secrets,
        timeout: Duration,
    ) -> anyhow::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let out = self.capture_with(&args, secrets, timeout)?;
        match out.code {
            Some(0) => Ok(out.stdout),
            code => {
                let status = code.map_or("was killed by a signal".to_string(), |c| {
                    format!("exited with {c}")
                });
                let stderr = out.stderr.trim();
                anyhow::bail!(
                    "`{}` {status}{}{stderr}",
                    self.command_line(&args),
                    if stderr.is_empty() { "" } else { ": " }
                )
            }
        }
    }

    /// Runs within `timeout` and returns both streams and the exit code,
    /// whatever the exit code; only a failure to run or a timeout is an error.
    pub fn capture(&self, args: &[OsString], timeout: Duration) -> anyhow::Result<Captured> {
        self.capture_with(args, &Secrets::default(), timeout)
    }

    /// [`Tool::capture`] with values handed over out of sight.
    pub fn capture_with(
        &self,
        args: &[OsString],
        secrets: &Secrets,
        timeout: Duration,
    ) -> anyhow::Result<Captured> {
        let line = self.announce(args);
        let stdout = memfd(c"mcp-stdout").context("creating an in-memory file for stdout")?;
        let stderr = memfd(c"mcp-stderr").context("creating an in-memory file for stderr")?;
        let mut expr = duct::cmd(&self.path, args)
            .stdin_null()
            .stdout_file(stdout.try_clone()?)
            .stderr_file(stderr.try_clone()?)
            .unchecked();
        for (k, v) in &secrets.vars {
            expr = expr.env(k, v);
        }
        let inherited = secrets.inherited.as_ref().map(AsRawFd::as_raw_fd);
        let handle = expr
            .before_spawn(move |cmd| {
                use std::os::unix::process::CommandExt;
                // A group of its own, so a later run can wait for it should
                // mcp be killed meanwhile (see runtime::children).
                cmd.process_group(0);
                if let Some(fd) = inherited {
                    // SAFETY: fcntl is async-signal-safe; it only clears
                    // close-on-exec on a descriptor this process owns, so
                    // this one child (and no other) inherits it.
                    unsafe {
                        cmd.pre_exec(move || {
                            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                                return Err(std::io::Error::last_os_error());
                            }
                            Ok(())
                        });
                    }
                }
                Ok(())
            })
            .start()
            .with_context(|| format!("starting `{line}`"))?;
        let pids = handle.pids();
        pids.iter().for_each(|p| self.children.started(*p));
        // A timeout too large to add to now (e.g. from a huge config value)
        // means no timeout, never a panic.
        let waited = match Instant::now().checked_add(timeout) {
            Some(deadline) => handle.wait_deadline(deadline),
            None => handle.wait().map(Some),
        };
        let output = match waited.with_context(|| format!("waiting for `{line}`"))? {
            Some(out) => out.clone(),
            None => {
                let _ = handle.kill();
                pids.iter().for_each(|p| self.children.finished(*p));
                anyhow::bail!(
                    "`{line}` did not finish within {}s and was killed",
                    timeout.as_secs()
                );
            }
        };
        pids.iter().for_each(|p| self.children.finished(*p));
        Ok(Captured {
            stdout: read_all(&stdout).with_context(|| format!("reading the output of `{line}`"))?,
            stderr: read_all(&stderr).with_context(|| format!("reading the errors of `{line}`"))?,
            code: output.status.code(),
        })
    }

    /// Starts a long-lived process that outlives mcp: in `dir`, stdin from
    /// /dev/null, stdout and stderr to `log` (never mcp's own streams, or
    /// cron and `$(...)` would wait for it), and in a process group of its
    /// own so a terminal's Ctrl-C aimed at mcp does not reach it. Nobody
    /// waits for it: once mcp exits, init reaps it. Returns its pid.
    pub fn spawn_detached<I, S>(
        &self,
        args: I,
        dir: &Path,
        log: std::fs::File,
    ) -> anyhow::Result<u32>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        use std::os::unix::process::CommandExt;
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let line = self.announce(&args);
        let err = log.try_clone().context("duplicating the log file handle")?;
        let child = std::process::Command::new(&self.path)
            .args(&args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting `{line}`"))?;
        Ok(child.id())
    }

    /// Runs with stdout and stderr read line by line (for `logs --json`):
    /// each line, without its line break, goes to `on_line` with the stream
    /// it came from, in the order lines arrive. Returns the exit code.
    pub fn lines<I, S>(
        &self,
        args: I,
        timeout: Option<Duration>,
        on_line: &mut dyn FnMut(Stream, &str) -> anyhow::Result<()>,
    ) -> anyhow::Result<i32>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        use std::io::BufRead;
        use std::process::Stdio;
        use std::sync::mpsc::{RecvTimeoutError, channel};
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let line = self.announce(&args);
        let mut child = std::process::Command::new(&self.path)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting `{line}`"))?;
        let (tx, rx) = channel::<(Stream, Vec<u8>)>();
        let pipes: [(Stream, Option<Box<dyn std::io::Read + Send>>); 2] = [
            (
                Stream::Stdout,
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            ),
            (
                Stream::Stderr,
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            ),
        ];
        for (stream, pipe) in pipes {
            let Some(pipe) = pipe else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(pipe);
                loop {
                    let mut buf = Vec::new();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if tx.send((stream, buf)).is_err() => break,
                        Ok(_) => {}
                    }
                }
            });
        }
        drop(tx);
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let result = loop {
            let got = match deadline {
                Some(d) => rx.recv_timeout(d.saturating_duration_since(std::time::Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match got {
                Ok((stream, bytes)) => {
                    let text = String::from_utf8_lossy(&bytes);
                    if let Err(e) = on_line(stream, text.trim_end_matches(['\n', '\r'])) {
                        break Err(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break Ok(()),
                Err(RecvTimeoutError::Timeout) => {
                    break Err(anyhow::anyhow!(
                        "`{line}` did not finish within {}s and was killed",
                        timeout.unwrap_or_default().as_secs()
                    ));
                }
            }
        };
        if result.is_err() {
            let _ = child.kill();
        }
        let status = child
            .wait()
            .with_context(|| format!("waiting for `{line}`"))?;
        result.map(|()| status.code().unwrap_or(1))
    }

    /// Runs with stdout copied to `out` and stderr passed through (for
    /// `logs`), with no timeout when `timeout` is `None`, since following
    /// ends only on interrupt. A reader of `out` that went away ends it.
    pub fn stream<I, S>(
        &self,
        args: I,
        timeout: Option<Duration>,
        out: &mut dyn std::io::Write,
    ) -> anyhow::Result<i32>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let line = self.announce(&args);
        let reader = duct::cmd(&self.path, &args)
            .stdin_null()
            .unchecked()
            .reader()
            .with_context(|| format!("starting `{line}`"))?;
        let done = AtomicBool::new(false);
        let timed_out = AtomicBool::new(false);
        let copied = std::thread::scope(|scope| {
            if let Some(limit) = timeout {
                let (reader, done, timed_out) = (&reader, &done, &timed_out);
                scope.spawn(move || {
                    // Too far to add to now: no deadline, never a panic.
                    let deadline = Instant::now().checked_add(limit);
                    while !done.load(Ordering::Relaxed) {
                        if deadline.is_some_and(|d| Instant::now() >= d) {
                            timed_out.store(true, Ordering::Relaxed);
                            let _ = reader.kill();
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
            }
            let copied = std::io::copy(&mut &reader, out).and_then(|_| out.flush());
            done.store(true, Ordering::Relaxed);
            copied
        });
        if timed_out.load(Ordering::Relaxed) {
            anyhow::bail!(
                "`{line}` did not finish within {}s and was killed",
                timeout.unwrap_or_default().as_secs()
            );
        }
        match copied {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                let _ = reader.kill();
                return Ok(0);
            }
            other => other.with_context(|| format!("copying the output of `{line}`"))?,
        }
        let output = reader
            .try_wait()
            .with_context(|| format!("waiting for `{line}`"))?;
        Ok(output.and_then(|o| o.status.code()).unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_the_key_that_sets_its_path() {
        let err = Tool::locate(
            "qemu-system-x86_64",
            Some(Path::new("/nonexistent/qemu")),
            "svc/vm",
            false,
        )
        .err()
        .unwrap();
        let msg = format!("{err:#}");
        assert!(msg.contains("(needed by svc/vm)"), "{msg}");
        assert!(msg.contains("fix qemu in [unikernel] in mcp.toml"), "{msg}");
        let err = Tool::locate(
            "podman",
            Some(Path::new("/nonexistent/podman")),
            "status",
            false,
        )
        .err()
        .unwrap();
        assert!(format!("{err:#}").contains("fix path in [podman]"));
    }

    fn sh() -> Tool {
        Tool::locate("sh", None, "a test", false).unwrap()
    }

    #[test]
    fn a_stream_goes_to_the_writer_with_the_exit_code() {
        let mut out = Vec::new();
        let code = sh()
            .stream(["-c", "echo one; echo two; exit 3"], None, &mut out)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "one\ntwo\n");
        assert_eq!(code, 3);
    }

    #[test]
    fn a_stream_past_its_timeout_is_killed_and_named() {
        let mut out = Vec::new();
        let err = sh()
            .stream(
                ["-c", "echo started; exec sleep 60"],
                Some(Duration::from_millis(300)),
                &mut out,
            )
            .unwrap_err();
        assert!(format!("{err:#}").contains("was killed"), "{err:#}");
        assert_eq!(String::from_utf8(out).unwrap(), "started\n");
    }

    #[test]
    fn children_are_recorded_in_the_ledger_while_they_run() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("mcp.children");
        let (children, waited) = Children::adopt_ledger(ledger.clone(), Duration::ZERO);
        assert_eq!(waited, 0);
        let tool = sh().recording(&children);
        // The child sees its own pid in the ledger while it runs (mcp
        // records it just after the spawn, so the child waits for it).
        let script = format!(
            "for i in $(seq 600); do grep -qx \"$$\" {0} && echo recorded && exit 0; sleep 0.05; done; cat {0}",
            ledger.display()
        );
        let out = tool
            .run(["-c", script.as_str()], Duration::from_secs(60))
            .unwrap();
        assert_eq!(out.trim(), "recorded", "{out}");
        assert_eq!(
            std::fs::read_to_string(&ledger).unwrap(),
            "",
            "finished children are dropped"
        );
        // Without a ledger nothing is written anywhere.
        sh().run(["-c", "true"], Duration::from_secs(30)).unwrap();
        assert_eq!(std::fs::read_to_string(&ledger).unwrap(), "");
    }
}

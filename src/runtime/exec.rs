//! The one wrapper through which every external command runs: an argv
//! (never a shell string), a timeout, and stderr carried into the error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// may be secrets, so only their keys are shown.
    fn command_line(&self, args: &[OsString]) -> String {
        let mut line = self.name.to_string();
        let mut after_env_flag = false;
        for a in args {
            let a = a.to_string_lossy();
            line.push(' ');
            if after_env_flag {
                let key = a.split_once('=').map_or(a.as_ref(), |(k, _)| k);
                line.push_str(key);
                line.push_str("=***");
            } else {
                line.push_str(&a);
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
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let out = self.capture(&args, timeout)?;
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
        let line = self.announce(args);
        let handle = duct::cmd(&self.path, args)
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .before_spawn(|cmd| {
                // A group of its own, so a later run can wait for it should
                // mcp be killed meanwhile (see runtime::children).
                std::os::unix::process::CommandExt::process_group(cmd, 0);
                Ok(())
            })
            .start()
            .with_context(|| format!("starting `{line}`"))?;
        let pids = handle.pids();
        pids.iter().for_each(|p| self.children.started(*p));
        let waited = handle.wait_timeout(timeout);
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
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
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
                    let deadline = std::time::Instant::now() + limit;
                    while !done.load(Ordering::Relaxed) {
                        if std::time::Instant::now() >= deadline {
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

//! The podman side of the ways back from awkward states: resuming a paused
//! container, taking one out of service whatever its restart policy, the
//! restart counts that reveal a crash loop, and the evidence of a failure.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

use anyhow::Context;

use super::evidence::{Evidence, LOG_LINES};
use super::podman::Podman;

/// How many stops `retire` tries against a restart policy that revives
/// the container between them (each is one podman call, ~0.2 s).
const RETIRE_ATTEMPTS: u32 = 60;

impl Podman {
    /// `podman container inspect --format FORMAT NAME`'s output, or `None`
    /// when the container does not exist.
    pub(super) fn inspect_container(
        &self,
        name: &str,
        format: &str,
    ) -> anyhow::Result<Option<String>> {
        let out = self.tool().capture(
            &[
                "container".into(),
                "inspect".into(),
                "--format".into(),
                format.into(),
                name.into(),
            ],
            self.timeouts().call,
        )?;
        if out.code != Some(0) {
            if out.stderr.to_lowercase().contains("no such") {
                return Ok(None);
            }
            anyhow::bail!("inspecting container {name} failed: {}", out.stderr.trim());
        }
        Ok(Some(out.stdout))
    }

    /// `State.Status`, exit code and restart policy name, or `None` when
    /// the container does not exist.
    fn raw_status(&self, name: &str) -> anyhow::Result<Option<(String, i32, String)>> {
        let Some(out) = self.inspect_container(
            name,
            "{{.State.Status}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}",
        )?
        else {
            return Ok(None);
        };
        let mut parts = out.split_whitespace();
        let status = parts.next().unwrap_or_default().to_string();
        let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let policy = parts.next().unwrap_or_default().to_string();
        Ok(Some((status, code, policy)))
    }

    pub(super) fn unpause(&self, name: &str) -> anyhow::Result<()> {
        self.tool()
            .run(["unpause", name], self.timeouts().call)
            .with_context(|| format!("resuming paused container {name}"))?;
        Ok(())
    }

    /// Stops `name` until it stays stopped. A `podman stop` only keeps a
    /// restart policy from reviving a container when it catches it running
    /// (or stopping); one found between two crashes (`stopped`, a restart
    /// pending) is revived a moment later, and a revived `.prev` takes its
    /// port back from the new instance. `exited` is podman's final state
    /// (cleaned up, nothing pending); a paused one is resumed first, since
    /// podman cannot stop it.
    pub(super) fn retire_container(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        let mut last = String::new();
        for _ in 0..RETIRE_ATTEMPTS {
            let Some((status, _, policy)) = self.raw_status(name)? else {
                return Ok(());
            };
            let policy_applies = !(policy.is_empty() || policy == "no");
            match status.as_str() {
                "exited" | "created" | "configured" | "initialized" => return Ok(()),
                "stopped" if !policy_applies => return Ok(()),
                "paused" => self.unpause(name)?,
                _ => {}
            }
            // A stop may race the engine's own restart (podman then finds
            // the state improper): the loop looks again. Any other failure
            // is the caller's to see.
            if let Err(e) = super::Runtime::stop(self, name, timeout) {
                last = format!("{e:#}");
                if !last.contains("state improper") {
                    return Err(e);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!(
            "could not take {name} out of service: its restart policy keeps reviving it{}",
            if last.is_empty() {
                String::new()
            } else {
                format!(" ({last})")
            }
        )
    }

    /// `RestartCount` of each of `names`, in one call.
    pub(super) fn restart_counts_of(
        &self,
        names: &[String],
    ) -> anyhow::Result<BTreeMap<String, u64>> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut args: Vec<OsString> = vec![
            "container".into(),
            "inspect".into(),
            "--format".into(),
            "{{.Name}} {{.RestartCount}}".into(),
        ];
        args.extend(names.iter().map(OsString::from));
        // A container that vanished meanwhile fails the call but the others
        // are still printed.
        let out = self.tool().capture(&args, self.timeouts().call)?;
        Ok(out
            .stdout
            .lines()
            .filter_map(|l| {
                let (name, count) = l.trim().rsplit_once(' ')?;
                Some((
                    name.trim_start_matches('/').to_string(),
                    count.parse().ok()?,
                ))
            })
            .collect())
    }

    /// Restarted by its policy and up for less than
    /// [`crate::model::STABLE_AFTER_SECS`], in one call.
    pub(super) fn crash_looping_now(&self, name: &str) -> anyhow::Result<bool> {
        let Some(out) =
            self.inspect_container(name, "{{.RestartCount}} {{.State.StartedAt.Unix}}")?
        else {
            return Ok(false);
        };
        let mut parts = out.split_whitespace();
        let restarts: u64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let started: Option<i64> = parts.next().and_then(|t| t.parse().ok());
        let up_for = started.map(|t| crate::runtime::vmlogs::now() - t);
        Ok(restarts > 0 && up_for.is_some_and(|s| s < crate::model::STABLE_AFTER_SECS))
    }

    /// Exit code and last log lines of `name` (best effort: `None` if podman
    /// cannot say).
    pub(super) fn evidence_of(&self, name: &str) -> Option<Evidence> {
        let (status, code, _) = self.raw_status(name).ok()??;
        let exited = matches!(status.as_str(), "exited" | "stopped");
        let logs = self
            .tool()
            .capture(
                &[
                    "logs".into(),
                    "--tail".into(),
                    LOG_LINES.to_string().into(),
                    name.into(),
                ],
                self.timeouts().call,
            )
            .ok()?;
        Some(Evidence::new(
            name,
            exited.then_some(code),
            &logs.stdout,
            &logs.stderr,
        ))
    }
}

//! The podman runtime: containers named `<service>-<component>`, labelled
//! with their identity and spec hash, observed with one `podman ps` call.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use super::describe;
use super::exec::Tool;
use super::logjson;
use super::podman_cli::PodmanCli;
use super::*;
use crate::model::PullPolicy;

pub use crate::model::Timeouts;

pub struct Podman {
    cli: PodmanCli,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PsEntry {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    image: String,
    #[serde(rename = "ImageID", default)]
    image_id: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    exit_code: i32,
    #[serde(default)]
    started_at: i64,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

fn parse_state(state: &str, exit_code: i32) -> State {
    match state {
        "running" => State::Running,
        "exited" | "stopped" => State::Exited(exit_code),
        "created" | "configured" | "initialized" => State::Created,
        "paused" => State::Paused,
        other => State::Other(other.to_string()),
    }
}

/// Parses `podman ps -a --format json`.
pub fn parse_ps(json: &str) -> anyhow::Result<Vec<Instance>> {
    let entries: Vec<PsEntry> = if json.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(json).context("parsing `podman ps` output")?
    };
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let name = e.names.into_iter().next()?;
            Some(Instance {
                name,
                runtime: crate::model::RuntimeKind::Container,
                image: e.image,
                image_id: e.image_id,
                state: parse_state(&e.state, e.exit_code),
                started_at: (e.started_at > 0).then_some(e.started_at),
                labels: e.labels.unwrap_or_default(),
            })
        })
        .collect())
}

impl Podman {
    pub fn new(cli: PodmanCli) -> Self {
        Podman { cli }
    }

    pub(super) fn tool(&self) -> &Tool {
        &self.cli.tool
    }

    pub(super) fn timeouts(&self) -> &Timeouts {
        &self.cli.timeouts
    }

    fn create_args(&self, req: &CreateRequest<'_>) -> Vec<OsString> {
        let c = req.spec;
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |s: String| a.push(s.into());
        push("--name".into());
        push(req.name.to_string());
        for (k, v) in req.labels() {
            push("--label".into());
            push(format!("{k}={v}"));
        }
        push("--restart".into());
        push(c.restart.as_str().into());
        if let Some(n) = &c.network {
            push("--network".into());
            push(n.clone());
        }
        if let Some(u) = &c.user {
            push("--user".into());
            push(u.clone());
        }
        for p in &c.ports {
            push("--publish".into());
            push(p.to_string());
        }
        for v in &c.volumes {
            push("--volume".into());
            push(v.to_string());
        }
        if let Some(m) = c.memory_mb {
            push("--memory".into());
            push(format!("{m}m"));
        }
        if let Some(n) = c.vcpus {
            push("--cpus".into());
            push(n.to_string());
        }
        // Fixed at create, so any `podman stop` (mcp's or an operator's) is
        // as graceful as the spec asks; `podman inspect` shows both.
        if let Some(sig) = &c.stop_signal {
            push("--stop-signal".into());
            push(sig.clone());
        }
        push("--stop-timeout".into());
        push(c.stop_timeout.as_secs().to_string());
        push(c.image.clone());
        if let Some(cmd) = &c.cmd {
            for arg in cmd {
                push(arg.clone());
            }
        }
        a
    }

    fn run_create(&self, verb: &str, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        let mut args: Vec<OsString> = vec![verb.into()];
        if verb == "run" {
            args.push("--detach".into());
        }
        // Values reach podman out of sight: never on argv, never on disk.
        let (env, secrets) = super::podman_env::secrets_for(&req.spec.env)
            .with_context(|| format!("passing the environment of {}", req.name))?;
        args.extend(env);
        args.extend(self.create_args(req));
        self.cli
            .tool
            .run_with(args, &secrets, self.cli.timeouts.pull)
            .with_context(|| format!("creating container {}", req.name))?;
        Ok(())
    }
}

impl Runtime for Podman {
    fn list(&self) -> anyhow::Result<Vec<Instance>> {
        let out = self
            .cli
            .tool
            .run(["ps", "--all", "--format", "json"], self.cli.timeouts.call)
            .context("listing containers")?;
        parse_ps(&out)
    }

    fn pull(&self, image: &str, policy: PullPolicy) -> anyhow::Result<Option<String>> {
        let present = || self.cli.image_exists(image);
        let should_pull = match policy {
            PullPolicy::Always => true,
            PullPolicy::Missing => !present()?,
            PullPolicy::Never => {
                if !present()? {
                    anyhow::bail!(
                        "image {image} is not present and --pull never forbids pulling it"
                    );
                }
                false
            }
        };
        if should_pull {
            return self.cli.pull(image);
        }
        Ok(Some(self.cli.inspect_image(image)?.id))
    }

    /// One `podman image inspect` for all of them; podman answers in the
    /// order asked, so when every image is present the answers line up.
    /// When one is missing the order is lost, so each is asked alone.
    fn image_digests(&self, images: &[String]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
        let inspect = |names: &[String]| -> anyhow::Result<Option<Vec<serde_json::Value>>> {
            let mut args: Vec<OsString> = vec!["image".into(), "inspect".into()];
            args.extend(names.iter().map(OsString::from));
            let out = self.cli.tool.capture(&args, self.cli.timeouts.call)?;
            if out.code != Some(0) {
                return Ok(None);
            }
            let entries: Vec<serde_json::Value> =
                serde_json::from_str(&out.stdout).context("parsing podman image inspect output")?;
            Ok(Some(entries).filter(|e| e.len() == names.len()))
        };
        if images.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut found = BTreeMap::new();
        if let Some(entries) = inspect(images)? {
            for (image, e) in images.iter().zip(&entries) {
                found.insert(image.clone(), manifest_digests(e));
            }
        } else {
            for image in images {
                if let Some(e) =
                    inspect(std::slice::from_ref(image))?.and_then(|v| v.into_iter().next())
                {
                    found.insert(image.clone(), manifest_digests(&e));
                }
            }
        }
        found.retain(|_, d| !d.is_empty());
        Ok(found)
    }

    fn ensure_network(&self, network: &str) -> anyhow::Result<()> {
        let exists = self.cli.tool.capture(
            &["network".into(), "exists".into(), network.into()],
            self.cli.timeouts.call,
        )?;
        if exists.code != Some(0) {
            self.cli
                .tool
                .run(["network", "create", network], self.cli.timeouts.call)
                .with_context(|| format!("creating network {network}"))?;
        }
        Ok(())
    }

    fn create(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        self.run_create("create", req)
    }

    fn run(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        match self.run_create("run", req) {
            // The container was created; only its network setup lost a race.
            Err(e) if firewall_race(&e) => self.start(req.name),
            other => other,
        }
    }

    fn start(&self, name: &str) -> anyhow::Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.cli.tool.run(["start", name], self.cli.timeouts.call) {
                Err(e) if attempt < FIREWALL_ATTEMPTS && firewall_race(&e) => {
                    std::thread::sleep(Duration::from_millis(300 * attempt as u64));
                }
                other => {
                    other.with_context(|| format!("starting container {name}"))?;
                    return Ok(());
                }
            }
        }
    }

    fn exec(&self, name: &str, argv: &[String], timeout: Duration) -> anyhow::Result<ExecResult> {
        let mut args: Vec<OsString> = vec!["exec".into(), name.into()];
        args.extend(argv.iter().map(Into::into));
        let out = self
            .cli
            .tool
            .capture(&args, timeout)
            .with_context(|| format!("running the health command in {name}"))?;
        Ok(ExecResult {
            code: out.code,
            output: super::exec::last_line(&out.stdout, &out.stderr),
        })
    }

    fn stop(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        let secs = timeout.as_secs().to_string();
        self.cli
            .tool
            .run(
                ["stop", "--time", &secs, name],
                timeout.saturating_add(self.cli.timeouts.call),
            )
            .with_context(|| format!("stopping container {name}"))?;
        Ok(())
    }

    fn remove(&self, name: &str) -> anyhow::Result<()> {
        self.cli
            .tool
            .run(
                ["rm", "--force", "--ignore", "--time", "10", name],
                self.cli.timeouts.call,
            )
            .with_context(|| format!("removing container {name}"))?;
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.cli
            .tool
            .run(["rename", from, to], self.cli.timeouts.call)
            .with_context(|| format!("renaming container {from} to {to}"))?;
        Ok(())
    }

    fn state(&self, name: &str) -> anyhow::Result<Option<State>> {
        let Some(out) = self.inspect_container(name, "{{.State.Status}} {{.State.ExitCode}}")?
        else {
            return Ok(None);
        };
        let mut parts = out.split_whitespace();
        let status = parts.next().unwrap_or_default();
        let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        Ok(Some(parse_state(status, code)))
    }

    fn resume(&self, name: &str) -> anyhow::Result<()> {
        self.unpause(name)
    }

    fn retire(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        self.retire_container(name, timeout)
    }

    fn restart_counts(
        &self,
        names: &[String],
    ) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
        self.restart_counts_of(names)
    }

    fn crash_looping(&self, name: &str) -> anyhow::Result<bool> {
        self.crash_looping_now(name)
    }

    fn evidence(&self, name: &str) -> Option<super::evidence::Evidence> {
        self.evidence_of(name)
    }

    fn describe(&self, name: &str, component: &str) -> anyhow::Result<describe::Description> {
        let inspect = self.cli.inspect_container(name)?;
        // Without the image's own config, its env and command are kept too.
        let image = self.cli.inspect_image(describe::image_of(&inspect)).ok();
        Ok(describe::component_table(
            component,
            &inspect,
            image.as_ref(),
        ))
    }

    fn logs(
        &self,
        name: &str,
        opts: &LogOptions,
        out: &mut dyn std::io::Write,
    ) -> anyhow::Result<i32> {
        let mut args: Vec<OsString> = vec!["logs".into()];
        if opts.follow {
            args.push("--follow".into());
        }
        if let Some(n) = opts.tail {
            args.push("--tail".into());
            args.push(n.to_string().into());
        }
        if let Some(t) = opts.since {
            args.push("--since".into());
            args.push(crate::timefmt::rfc3339(t).into());
        }
        let timeout = (!opts.follow).then_some(self.cli.timeouts.call);
        let Some(component) = &opts.json_component else {
            args.push(name.into());
            return self.cli.tool.stream(args, timeout, out);
        };
        args.push("--timestamps".into());
        args.push(name.into());
        let mut emit = |stream, text: &str| {
            let (time, line) = logjson::split_podman_timestamp(text);
            logjson::emit(
                &mut *out,
                &logjson::LogLine {
                    time: time.map(str::to_string),
                    stream,
                    line,
                    component,
                },
            )
        };
        if opts.follow {
            return self.cli.tool.lines(args, timeout, &mut emit);
        }
        // stdout and stderr arrive through two pipes: put a finished log
        // back in time order (stable, so equal times keep their order).
        let mut all: Vec<(logjson::Stream, String)> = Vec::new();
        let code = self.cli.tool.lines(args, timeout, &mut |stream, text| {
            all.push((stream, text.to_string()));
            Ok(())
        })?;
        all.sort_by(|a, b| {
            let time = |t: &str| logjson::split_podman_timestamp(t).0.map(str::to_string);
            time(&a.1).cmp(&time(&b.1))
        });
        for (stream, text) in &all {
            emit(*stream, text)?;
        }
        Ok(code)
    }
}

/// netavark 1.4 (Debian 12) edits the shared iptables chains without a lock
/// that other podman processes with another network config dir respect; when
/// one tears down the last port forward while another sets one up, the setup
/// fails with "No chain/target/match by that name". Retrying the start is
/// enough: the chains are recreated on the next setup.
const FIREWALL_ATTEMPTS: u32 = 3;

fn firewall_race(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("netavark: unable to") && text.contains("No chain/target/match")
}

/// Every manifest digest podman knows for an image, its own `Digest` first.
/// An image pulled through several manifests (another repository, another
/// compression) has several; `RepoDigests` pairs each of its names with each.
pub fn manifest_digests(inspect: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let main = inspect.get("Digest").and_then(|d| d.as_str());
    let repo = inspect
        .get("RepoDigests")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str()?.rsplit_once('@').map(|(_, d)| d));
    for d in main.into_iter().chain(repo) {
        if d.starts_with("sha256:") && !out.iter().any(|o| o == d) {
            out.push(d.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_the_netavark_firewall_race() {
        let race = anyhow::anyhow!(
            "Error: netavark: unable to append rule '-j NETAVARK-HOSTPORT-SETMARK' to table 'nat': code: 1, msg: iptables: No chain/target/match by that name."
        );
        assert!(firewall_race(&race));
        assert!(!firewall_race(&anyhow::anyhow!(
            "Error: no such container web-api"
        )));
        assert!(!firewall_race(&anyhow::anyhow!(
            "netavark: unable to allocate IP"
        )));
    }

    #[test]
    fn collects_every_manifest_digest_of_an_image() {
        let e = serde_json::json!({
            "Digest": "sha256:aa",
            "RepoDigests": ["r/a@sha256:aa", "r/a@sha256:bb", "r/b@sha256:aa", "r/b@sha256:bb"]
        });
        assert_eq!(manifest_digests(&e), ["sha256:aa", "sha256:bb"]);
        assert!(manifest_digests(&serde_json::json!({"Digest": ""})).is_empty());
    }

    #[test]
    fn parses_ps_json() {
        let json = r#"[{"Names":["web-api"],"Image":"r:5000/web:v1","ImageID":"abc",
            "State":"exited","ExitCode":137,"StartedAt":1700000000,
            "Labels":{"mcp.service":"web","mcp.component":"api"}},
            {"Names":["x"],"State":"running","Labels":null}]"#;
        let list = parse_ps(json).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].state, State::Exited(137));
        assert_eq!(list[0].managed_identity(), Some(("web", "api")));
        assert_eq!(list[1].state, State::Running);
        assert!(list[1].labels.is_empty());
        assert!(parse_ps("").unwrap().is_empty());
    }
}

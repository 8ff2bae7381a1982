//! The keys about a component's life rather than its configuration: health
//! gate, dependencies, rollout order and how it is stopped. Kept apart from
//! the rest of the reader so parse.rs stays about what runs.

use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::{DEFAULT_HEALTH_TIMEOUT, FileReader, HEALTH_KEYS, Val, without_controls};
use crate::spec::diag::suggest;
use crate::spec::fields;
use crate::spec::model::*;

/// Longest stop grace accepted: a stop that waits longer is a hang.
const MAX_STOP_TIMEOUT: Duration = Duration::from_secs(3600);

/// Signals a process can be asked to end with. Job-control signals (STOP,
/// TSTP, TTIN, TTOU, CONT) and CHLD are left out: they never end a process,
/// so a stop would always wait out its timeout and then kill.
const STOP_SIGNALS: &[&str] = &[
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// `SIGRTMIN+n` / `SIGRTMAX-n` within Linux's 32 real-time signals.
fn is_realtime_signal(s: &str) -> bool {
    let offset = |rest: &str| rest.parse::<u8>().is_ok_and(|n| n <= 30);
    match (s.strip_prefix("SIGRTMIN"), s.strip_prefix("SIGRTMAX")) {
        (Some(""), _) | (_, Some("")) => true,
        (Some(rest), _) => rest.strip_prefix('+').is_some_and(offset),
        (_, Some(rest)) => rest.strip_prefix('-').is_some_and(offset),
        _ => false,
    }
}

const NEVER_ENDS: &[&str] = &[
    "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCONT", "SIGCHLD",
];

fn full_signal_name(s: &str) -> String {
    let upper = s.to_ascii_uppercase();
    if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    }
}

/// `INT`, `sigint` and `SIGINT` all name SIGINT; the spec keeps `SIGINT`.
pub fn normalize_signal(s: &str) -> Option<String> {
    let full = full_signal_name(s);
    (STOP_SIGNALS.contains(&full.as_str()) || is_realtime_signal(&full)).then_some(full)
}

impl FileReader<'_> {
    pub(super) fn health(&mut self, v: &Val<'_>, runtime: RuntimeKind) -> Option<HealthCheck> {
        let DeValue::Table(t) = v.get_ref() else {
            self.hint(
                v.span(),
                "`health` must be a table",
                "write [components.health] with tcp = PORT, http = \"URL\" or cmd = [\"argv\", ...]",
            );
            return None;
        };
        self.check_keys(t, HEALTH_KEYS, "health");
        let tcp = t
            .get("tcp")
            .and_then(|p| self.bounded_int(p, "health.tcp", 1, 65535, "a port number"));
        let http = t.get("http").and_then(|u| {
            let url = self.string(u, "health.http")?;
            match fields::check_http_url(&url) {
                Ok(()) => Some(url),
                Err(why) => {
                    self.hint(
                        u.span(),
                        format!("invalid health URL `{}`: {why}", fields::shown(&url)),
                        "use http = \"http://127.0.0.1:8080/healthz\"",
                    );
                    None
                }
            }
        });
        let cmd = t.get("cmd").and_then(|c| self.health_cmd(c, runtime));
        let timeout = match t.get("timeout") {
            None => DEFAULT_HEALTH_TIMEOUT,
            Some(tv) => match self.string(tv, "health.timeout") {
                Some(s) => match crate::duration::parse(&s) {
                    Ok(d) if d < Duration::from_secs(1) || d > Duration::from_secs(3600) => {
                        self.hint(
                            tv.span(),
                            format!("health timeout `{}` is out of range", fields::shown(&s)),
                            "use a timeout between 1s and 1h",
                        );
                        DEFAULT_HEALTH_TIMEOUT
                    }
                    Ok(d) => d,
                    Err(why) => {
                        self.hint(
                            tv.span(),
                            format!("invalid health timeout: {}", without_controls(&why)),
                            "write e.g. timeout = \"30s\"",
                        );
                        DEFAULT_HEALTH_TIMEOUT
                    }
                },
                None => DEFAULT_HEALTH_TIMEOUT,
            },
        };
        let interval = match t.get("interval") {
            None => None,
            Some(iv) => match self.string(iv, "health.interval") {
                Some(s) => match crate::duration::parse(&s) {
                    Ok(d) if d < Duration::from_millis(100) || d > timeout => {
                        self.hint(
                            iv.span(),
                            format!("health interval `{}` is out of range", fields::shown(&s)),
                            format!(
                                "use an interval between 100ms and the health timeout ({}s)",
                                timeout.as_secs()
                            ),
                        );
                        None
                    }
                    Ok(d) => Some(d),
                    Err(why) => {
                        self.hint(
                            iv.span(),
                            format!("invalid health interval: {}", without_controls(&why)),
                            "write e.g. interval = \"1s\"",
                        );
                        None
                    }
                },
                None => None,
            },
        };
        let mut probes = Vec::new();
        probes.extend(tcp.map(|p| HealthProbe::Tcp(p as u16)));
        probes.extend(http.map(HealthProbe::Http));
        probes.extend(cmd.map(HealthProbe::Cmd));
        if probes.len() > 1 {
            self.hint(
                v.span(),
                "health has more than one probe",
                "keep one probe: tcp = PORT, http = \"URL\" or cmd = [\"argv\", ...]",
            );
            return None;
        }
        let Some(probe) = probes.pop() else {
            if !["tcp", "http", "cmd"].iter().any(|k| t.contains_key(*k)) {
                self.hint(
                    v.span(),
                    "health has no probe",
                    "add tcp = PORT, http = \"http://127.0.0.1:PORT/path\" or cmd = [\"argv\", ...]",
                );
            }
            return None;
        };
        Some(HealthCheck {
            probe,
            timeout,
            interval,
        })
    }

    fn health_cmd(&mut self, v: &Val<'_>, runtime: RuntimeKind) -> Option<Vec<String>> {
        if let DeValue::String(s) = v.get_ref() {
            self.hint(
                v.span(),
                "`health.cmd` must be an array of strings",
                format!(
                    "write it as an argv list, e.g. cmd = [{}] (no shell runs it: use [\"sh\", \"-c\", \"...\"] for one)",
                    s.split_whitespace()
                        .map(|w| format!("\"{}\"", fields::shown(w)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return None;
        }
        let args: Vec<String> = self
            .string_array(v, "health.cmd")
            .into_iter()
            .map(|s| s.into_inner())
            .collect();
        if runtime == RuntimeKind::Unikernel {
            self.hint(
                v.span(),
                "a unikernel component cannot run a health `cmd`",
                "use tcp = PORT or http = \"URL\"; a Nanos VM runs one program and has no exec",
            );
            return None;
        }
        let no_entries = matches!(v.get_ref(), DeValue::Array(a) if a.is_empty());
        // Non-string entries were reported by string_array already.
        if no_entries || args.first().is_some_and(|a| a.is_empty()) {
            self.hint(
                v.span(),
                "`health.cmd` has no program to run",
                "name the program first, e.g. cmd = [\"pg_isready\", \"-U\", \"postgres\"]",
            );
            return None;
        }
        if args.is_empty() {
            return None;
        }
        if args.iter().any(|a| a.contains('\0')) {
            self.hint(v.span(), "`health.cmd` contains a NUL byte", "remove it");
            return None;
        }
        Some(args)
    }

    /// The `requires` entries and the position of each, for the checks that
    /// need every service (unknown targets, cycles).
    pub(super) fn requires(&mut self, v: &Val<'_>) -> (Vec<Requirement>, Vec<(usize, usize)>) {
        let mut out: Vec<Requirement> = Vec::new();
        let mut positions = Vec::new();
        for item in self.string_array(v, "requires") {
            let text = item.get_ref();
            let (service, component) = match text.split_once('/') {
                Some((s, c)) => (s, Some(c)),
                None => (text.as_str(), None),
            };
            let valid =
                fields::is_service_name(service) && component.is_none_or(fields::is_component_name);
            if !valid {
                self.hint(
                    item.span(),
                    format!("invalid requirement `{}`", fields::shown(text)),
                    "name a service (\"db\") or one of its components (\"db/main\")",
                );
                continue;
            }
            let req = Requirement {
                service: service.to_string(),
                component: component.map(str::to_string),
            };
            if out.contains(&req) {
                self.hint(
                    item.span(),
                    format!("`{req}` is required twice"),
                    "list each requirement once",
                );
                continue;
            }
            positions.push(self.pos(&item.span()));
            out.push(req);
        }
        (out, positions)
    }

    pub(super) fn rollout(&mut self, t: &DeTable<'_>, volumes: &[VolumeSpec]) -> Rollout {
        let default = Rollout::default_for(volumes);
        let Some(v) = t.get("rollout") else {
            return default;
        };
        let Some(s) = self.string(v, "rollout") else {
            return default;
        };
        Rollout::parse(&s).unwrap_or_else(|| {
            let hint = match suggest(&s, &Rollout::NAMES) {
                Some(x) => format!("did you mean `{x}`?"),
                None => "use \"start-first\" or \"stop-first\"".to_string(),
            };
            self.hint(
                v.span(),
                format!("unknown rollout `{}`", fields::shown(&s)),
                hint,
            );
            default
        })
    }

    pub(super) fn stop_signal(&mut self, v: &Val<'_>, runtime: RuntimeKind) -> Option<String> {
        let s = self.string(v, "stop_signal")?;
        if runtime == RuntimeKind::Unikernel {
            self.hint(
                v.span(),
                "a unikernel component has no `stop_signal`",
                "remove it; a VM is stopped with an ACPI powerdown (set `stop_timeout` for its wait)",
            );
            return None;
        }
        let signal = normalize_signal(&s);
        if signal.is_none() {
            let hint = if NEVER_ENDS.contains(&full_signal_name(&s).as_str()) {
                "this signal never ends a process; use e.g. \"SIGTERM\", \"SIGINT\" or \"SIGQUIT\""
            } else {
                "name a signal, e.g. stop_signal = \"SIGINT\""
            };
            self.hint(
                v.span(),
                format!("unknown stop signal `{}`", fields::shown(&s)),
                hint,
            );
        }
        signal
    }

    pub(super) fn stop_timeout(&mut self, v: &Val<'_>) -> Duration {
        let Some(s) = self.string(v, "stop_timeout") else {
            return DEFAULT_STOP_TIMEOUT;
        };
        match crate::duration::parse(&s) {
            // podman takes whole seconds; rounding silently would change the wait.
            Ok(d) if d.subsec_nanos() != 0 => {
                self.hint(
                    v.span(),
                    format!(
                        "stop timeout `{}` is not a whole number of seconds",
                        fields::shown(&s)
                    ),
                    "podman counts the stop timeout in seconds; write e.g. stop_timeout = \"30s\"",
                );
                DEFAULT_STOP_TIMEOUT
            }
            Ok(d) if d > MAX_STOP_TIMEOUT => {
                self.hint(
                    v.span(),
                    format!("stop timeout `{}` is out of range", fields::shown(&s)),
                    "use a timeout between 0s and 1h",
                );
                DEFAULT_STOP_TIMEOUT
            }
            Ok(d) => d,
            Err(why) => {
                self.hint(
                    v.span(),
                    format!("invalid stop timeout: {}", without_controls(&why)),
                    "write e.g. stop_timeout = \"30s\"",
                );
                DEFAULT_STOP_TIMEOUT
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::hash::RuntimeSpec;
    use std::path::Path;

    fn one(component: &str) -> ComponentSpec {
        let text = format!("[[components]]\nname = \"app\"\nimage = \"busybox\"\n{component}");
        let mut r = FileReader::new(Path::new("web.toml"), &text);
        let parsed = r.read_service("web").expect("parses");
        assert_eq!(r.diagnostics, vec![], "{text}");
        parsed.spec.components[0].clone()
    }

    #[test]
    fn defaults() {
        let c = one("");
        assert_eq!(c.rollout, Rollout::StartFirst);
        assert_eq!(c.stop_timeout, DEFAULT_STOP_TIMEOUT);
        assert_eq!((c.stop_signal, c.requires), (None, vec![]));
        assert_eq!(
            one("volumes = [\"/srv:/srv:ro\"]").rollout,
            Rollout::StartFirst
        );
        assert_eq!(one("volumes = [\"/srv:/srv\"]").rollout, Rollout::StopFirst);
        assert_eq!(
            one("volumes = [\"data:/d:z,rw\"]").rollout,
            Rollout::StopFirst
        );
        let c = one("volumes = [\"/srv:/srv\"]\nrollout = \"start-first\"");
        assert_eq!(c.rollout, Rollout::StartFirst);
    }

    #[test]
    fn lifecycle_keys_are_read() {
        let c = one(
            "requires = [\"db\", \"cache/redis\"]\nstop_signal = \"int\"\nstop_timeout = \"30s\"\n\
             [components.health]\ncmd = [\"pg_isready\", \"-U\", \"postgres\"]\ninterval = \"500ms\"\n",
        );
        let shown: Vec<String> = c.requires.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["db", "cache/redis"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.stop_timeout, Duration::from_secs(30));
        let h = c.health.expect("health");
        assert_eq!(
            h.probe,
            HealthProbe::Cmd(vec!["pg_isready".into(), "-U".into(), "postgres".into()])
        );
        assert_eq!(h.interval(), Duration::from_millis(500));
        let tcp = one("[components.health]\ntcp = 80\n")
            .health
            .expect("health");
        assert_eq!(tcp.interval(), DEFAULT_PROBE_INTERVAL);
    }

    #[test]
    fn hash_changes_only_for_what_podman_fixes_at_create() {
        let hash = |extra: &str| RuntimeSpec::of(&one(extra)).hash();
        let base = hash("");
        // Written before these keys existed: the same canonical form.
        assert!(!RuntimeSpec::of(&one("")).canonical_json().contains("stop_"));
        assert_eq!(hash("stop_timeout = \"10s\""), base);
        assert_eq!(
            hash("rollout = \"stop-first\"\nrequires = [\"web/x\"]"),
            base
        );
        assert_eq!(
            hash("[components.health]\ncmd = [\"true\"]\ninterval = \"2s\""),
            base
        );
        assert_ne!(hash("stop_timeout = \"30s\""), base);
        assert_ne!(hash("stop_signal = \"SIGINT\""), base);
        let vm = |extra: &str| {
            RuntimeSpec::of(&one(&format!("runtime = \"unikernel\"\n{extra}"))).hash()
        };
        assert_eq!(vm("stop_timeout = \"30s\""), vm(""));
    }

    #[test]
    fn signals() {
        assert_eq!(normalize_signal("SIGINT").as_deref(), Some("SIGINT"));
        assert_eq!(normalize_signal("int").as_deref(), Some("SIGINT"));
        assert_eq!(
            normalize_signal("SIGRTMIN+3").as_deref(),
            Some("SIGRTMIN+3")
        );
        for bad in ["SIGSTOP", "CONT", "SIGFOO", "", "SIGRTMIN+31", "2"] {
            assert_eq!(normalize_signal(bad), None, "{bad}");
        }
    }
}

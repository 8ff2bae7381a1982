//! Replacing a running component: start-first or stop-first.
//!
//! start-first (stateless components): the new version first runs as a
//! trial beside the old one, its published ports moved to free loopback
//! ports and its health check aimed there. Only when the trial passes is the
//! old one touched, so a version that fails its gate costs no downtime.
//! podman 4.3 cannot change a container's ports, so the instance that takes
//! the real ports is a second one, created (not started) under the canonical
//! name while the old one still serves; the switch is then one stop and one
//! start. A runtime that can move ports live (a VM's QMP hostfwd) hands the
//! ports over to the trial instance itself and keeps it running.
//!
//! stop-first (a component that mounts a volume read-write: two instances
//! on one data directory would be wrong) keeps the order of
//! [`super::replace::replace`]. Either way a failure puts back exactly what ran.

use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use anyhow::Context;

use super::health::wait_healthy;
use super::plan::Desired;
use super::replace::{Swap, port_taken, replace as stop_first, start_on_released_ports};
use crate::runtime::{CreateRequest, Runtime, State};
use crate::spec::{ComponentSpec, HealthProbe, PortSpec, Protocol, Rollout};

/// How many times a trial is retried when a side port was taken between
/// choosing it and starting the trial instance.
const SIDE_PORT_ATTEMPTS: u32 = 3;

/// Replaces a component's instance according to its rollout.
/// `settle`: how long an instance without a health check must keep running.
pub fn replace(runtime: &dyn Runtime, d: &Desired<'_>, settle: Duration) -> anyhow::Result<()> {
    if d.spec.rollout == Rollout::StartFirst {
        let name = d.instance();
        // Without a running old instance there is no downtime to avoid, nor
        // with one that is only up because its restart policy keeps reviving
        // it: it serves nothing. (A trial beside one was also seen, under load, to
        // never answer on its side port; suspected: the old one's restarts
        // keep rewriting the host's port forwarding.)
        if runtime.state(&name)? == Some(State::Running) && !runtime.crash_looping(&name)? {
            return start_first(runtime, d, settle);
        }
    }
    stop_first(runtime, d, settle)
}

/// A copy of `spec` whose published ports are moved to free loopback ports
/// and whose health check is aimed at them; `None` when the check cannot be
/// aimed at the trial (an http check on a port the component does not
/// publish would reach the old instance and prove nothing).
pub fn side_spec(spec: &ComponentSpec) -> anyhow::Result<Option<ComponentSpec>> {
    let mut side = spec.clone();
    let mut moved: Vec<(u16, u16)> = Vec::new();
    for p in side.ports.iter_mut() {
        let free = free_port(p.protocol)?;
        if p.protocol == Protocol::Tcp {
            moved.push((p.host_port, free));
        }
        *p = PortSpec {
            host_ip: Some("127.0.0.1".into()),
            host_port: free,
            container_port: p.container_port,
            protocol: p.protocol,
        };
    }
    let Some(check) = side.health.as_mut() else {
        return Ok(Some(side));
    };
    let aimed = |port: u16| moved.iter().find(|(real, _)| *real == port).map(|m| m.1);
    if let HealthProbe::Tcp(port) = &check.probe {
        let Some(to) = aimed(*port) else {
            return Ok(None);
        };
        check.probe = HealthProbe::Tcp(to);
    } else if let HealthProbe::Http(url) = &check.probe {
        let Some(to) = http_port(url).and_then(|(port, rest)| aimed(port).map(|to| (to, rest)))
        else {
            return Ok(None);
        };
        check.probe = HealthProbe::Http(format!("http://127.0.0.1:{}{}", to.0, to.1));
    }
    Ok(Some(side))
}

/// The port of an http URL on this host (loopback, a wildcard or `localhost`)
/// and the rest of the URL after the authority.
fn http_port(url: &str) -> Option<(u16, &str)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h, p.parse::<u16>().ok()?)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = matches!(
        host,
        "127.0.0.1" | "localhost" | "0.0.0.0" | "::1" | "::" | ""
    ) || host.starts_with("127.");
    local.then_some((port, path))
}

/// A loopback port that was free a moment ago.
fn free_port(protocol: Protocol) -> anyhow::Result<u16> {
    let port = match protocol {
        Protocol::Tcp => TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()),
    }
    .context("finding a free loopback port for the trial instance")?
    .port();
    Ok(port)
}

/// Runs the new version beside the old one on side ports until it passes
/// its check. On failure the trial is removed and nothing else changed.
fn trial(
    runtime: &dyn Runtime,
    d: &Desired<'_>,
    next: &str,
    settle: Duration,
) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        // [`start_first`] checked that the check can be aimed at the trial.
        let side = side_spec(d.spec)?
            .context("internal: the health check cannot be aimed at the trial instance")?;
        let req = CreateRequest {
            spec: &side,
            ..d.create_request(next)
        };
        runtime.remove(next)?;
        let result = runtime
            .run(&req)
            .and_then(|()| wait_healthy(runtime, next, &side, settle));
        match result {
            Ok(()) => return Ok(()),
            Err(e) => {
                // Keep the evidence before the trial is removed.
                let e = match runtime.evidence(next) {
                    Some(evidence) => e.context(evidence),
                    None => e,
                };
                let _ = runtime.remove(next);
                if attempt < SIDE_PORT_ATTEMPTS && port_taken(&e) {
                    continue;
                }
                if side.ports.is_empty() {
                    return Err(e);
                }
                // The check names the side port it probed: say which real one it stands for.
                let moved: Vec<String> = d
                    .spec
                    .ports
                    .iter()
                    .zip(&side.ports)
                    .map(|(real, to)| {
                        format!(
                            "{}:{} on 127.0.0.1:{}",
                            real.host_ip.as_deref().unwrap_or("0.0.0.0"),
                            real.host_port,
                            to.host_port
                        )
                    })
                    .collect();
                return Err(e.context(format!(
                    "the trial ran with its ports moved aside ({})",
                    moved.join(", ")
                )));
            }
        }
    }
}

fn start_first(runtime: &dyn Runtime, d: &Desired<'_>, settle: Duration) -> anyhow::Result<()> {
    let (name, next, prev) = d.instance_names();
    // A check that cannot be aimed at the trial would pass on the old
    // instance: such a component is replaced stop-first.
    if side_spec(d.spec)?.is_none() {
        return stop_first(runtime, d, settle);
    }
    let req = d.create_request(&next);
    runtime.preflight(&req)?;
    trial(runtime, d, &next, settle).map_err(|e| {
        e.context(format!(
            "the new {name} failed beside the old one, which kept serving untouched"
        ))
    })?;
    // A runtime that can move ports live (a VM) hands them to the trial,
    // which then simply stays: no second boot, no gap but the move itself.
    let ports: Vec<String> = d.spec.ports.iter().map(ToString::to_string).collect();
    match runtime.take_over_ports(&name, &next, &ports) {
        Ok(true) => return keep_trial(runtime, d, &name, &next, &prev),
        Ok(false) => {}
        Err(e) => {
            let _ = runtime.remove(&next);
            return Err(e.context(format!(
                "the new {name} passed its check, but taking over the ports failed; the old one kept them"
            )));
        }
    }
    runtime.remove(&next)?;

    // The instance that takes the real ports is created while the old one
    // still serves, and renamed into place before it starts: names on a
    // podman network are taken when a container starts.
    if let Err(e) = runtime.create(&req) {
        let _ = runtime.remove(&next);
        return Err(e.context(format!(
            "the new {name} passed its check, but creating it on the real ports failed; the old one kept serving"
        )));
    }
    let mut sw = Swap::default();
    let switched = (|| -> anyhow::Result<()> {
        runtime.rename(&name, &prev)?;
        sw.old_aside = true;
        runtime.rename(&next, &name)?;
        sw.new_in_place = true;
        // From here until the new one listens, the ports answer nothing. A
        // stop that fails half-way may have stopped it: the rollback starts
        // it either way (starting a running container is a no-op).
        // Out of service for good, whatever its restart policy: a policy
        // must never revive it under its .prev name and take the port back.
        sw.old_stopped = true;
        runtime.retire(&prev, d.spec.stop_timeout)?;
        start_on_released_ports(runtime, &name)?;
        wait_healthy(runtime, &name, d.spec, settle)
    })();
    let Err(why) = switched else {
        // The next sync removes a .prev left here if this removal fails.
        runtime.remove(&prev)?;
        return Ok(());
    };
    let why = sw.with_evidence(runtime, why, &name, &next);
    match sw.undo(runtime, &name, &next, &prev) {
        Ok(()) => Err(why.context(format!(
            "the new {name} failed on the real ports; the previous version was put back and is running"
        ))),
        Err(e) => Err(why.context(format!(
            "the new {name} failed and putting the previous version back failed too ({e:#}); the next sync retries"
        ))),
    }
}

/// The trial, which now holds the real ports, becomes the instance; the old
/// one, which no longer serves, is set aside, stopped and removed. A failed
/// rename here is left to the next sync (its plan removes a `.next` and puts
/// a `.prev` back, and the result is replaced again).
fn keep_trial(
    runtime: &dyn Runtime,
    d: &Desired<'_>,
    name: &str,
    next: &str,
    prev: &str,
) -> anyhow::Result<()> {
    runtime.rename(name, prev)?;
    if let Err(e) = runtime.rename(next, name) {
        let _ = runtime.rename(prev, name);
        return Err(e);
    }
    runtime.retire(prev, d.spec.stop_timeout)?;
    // The next sync removes a .prev left here if this removal fails.
    runtime.remove(prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ComponentSpec {
        let mut reader = crate::spec::parse::FileReader::new(std::path::Path::new("t.toml"), text);
        reader.read_service("t").unwrap().spec.components[0].clone()
    }

    #[test]
    fn side_spec_moves_ports_to_loopback_and_aims_the_check() {
        let s = spec(
            "[[components]]\nname = \"a\"\nimage = \"r:5000/a:v1\"\nports = [\"8080:80\", \"127.0.0.1:9090:90\"]\n[components.health]\ntcp = 9090\n",
        );
        let side = side_spec(&s).unwrap().unwrap();
        assert_eq!(side.ports.len(), 2);
        for (p, real) in side.ports.iter().zip(&s.ports) {
            assert_eq!(p.host_ip.as_deref(), Some("127.0.0.1"));
            assert_ne!(p.host_port, real.host_port);
            assert_eq!(p.container_port, real.container_port);
        }
        let health = side.health.unwrap();
        assert_eq!(health.probe, HealthProbe::Tcp(side.ports[1].host_port));
    }

    #[test]
    fn http_checks_are_aimed_at_the_side_port_or_refused() {
        let base = "[[components]]\nname = \"a\"\nimage = \"r:5000/a:v1\"\nports = [\"127.0.0.1:8080:80\"]\n[components.health]\n";
        let s = spec(&format!(
            "{base}http = \"http://localhost:8080/healthz?x=1\"\n"
        ));
        let side = side_spec(&s).unwrap().unwrap();
        let port = side.ports[0].host_port;
        assert_eq!(
            side.health.unwrap().probe,
            HealthProbe::Http(format!("http://127.0.0.1:{port}/healthz?x=1"))
        );
        let elsewhere = spec(&format!("{base}http = \"http://127.0.0.1:9999/\"\n"));
        assert!(side_spec(&elsewhere).unwrap().is_none());
        let remote = spec(&format!("{base}http = \"http://example.com:8080/\"\n"));
        assert!(side_spec(&remote).unwrap().is_none());
    }

    #[test]
    fn http_port_reads_the_authority() {
        assert_eq!(http_port("http://127.0.0.1:81/x"), Some((81, "/x")));
        assert_eq!(http_port("http://localhost/"), Some((80, "/")));
        assert_eq!(http_port("http://[::1]:82"), Some((82, "")));
        assert_eq!(http_port("http://10.0.0.1:80/"), None);
    }
}

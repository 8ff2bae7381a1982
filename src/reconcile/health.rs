//! Health gates: a new instance must prove itself before the old one goes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::runtime::{Runtime, State};
use crate::spec::{ComponentSpec, HealthProbe};

/// Without a health check, an instance must still be running after this.
pub const SETTLE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(250);

/// Waits until the instance passes its health check (or, without one, is
/// still running after `settle`, normally [`SETTLE`]). Fails early if it exits.
pub fn wait_healthy(
    runtime: &dyn Runtime,
    name: &str,
    spec: &ComponentSpec,
    settle: Duration,
) -> anyhow::Result<()> {
    let Some(check) = &spec.health else {
        sleep(settle);
        return expect_running(runtime, name);
    };
    let deadline = Instant::now() + check.timeout;
    let mut last_state_check = Instant::now();
    loop {
        let ok = match &check.probe {
            HealthProbe::Tcp(port) => tcp_ok(&probe_addr(spec, *port)),
            HealthProbe::Http(url) => http_ok(url),
        };
        if ok {
            return Ok(());
        }
        if last_state_check.elapsed() >= Duration::from_secs(1) {
            expect_running(runtime, name)?;
            last_state_check = Instant::now();
        }
        if Instant::now() >= deadline {
            let what = match &check.probe {
                HealthProbe::Tcp(port) => format!("tcp port {port} did not accept connections"),
                HealthProbe::Http(url) => format!("{url} did not answer with a 2xx or 3xx status"),
            };
            anyhow::bail!(
                "health check failed: {what} within {}s",
                check.timeout.as_secs()
            );
        }
        sleep(POLL);
    }
}

fn expect_running(runtime: &dyn Runtime, name: &str) -> anyhow::Result<()> {
    match runtime.state(name)? {
        Some(State::Running) => Ok(()),
        Some(state) => anyhow::bail!("{name} is {} instead of running", state.describe()),
        None => anyhow::bail!("{name} disappeared"),
    }
}

/// Where a tcp probe connects: the host address the port is published on,
/// with wildcard addresses probed on loopback.
fn probe_addr(spec: &ComponentSpec, port: u16) -> String {
    let ip = spec
        .ports
        .iter()
        .find(|p| p.host_port == port)
        .and_then(|p| p.host_ip.clone())
        .filter(|ip| ip != "0.0.0.0" && ip != "::")
        .unwrap_or_else(|| "127.0.0.1".to_string());
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn resolve(addr: &str) -> Option<SocketAddr> {
    addr.to_socket_addrs().ok()?.next()
}

fn tcp_ok(addr: &str) -> bool {
    resolve(addr).is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

/// A minimal HTTP/1.0 GET; healthy on a 2xx or 3xx status line.
pub fn http_ok(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host_port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(addr) = resolve(host_port) else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host_port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).unwrap_or(0);
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| (200..400).contains(&code))
}

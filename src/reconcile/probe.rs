//! Network probes of health gates: a fresh, short-lived connection per
//! attempt, which counts only once the instance itself accepted it.
//!
//! For a container, podman's port forward accepts only when the container
//! does, so `connect()` succeeding is the answer. qemu's user-mode network
//! accepts every host-side connection at once, before the guest is even up;
//! there the guest's side of the forwarded connection (`info usernet`) must
//! reach ESTABLISHED. A connection opened too early would also wait out the
//! guest's SYN backoff, so an attempt gives up after [`HANDSHAKE`] and the
//! next one starts afresh.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::runtime::Runtime;
use crate::spec::ComponentSpec;

const CONNECT: Duration = Duration::from_secs(1);
/// How long one attempt waits for a guest to complete a forwarded handshake.
/// A listening guest answers a SYN within milliseconds; a longer wait only
/// helps a SYN that was lost before the guest's network came up, and a
/// fresh connection does that better.
const HANDSHAKE: Duration = Duration::from_secs(1);
const USERNET_POLL: Duration = Duration::from_millis(50);
const HTTP_ANSWER: Duration = Duration::from_secs(2);

/// Where a tcp probe connects: the host address the port is published on,
/// with wildcard addresses probed on loopback.
pub fn probe_addr(spec: &ComponentSpec, port: u16) -> String {
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

/// A fresh connection to `addr` that instance `name` itself accepted (when
/// `addr` is one of its published ports; anything else just has to accept).
pub fn connect_accepted(
    runtime: &dyn Runtime,
    name: &str,
    spec: &ComponentSpec,
    addr: &str,
) -> Option<TcpStream> {
    let addr = resolve(addr)?;
    let published = spec.ports.iter().any(|p| p.host_port == addr.port());
    let forwarded = if published {
        runtime.forwarded(name)
    } else {
        Ok(None)
    };
    let before = match forwarded {
        Ok(None) => return TcpStream::connect_timeout(&addr, CONNECT).ok(),
        Ok(Some(list)) => list,
        // No answer from qemu: nothing proves the guest accepted.
        Err(_) => return None,
    };
    // Connections are told apart only by slirp's socket number; ours is one
    // that was not there before it was opened.
    let known: BTreeSet<i64> = before
        .iter()
        .filter(|c| c.host_port == addr.port())
        .map(|c| c.fd)
        .collect();
    let stream = TcpStream::connect_timeout(&addr, CONNECT).ok()?;
    let deadline = Instant::now() + HANDSHAKE;
    loop {
        let accepted = runtime.forwarded(name).ok().flatten().is_some_and(|now| {
            now.iter()
                .any(|c| c.host_port == addr.port() && !known.contains(&c.fd) && c.accepted())
        });
        if accepted {
            return Some(stream);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(USERNET_POLL);
    }
}

pub fn tcp_ok(runtime: &dyn Runtime, name: &str, spec: &ComponentSpec, addr: &str) -> bool {
    connect_accepted(runtime, name, spec, addr).is_some()
}

/// A minimal HTTP/1.0 GET on a fresh connection; healthy on a 2xx or 3xx
/// status line.
pub fn http_ok(runtime: &dyn Runtime, name: &str, spec: &ComponentSpec, url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host_port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(mut stream) = connect_accepted(runtime, name, spec, host_port) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(HTTP_ANSWER));
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

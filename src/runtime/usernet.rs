//! What qemu's user-mode network (slirp) says about forwarded connections.
//! A host-side `connect()` to a `hostfwd` port succeeds at once, whether or
//! not the guest is up or listening; only `info usernet` shows whether the
//! guest accepted (`TCP[ESTABLISHED]`) or not yet (`TCP[SYN_SENT]`).

use serde::Serialize;

/// One forwarded TCP connection of `info usernet` (listeners left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forwarded {
    /// slirp's socket, the only column that tells connections apart: the
    /// address columns show the forward's host side, not the client's.
    pub fd: i64,
    /// slirp's TCP state: `SYN_SENT`, `ESTABLISHED`, `FIN_WAIT_1`, ...
    pub state: String,
    /// The host port the connection came in on.
    pub host_port: u16,
    /// The guest port it is forwarded to.
    pub guest_port: u16,
}

impl Forwarded {
    /// Whether the guest's side completed the handshake.
    pub fn accepted(&self) -> bool {
        self.state == "ESTABLISHED"
    }
}

/// Parses the text of `info usernet`, e.g.
/// `  TCP[SYN_SENT]      15       127.0.0.1 18931       10.0.2.15  8080     0     0`.
pub fn parse(text: &str) -> Vec<Forwarded> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let state = cols.next()?.strip_prefix("TCP[")?.strip_suffix(']')?;
            if state == "HOST_FORWARD" {
                return None;
            }
            let fd = cols.next()?.parse().ok()?;
            let _src_addr = cols.next()?;
            let host_port = cols.next()?.parse().ok()?;
            let _dst_addr = cols.next()?;
            let guest_port = cols.next()?.parse().ok()?;
            Some(Forwarded {
                fd,
                state: state.to_string(),
                host_port,
                guest_port,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As printed by qemu 7.2 with one listener and two connections.
    const SEEN: &str = "Hub -1 (n0):
  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
  TCP[SYN_SENT]      16       127.0.0.1 18931       10.0.2.15  8080     0     0
  TCP[ESTABLISHED]   15       127.0.0.1 18931       10.0.2.15  8080     0     0
  TCP[HOST_FORWARD]  11       127.0.0.1 18931       10.0.2.15  8080     0     0
  UDP[236 sec]       14       10.0.2.15 68        10.0.2.2   67     0     0
";

    #[test]
    fn reads_connections_not_listeners() {
        let got = parse(SEEN);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].fd, got[0].accepted()), (16, false));
        assert_eq!((got[1].fd, got[1].accepted()), (15, true));
        assert!(
            got.iter()
                .all(|c| c.host_port == 18931 && c.guest_port == 8080)
        );
    }
}

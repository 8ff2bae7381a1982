//! Moving a VM's published ports to another running VM through QMP
//! (`hostfwd_remove` / `hostfwd_add` on the user-mode netdev), for the
//! switch of a start-first rollout: the new VM, already booted and checked
//! on side ports, takes the real ports at once instead of booting again.

use std::time::Duration;

use anyhow::Context;

use super::qemu_argv::hostfwd;
use super::qmp::Qmp;
use super::vmstate::{QMP_SOCKET, RECORD, VmDir, write_json};

const QMP_TIMEOUT: Duration = Duration::from_secs(2);
/// The netdev every VM is booted with (see `qemu_argv`).
const NETDEV: &str = "n0";

/// `hostfwd_add n0 tcp:127.0.0.1:8080-:80` for the podman-style `port`.
pub fn add_line(port: &str) -> anyhow::Result<String> {
    Ok(format!("hostfwd_add {NETDEV} {}", hostfwd(port)?))
}

/// `hostfwd_remove n0 tcp:127.0.0.1:8080`: the rule up to the guest part.
pub fn remove_line(port: &str) -> anyhow::Result<String> {
    let rule = hostfwd(port)?;
    let host_side = rule.split_once('-').map_or(rule.as_str(), |(h, _)| h);
    Ok(format!("hostfwd_remove {NETDEV} {host_side}"))
}

/// One monitor command. qemu 7.2 answers a successful `hostfwd_add` with no
/// text and a successful `hostfwd_remove` with "host forwarding rule for
/// ... removed"; anything else is its error message.
fn hmp(qmp: &mut Qmp, line: &str) -> anyhow::Result<()> {
    let said = qmp.human(line)?;
    let said = said.trim();
    let ok = if line.starts_with("hostfwd_remove") {
        said.ends_with(" removed")
    } else {
        said.is_empty()
    };
    if !ok {
        anyhow::bail!("`{line}`: {said}");
    }
    Ok(())
}

/// `from` lets go of its ports, `to` gives up its own and takes `ports`;
/// `to`'s record then names `ports`, so its later boots use them. On a
/// failure the steps done are undone (best effort) and nothing was moved.
pub fn take_over(from: &VmDir, to: &VmDir, ports: &[String]) -> anyhow::Result<()> {
    let old = from
        .record()?
        .context("the running VM has no record of its ports")?;
    let mut new = to.record()?.context("the new VM has no record")?;
    let connect = |dir: &VmDir| Qmp::connect(&dir.file(QMP_SOCKET), QMP_TIMEOUT);
    let (mut q_old, mut q_new) = (connect(from)?, connect(to)?);
    // The side ports first: nothing but mcp's check ever used them.
    for p in &new.ports {
        hmp(&mut q_new, &remove_line(p)?)?;
    }
    let mut released: Vec<&String> = Vec::new();
    let mut taken: Vec<&String> = Vec::new();
    let moved = (|| -> anyhow::Result<()> {
        for p in &old.ports {
            hmp(&mut q_old, &remove_line(p)?)?;
            released.push(p);
        }
        for p in ports {
            hmp(&mut q_new, &add_line(p)?)?;
            taken.push(p);
        }
        Ok(())
    })();
    if let Err(e) = moved {
        for p in taken {
            let _ = remove_line(p).and_then(|l| hmp(&mut q_new, &l));
        }
        for p in released {
            let _ = add_line(p).and_then(|l| hmp(&mut q_old, &l));
        }
        return Err(e.context("moving the ports to the new VM failed; the old VM has them back"));
    }
    new.ports = ports.to_vec();
    write_json(&to.file(RECORD), &new).context("recording the new VM's ports")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_name_the_rule_and_its_host_side() {
        assert_eq!(
            add_line("127.0.0.1:18080:8080").unwrap(),
            "hostfwd_add n0 tcp:127.0.0.1:18080-:8080"
        );
        assert_eq!(
            remove_line("127.0.0.1:18080:8080").unwrap(),
            "hostfwd_remove n0 tcp:127.0.0.1:18080"
        );
        assert_eq!(
            remove_line("53:53/udp").unwrap(),
            "hostfwd_remove n0 udp::53"
        );
    }
}

//! The qemu command line for one VM, and the choice of accelerator.
//! Pure functions: the host facts they need are passed in.

use std::path::Path;

use crate::model::{Accel, ResolvedAccel};

use super::vmstate::{QEMU_PIDFILE, QMP_SOCKET, SERIAL_LOG, VmRecord};

/// What the host offers, read once per boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostKvm {
    /// `/dev/kvm` opens read-write.
    pub usable: bool,
    /// `/sys/module/kvm_pvm` exists: a KVM that cannot run ordinary guests
    /// (they stop in `internal-error`), so `auto` avoids it.
    pub pvm: bool,
}

impl HostKvm {
    pub fn probe() -> Self {
        HostKvm {
            usable: std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/kvm")
                .is_ok(),
            pvm: Path::new("/sys/module/kvm_pvm").exists(),
        }
    }
}

/// The accelerator and CPU model for a boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub accel: ResolvedAccel,
    pub cpu: String,
}

pub fn choose_machine(accel: Accel, cpu: Option<&str>, host: HostKvm) -> Machine {
    let kvm = match accel {
        Accel::Kvm => true,
        Accel::Tcg => false,
        Accel::Auto => host.usable && !host.pvm,
    };
    let default_cpu = if !kvm {
        "max"
    } else if host.pvm {
        // kvm_pvm refuses plain `-cpu host`; without arch-capabilities qemu starts.
        "host,-arch-capabilities"
    } else {
        "host"
    };
    Machine {
        accel: if kvm {
            ResolvedAccel::Kvm
        } else {
            ResolvedAccel::Tcg
        },
        cpu: cpu.unwrap_or(default_cpu).to_string(),
    }
}

/// One `hostfwd` rule from a podman-style port spec `[ip:]host:guest[/proto]`.
/// A host IP binds that address only; without one qemu binds all addresses.
pub fn hostfwd(port: &str) -> anyhow::Result<String> {
    let (spec, proto) = match port.rsplit_once('/') {
        Some((s, p)) => (s, p),
        None => (port, "tcp"),
    };
    if proto != "tcp" && proto != "udp" {
        anyhow::bail!("port {port}: protocol must be tcp or udp");
    }
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (ip, host, guest) = match parts.as_slice() {
        [guest, host, ip] => (*ip, *host, *guest),
        [guest, host] => ("", *host, *guest),
        [guest] => ("", *guest, *guest),
        _ => anyhow::bail!("port {port} is not [ip:]host:guest"),
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip.contains(':') {
        anyhow::bail!(
            "port {port}: qemu's user-mode network forwards IPv4 host addresses only; use an IPv4 address or none"
        );
    }
    Ok(format!("{proto}:{ip}:{host}-:{guest}"))
}

/// The argv (after the program) that boots `vm`. Every path inside the state
/// directory is relative: qemu runs with that directory as its working
/// directory, so the VM survives a rename of it.
pub fn qemu_args(vm: &VmRecord, machine: &Machine) -> anyhow::Result<Vec<String>> {
    let mut netdev = "user,id=n0".to_string();
    for p in &vm.ports {
        netdev.push_str(",hostfwd=");
        netdev.push_str(&hostfwd(p)?);
    }
    let disk = vm
        .disk
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the disk path {} is not UTF-8", vm.disk.display()))?;
    if disk.contains(',') {
        anyhow::bail!("the disk path {disk} contains a comma, which qemu's -drive cannot take");
    }
    let a = |s: &str| s.to_string();
    Ok(vec![
        a("-name"),
        vm.qemu_name.clone(),
        a("-machine"),
        a("q35"),
        a("-accel"),
        a(machine.accel.as_str()),
        a("-cpu"),
        machine.cpu.clone(),
        a("-m"),
        vm.memory_mb.to_string(),
        a("-smp"),
        vm.vcpus.to_string(),
        a("-nodefaults"),
        a("-display"),
        a("none"),
        a("-no-reboot"),
        a("-device"),
        a("virtio-scsi-pci,id=scsi0"),
        a("-drive"),
        format!("file={disk},format=raw,if=none,id=hd0"),
        a("-device"),
        a("scsi-hd,bus=scsi0.0,drive=hd0"),
        a("-netdev"),
        netdev,
        a("-device"),
        a("virtio-net-pci,netdev=n0"),
        // The guest reports its program's exit code here (qemu exits (code<<1)|1).
        a("-device"),
        a("isa-debug-exit"),
        // append=on: rotation truncates the log while qemu keeps writing to it.
        a("-chardev"),
        format!("file,id=serial0,path={SERIAL_LOG},append=on"),
        a("-serial"),
        a("chardev:serial0"),
        a("-qmp"),
        format!("unix:{QMP_SOCKET},server=on,wait=off"),
        a("-pidfile"),
        a(QEMU_PIDFILE),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn accel_choice() {
        let pvm = HostKvm {
            usable: true,
            pvm: true,
        };
        let kvm = HostKvm {
            usable: true,
            pvm: false,
        };
        let none = HostKvm {
            usable: false,
            pvm: false,
        };
        assert_eq!(
            choose_machine(Accel::Auto, None, pvm).accel,
            ResolvedAccel::Tcg
        );
        assert_eq!(choose_machine(Accel::Auto, None, pvm).cpu, "max");
        assert_eq!(choose_machine(Accel::Auto, None, kvm).cpu, "host");
        assert_eq!(
            choose_machine(Accel::Auto, None, none).accel,
            ResolvedAccel::Tcg
        );
        assert_eq!(
            choose_machine(Accel::Kvm, None, pvm).cpu,
            "host,-arch-capabilities"
        );
        assert_eq!(
            choose_machine(Accel::Tcg, Some("qemu64"), kvm).cpu,
            "qemu64"
        );
    }

    #[test]
    fn hostfwd_honours_the_host_ip() {
        assert_eq!(
            hostfwd("127.0.0.1:18080:8080").unwrap(),
            "tcp:127.0.0.1:18080-:8080"
        );
        assert_eq!(hostfwd("8443:443/tcp").unwrap(), "tcp::8443-:443");
        assert_eq!(hostfwd("53:53/udp").unwrap(), "udp::53-:53");
        assert_eq!(hostfwd("9000").unwrap(), "tcp::9000-:9000");
        assert!(hostfwd("[::1]:80:80").is_err());
        assert!(hostfwd("80:80/sctp").is_err());
    }

    #[test]
    fn argv_for_a_vm() {
        let vm = VmRecord {
            labels: BTreeMap::new(),
            image: "r/uni:v1".into(),
            image_id: "abc".into(),
            program: "program/busybox".into(),
            ops_image: "mcp-web-vm-x-y".into(),
            disk: "/root/.ops/images/mcp-web-vm-x-y".into(),
            memory_mb: 256,
            vcpus: 2,
            ports: vec!["127.0.0.1:18080:8080".into(), "9090:90".into()],
            qemu_name: "web-vm".into(),
        };
        let m = choose_machine(Accel::Tcg, None, HostKvm::probe());
        let argv = qemu_args(&vm, &m).unwrap();
        let joined = argv.join(" ");
        assert!(joined.contains(
            "-netdev user,id=n0,hostfwd=tcp:127.0.0.1:18080-:8080,hostfwd=tcp::9090-:90"
        ));
        assert!(joined.contains("-accel tcg -cpu max -m 256 -smp 2"));
        assert!(joined.contains("-name web-vm"));
        assert!(joined.contains("file=/root/.ops/images/mcp-web-vm-x-y,format=raw"));
        assert!(joined.contains("-qmp unix:qmp.sock,server=on,wait=off"));
        assert!(joined.contains("-device isa-debug-exit"));
        assert!(joined.contains("-no-reboot"));
    }
}

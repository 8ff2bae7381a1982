//! What mcp asks of `ops`: the config JSON for `ops build`, the program and
//! arguments an OCI image implies, the image name, and the output line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::spec::ComponentSpec;

/// VM memory when the spec gives none.
pub const DEFAULT_MEMORY_MB: u32 = 256;
pub const DEFAULT_VCPUS: u32 = 1;

/// The OCI image config fields that decide what runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageConfig {
    pub id: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `K=V` entries.
    pub env: Vec<String>,
    pub working_dir: String,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The program (a path inside the image) and its arguments, by OCI rules:
/// the entrypoint, followed by the spec's `cmd` or else the image's CMD;
/// without an entrypoint the command's first word is the program.
pub fn program_and_args(
    image: &ImageConfig,
    spec_cmd: Option<&[String]>,
) -> anyhow::Result<(String, Vec<String>)> {
    let cmd: &[String] = spec_cmd.unwrap_or(&image.cmd);
    let mut argv: Vec<String> = image.entrypoint.clone();
    argv.extend(cmd.iter().cloned());
    let mut words = argv.into_iter();
    let program = words.next().filter(|p| !p.is_empty()).ok_or_else(|| {
        anyhow::anyhow!(
            "the image has no entrypoint and no command, and the spec gives no cmd: nothing to run"
        )
    })?;
    Ok((program, words.collect()))
}

/// The PATH an image sets, for resolving a bare program name.
pub fn image_path(image: &ImageConfig) -> Vec<String> {
    image
        .env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(String::from)
        .collect()
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    pub ports: Vec<String>,
    pub memory: String,
    #[serde(rename = "CPUs")]
    pub cpus: u32,
}

/// The ops config file. Only keys ops knows: it rejects unknown ones.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct OpsConfig {
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub run_config: RunConfig,
}

/// The config for `spec` running `args`: the image's environment overlaid
/// by the spec's (as podman does), the guest ports, memory and vCPUs.
pub fn ops_config(spec: &ComponentSpec, image: &ImageConfig, args: Vec<String>) -> OpsConfig {
    let mut env: BTreeMap<String, String> = image
        .env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut ports: Vec<String> = spec
        .ports
        .iter()
        .map(|p| p.container_port.to_string())
        .collect();
    ports.dedup();
    OpsConfig {
        args,
        env,
        run_config: RunConfig {
            ports,
            memory: format!("{}M", spec.memory_mb.unwrap_or(DEFAULT_MEMORY_MB)),
            cpus: spec.vcpus.unwrap_or(DEFAULT_VCPUS),
        },
    }
}

/// The `ops build -i` name. It carries the instance's identity, the spec
/// hash and the image id, so two services never share a name, and a
/// replacement (new image or spec) never overwrites the image the running
/// VM boots from; an unchanged spec and image map to the same name, which
/// is what lets `create` skip the rebuild.
pub fn image_name(service: &str, component: &str, spec_hash: &str, image_id: &str) -> String {
    let id = image_id.trim_start_matches("sha256:");
    let short = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    format!(
        "mcp-{service}-{component}-{}-{}",
        short(spec_hash, 12),
        short(id, 12)
    )
}

/// The disk path from `ops build` output (`Bootable image file:<path>`).
pub fn parse_build_output(stdout: &str) -> Option<PathBuf> {
    stdout.lines().find_map(|l| {
        let path = l.trim().strip_prefix("Bootable image file:")?.trim();
        (!path.is_empty()).then(|| PathBuf::from(path))
    })
}

/// A unikernel component with defaults, for unit tests.
#[cfg(test)]
pub(crate) fn test_spec(name: &str) -> ComponentSpec {
    ComponentSpec {
        name: name.into(),
        image: "127.0.0.1:5471/uni:v1".into(),
        runtime: crate::spec::RuntimeKind::Unikernel,
        network: None,
        user: None,
        restart: crate::spec::RestartPolicy::UnlessStopped,
        ports: vec![],
        volumes: vec![],
        cmd: None,
        env: BTreeMap::new(),
        memory_mb: None,
        vcpus: None,
        health: None,
        routes: vec![],
        requires: vec![],
        rollout: crate::spec::Rollout::StartFirst,
        stop_signal: None,
        stop_timeout: crate::spec::DEFAULT_STOP_TIMEOUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{PortSpec, Protocol};

    fn image() -> ImageConfig {
        ImageConfig {
            id: "sha256:0123456789abcdef0123".into(),
            entrypoint: vec!["/bin/busybox".into()],
            cmd: vec!["httpd".into(), "-f".into()],
            env: vec!["PATH=/bin".into(), "VERSION=v1".into()],
            ..ImageConfig::default()
        }
    }

    #[test]
    fn oci_entrypoint_and_cmd() {
        let img = image();
        assert_eq!(
            program_and_args(&img, None).unwrap(),
            ("/bin/busybox".into(), vec!["httpd".into(), "-f".into()])
        );
        let cmd = vec!["sh".to_string(), "-c".into(), "echo hi".into()];
        assert_eq!(
            program_and_args(&img, Some(&cmd)).unwrap().1,
            vec!["sh", "-c", "echo hi"]
        );
        let no_entry = ImageConfig {
            entrypoint: vec![],
            ..img.clone()
        };
        assert_eq!(
            program_and_args(&no_entry, None).unwrap(),
            ("httpd".into(), vec!["-f".into()])
        );
        let empty = ImageConfig::default();
        assert!(program_and_args(&empty, None).is_err());
        assert_eq!(image_path(&img), vec!["/bin"]);
    }

    #[test]
    fn config_json_has_only_keys_ops_knows() {
        let mut spec = test_spec("vm");
        spec.env.insert("VERSION".into(), "v9".into());
        spec.env.insert("MODE".into(), "it's \"quoted\"".into());
        spec.ports = vec![PortSpec {
            host_ip: Some("127.0.0.1".into()),
            host_port: 18080,
            container_port: 8080,
            protocol: Protocol::Tcp,
        }];
        spec.vcpus = Some(2);
        let cfg = ops_config(&spec, &image(), vec!["httpd".into()]);
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Args": ["httpd"],
                "Env": {"MODE": "it's \"quoted\"", "PATH": "/bin", "VERSION": "v9"},
                "RunConfig": {"Ports": ["8080"], "Memory": "256M", "CPUs": 2}
            })
        );
    }

    #[test]
    fn image_names_and_build_output() {
        assert_eq!(
            image_name("web", "vm", "aabbccddeeff0011", "sha256:0123456789abcdef"),
            "mcp-web-vm-aabbccddeeff-0123456789ab"
        );
        assert_ne!(
            image_name("web", "vm", "aa", "x"),
            image_name("web2", "vm", "aa", "x")
        );
        let out = "building...\nBootable image file:/root/.ops/images/mcp-web-vm\n";
        assert_eq!(
            parse_build_output(out),
            Some(PathBuf::from("/root/.ops/images/mcp-web-vm"))
        );
        assert_eq!(parse_build_output("no such line"), None);
    }
}

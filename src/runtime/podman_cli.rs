//! The one podman client both runtimes share for images and inspection:
//! typed answers, and every call bounded by the `[podman]` timeouts.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::exec::Tool;
use super::ops::ImageConfig;
use crate::model::Timeouts;

#[derive(Debug, Clone)]
pub struct PodmanCli {
    pub tool: Tool,
    pub timeouts: Timeouts,
}

/// `podman image inspect`, the parts mcp reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageInspect {
    #[serde(default)]
    id: String,
    #[serde(default)]
    config: ImageInspectConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageInspectConfig {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Option<Vec<String>>,
    #[serde(default)]
    working_dir: String,
    labels: Option<BTreeMap<String, String>>,
}

/// `podman container inspect`, the parts that describe a component.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    #[serde(default)]
    pub image_name: String,
    /// The process that runs: `Path` and `Args` (entrypoint and command).
    #[serde(default)]
    pub path: String,
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub pod: String,
    #[serde(default)]
    pub config: ContainerConfig,
    #[serde(default)]
    pub host_config: HostConfig,
    #[serde(default)]
    pub network_settings: NetworkSettings,
    #[serde(default)]
    pub mounts: Option<Vec<Mount>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub user: String,
    pub cmd: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: String,
    pub labels: Option<BTreeMap<String, String>>,
    /// The argv the container was created with, when podman's CLI made it.
    pub create_command: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    #[serde(default)]
    pub restart_policy: Option<RestartPolicy>,
    /// `"8080/tcp"` -> the host addresses it is published on.
    #[serde(default)]
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    #[serde(default)]
    pub memory: u64,
    #[serde(default)]
    pub nano_cpus: u64,
    #[serde(default)]
    pub privileged: bool,
    pub cap_add: Option<Vec<String>>,
    pub devices: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub readonly_rootfs: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    #[serde(default)]
    pub host_ip: String,
    #[serde(default)]
    pub host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    #[serde(default)]
    pub networks: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    #[serde(default)]
    pub r#type: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub destination: String,
    #[serde(rename = "RW", default)]
    pub rw: Option<bool>,
}

/// The first object of an inspect array.
fn first<T: DeserializeOwned>(json: &str, what: &str) -> anyhow::Result<T> {
    let all: Vec<T> =
        serde_json::from_str(json).with_context(|| format!("parsing podman {what} output"))?;
    all.into_iter()
        .next()
        .with_context(|| format!("podman {what} returned nothing"))
}

impl PodmanCli {
    pub fn image_exists(&self, image: &str) -> anyhow::Result<bool> {
        let out = self.tool.capture(
            &["image".into(), "exists".into(), image.into()],
            self.timeouts.call,
        )?;
        Ok(out.code == Some(0))
    }

    /// Pulls `image`; returns the id podman reports for it.
    pub fn pull(&self, image: &str) -> anyhow::Result<Option<String>> {
        let out = self
            .tool
            .run(["pull", "--quiet", image], self.timeouts.pull)
            .with_context(|| format!("pulling {image}"))?;
        Ok(out.lines().last().map(|l| l.trim().to_string()))
    }

    pub fn inspect_image(&self, image: &str) -> anyhow::Result<ImageConfig> {
        let out = self
            .tool
            .run(["image", "inspect", image], self.timeouts.call)
            .with_context(|| format!("inspecting image {image}"))?;
        let i: ImageInspect = first(&out, "image inspect")?;
        Ok(ImageConfig {
            id: i.id,
            entrypoint: i.config.entrypoint.unwrap_or_default(),
            cmd: i.config.cmd.unwrap_or_default(),
            env: i.config.env.unwrap_or_default(),
            working_dir: i.config.working_dir,
            labels: i.config.labels.unwrap_or_default(),
        })
    }

    pub fn inspect_container(&self, name: &str) -> anyhow::Result<ContainerInspect> {
        let out = self
            .tool
            .run(["container", "inspect", name], self.timeouts.call)
            .with_context(|| format!("inspecting container {name}"))?;
        first(&out, "container inspect")
    }

    /// Creates a container that is never started, to copy files out of.
    pub fn create_scratch(&self, name: &str, image: &str) -> anyhow::Result<()> {
        self.tool
            .run(["create", "--name", name, image], self.timeouts.pull)?;
        Ok(())
    }

    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        self.tool
            .run(["rm", "--force", name], self.timeouts.call)
            .with_context(|| format!("removing container {name}"))?;
        Ok(())
    }

    /// `podman cp CONTAINER:SOURCE DEST`.
    pub fn cp(&self, container: &str, source: &str, dest: &Path) -> anyhow::Result<()> {
        self.tool.run(
            [
                std::ffi::OsString::from("cp"),
                format!("{container}:{source}").into(),
                dest.into(),
            ],
            self.timeouts.call,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_of_container_inspect_that_describe_a_component() {
        let json = r#"[{"ImageName":"r:5000/web:v1","Config":{"Image":"r:5000/web:v1","User":"1000",
            "Cmd":["httpd","-f"],"Env":["PATH=/bin","A=b"]},
            "HostConfig":{"RestartPolicy":{"Name":"always"},"Memory":536870912,"NanoCpus":2000000000,
            "PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}],"53/udp":null}},
            "NetworkSettings":{"Networks":{"mcpnet":{}}},
            "Mounts":[{"Type":"bind","Source":"/srv","Destination":"/data","RW":false}]}]"#;
        let c: ContainerInspect = first(json, "container inspect").unwrap();
        assert_eq!(c.image_name, "r:5000/web:v1");
        assert_eq!(
            c.config.cmd.as_deref(),
            Some(&["httpd".to_string(), "-f".into()][..])
        );
        assert_eq!(c.host_config.restart_policy.unwrap().name, "always");
        let ports = c.host_config.port_bindings.unwrap();
        assert_eq!(ports["80/tcp"].as_ref().unwrap()[0].host_port, "8080");
        assert!(ports["53/udp"].is_none());
        assert_eq!(c.host_config.nano_cpus, 2_000_000_000);
        assert!(c.network_settings.networks.unwrap().contains_key("mcpnet"));
        assert_eq!(c.mounts.unwrap()[0].rw, Some(false));
        let empty: Result<ContainerInspect, _> = first("[]", "container inspect");
        assert!(empty.is_err());
    }
}

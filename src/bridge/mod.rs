//! Bridges to and from other tools: `mcp import compose` (compose-spec → service
//! files) and `mcp export kube` (service files → Kubernetes YAML).

pub mod compose;
mod compose_items;
mod compose_mounts;
mod compose_service;
#[cfg(test)]
mod compose_tests;
mod compose_top;
pub mod interp;
pub mod kube;
mod kube_extra;
#[cfg(test)]
mod kube_tests;
pub mod kube_yaml;
pub mod toml_out;
pub mod values;
pub mod yaml;

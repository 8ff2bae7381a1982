//! One record of a component as mcp wants it or last deployed it: the
//! runtime-relevant spec, the parsed image reference, the health gate and
//! the routes, stored whole as one JSON column (`record` for what the
//! service file declares, `deployed` for what was last rolled out), and one
//! typed field-by-field diff that commands format.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::ImageRef;
use crate::spec::hash::RuntimeSpec;
use crate::spec::{ComponentSpec, HealthCheck, Route};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentRecord {
    pub image: ImageRef,
    pub spec: RuntimeSpec,
    #[serde(default)]
    pub health: Option<HealthCheck>,
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// One difference between two records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Image {
        from: ImageRef,
        to: ImageRef,
    },
    /// A runtime field, with both values as shown.
    Field {
        name: &'static str,
        from: String,
        to: String,
    },
    /// Environment values are secrets: only the keys whose value changed.
    Env {
        keys: Vec<String>,
    },
    Health,
    Routes,
}

impl Change {
    /// The runtime field this change is about, if any (for causes like
    /// `spec changed: ports, env`; the image is reported on its own).
    pub fn runtime_field(&self) -> Option<&'static str> {
        match self {
            Change::Field { name, .. } => Some(name),
            Change::Env { .. } => Some("env"),
            Change::Image { .. } | Change::Health | Change::Routes => None,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Image { from, to } => write!(f, "image: {from} -> {to}"),
            Change::Field { name, from, to } => write!(f, "{name}: {from} -> {to}"),
            Change::Env { keys } => write!(f, "env: changed {}", keys.join(", ")),
            Change::Health => f.write_str("health check changed"),
            Change::Routes => f.write_str("routes changed"),
        }
    }
}

fn json<T: Serialize>(v: &T) -> String {
    // Invariant: lists of strings serialize to JSON without error.
    serde_json::to_string(v).expect("spec values serialize")
}

impl ComponentRecord {
    pub fn of(c: &ComponentSpec) -> Self {
        ComponentRecord {
            image: ImageRef::parse(&c.image),
            spec: RuntimeSpec::of(c),
            health: c.health.clone(),
            routes: c.routes.clone(),
        }
    }

    /// What changed from `self` to `new`: the image, then the runtime fields
    /// in their canonical order, then the health gate and the routes.
    pub fn diff(&self, new: &ComponentRecord) -> Vec<Change> {
        let mut out = Vec::new();
        if self.image != new.image {
            out.push(Change::Image {
                from: self.image.clone(),
                to: new.image.clone(),
            });
        }
        let (a, b) = (&self.spec, &new.spec);
        let mut field = |name: &'static str, from: String, to: String| {
            if from != to {
                out.push(Change::Field { name, from, to });
            }
        };
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
        let num = |n: Option<u32>| n.map_or("none".into(), |n| n.to_string());
        field("runtime", a.runtime.to_string(), b.runtime.to_string());
        field("network", opt(&a.network), opt(&b.network));
        field("user", opt(&a.user), opt(&b.user));
        field("restart", a.restart.clone(), b.restart.clone());
        field("ports", json(&a.ports), json(&b.ports));
        field("volumes", json(&a.volumes), json(&b.volumes));
        field(
            "cmd",
            opt(&a.cmd.as_ref().map(json)),
            opt(&b.cmd.as_ref().map(json)),
        );
        if a.env != b.env {
            let keys: BTreeSet<&String> = a
                .env
                .keys()
                .chain(b.env.keys())
                .filter(|k| a.env.get(*k) != b.env.get(*k))
                .collect();
            out.push(Change::Env {
                keys: keys.into_iter().cloned().collect(),
            });
        }
        let mut field = |name: &'static str, from: String, to: String| {
            if from != to {
                out.push(Change::Field { name, from, to });
            }
        };
        field("memory_mb", num(a.memory_mb), num(b.memory_mb));
        field("vcpus", num(a.vcpus), num(b.vcpus));
        field("stop_signal", opt(&a.stop_signal), opt(&b.stop_signal));
        let secs = |n: Option<u64>| n.map_or("default".into(), |n| format!("{n}s"));
        field("stop_timeout", secs(a.stop_timeout), secs(b.stop_timeout));
        // Compared as stored: the record keeps whole seconds of the timeout.
        if json(&self.health) != json(&new.health) {
            out.push(Change::Health);
        }
        if self.routes != new.routes {
            out.push(Change::Routes);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> ComponentRecord {
        let mut reader = crate::spec::parse::FileReader::new(std::path::Path::new("t.toml"), text);
        let spec = reader.read_service("t").expect("parses").spec;
        ComponentRecord::of(&spec.components[0])
    }

    #[test]
    fn the_diff_names_each_changed_field_and_never_an_env_value() {
        let old = record(
            "[[components]]\nname = \"a\"\nimage = \"r/a:v1\"\nports = [\"8080:80\"]\nenv = { K = \"secret1\", Same = \"x\" }\n",
        );
        let new = record(
            "[[components]]\nname = \"a\"\nimage = \"r/a:v2\"\nports = [\"8081:80\"]\nenv = { K = \"secret2\", Same = \"x\" }\nmemory_mb = 64\n[components.health]\ntcp = 8081\n",
        );
        let lines: Vec<String> = old.diff(&new).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "image: r/a:v1 -> r/a:v2",
                "ports: [\"8080:80\"] -> [\"8081:80\"]",
                "env: changed K",
                "memory_mb: none -> 64",
                "health check changed",
            ]
        );
        let fields: Vec<&str> = old
            .diff(&new)
            .iter()
            .filter_map(Change::runtime_field)
            .collect();
        assert_eq!(fields, ["ports", "env", "memory_mb"]);
        assert!(old.diff(&old).is_empty());
    }

    #[test]
    fn a_record_survives_its_json() {
        let r = record(
            "[[components]]\nname = \"a\"\nimage = \"r:5000/a:v1\"\ncmd = [\"x\"]\n[components.health]\nhttp = \"http://127.0.0.1:1/\"\ntimeout = \"7s\"\n[[components.routes]]\nport = 80\nhostname = \"a.example\"\n",
        );
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<ComponentRecord>(&json).unwrap(), r);
    }
}

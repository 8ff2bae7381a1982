//! Golden outputs of `export kube` from service files that use every exported key.

use std::path::Path;

use super::kube::export;
use super::kube_yaml::print_documents;
use crate::spec::ServiceSpec;

fn service(name: &str, toml: &str) -> ServiceSpec {
    let file = Path::new("/etc/mcp/services").join(format!("{name}.toml"));
    let mut reader = crate::spec::parse::FileReader::new(&file, toml);
    let parsed = reader.read_service(name);
    assert!(reader.diagnostics.is_empty(), "{:?}", reader.diagnostics);
    parsed.expect("parsed").spec
}

fn shop() -> Vec<ServiceSpec> {
    vec![
        service(
            "shop",
            r#"
[[components]]
name = "db"
image = "registry.example:5000/postgres:15"
user = "999:999"
restart = "always"
volumes = ["shop_pgdata:/var/lib/postgresql/data", "/etc/localtime:/etc/localtime:ro"]
memory_mb = 512
vcpus = 2
stop_signal = "SIGINT"
stop_timeout = "90s"
env = { POSTGRES_PASSWORD = "s3cret: \"quoted\"" }
[components.health]
cmd = ["pg_isready", "-U", "postgres"]
interval = "2s"
timeout = "60s"

[[components]]
name = "web_front"
image = "registry.example:5000/web:v2"
restart = "on-failure"
ports = ["127.0.0.1:8080:80", "8443:443", "[::1]:5353:53/udp"]
cmd = ["httpd", "-f", "-p", "80"]
[components.health]
http = "http://127.0.0.1:8080/healthz"
"#,
        ),
        service(
            "edge",
            r#"
[[components]]
name = "vm"
image = "registry.example:5000/uni:v1"
runtime = "unikernel"
ports = ["9000:8080"]

[[components]]
name = "proxy"
image = "registry.example:5000/proxy:v1"
user = "proxy"
ports = ["9001:9001"]
[components.health]
tcp = 9001
"#,
        ),
    ]
}

fn report(deployment: bool) -> String {
    let out = export(&shop(), deployment);
    let mut text = print_documents(&out.documents);
    text.push_str("# --- stderr ---\n");
    for n in &out.notes {
        text.push_str(&format!("# {n}\n"));
    }
    text
}

#[test]
fn golden_pods() {
    let text = report(false);
    // What is printed is YAML that reads back (our own reader is strict).
    for doc in text
        .split("---\n")
        .filter(|d| !d.trim().is_empty() && !d.starts_with('#'))
    {
        super::yaml::parse(doc).unwrap_or_else(|e| panic!("{e:?}\n{doc}"));
    }
    insta::assert_snapshot!(text);
}

#[test]
fn golden_deployments() {
    insta::assert_snapshot!(report(true));
}

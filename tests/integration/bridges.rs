//! `mcp import compose` and `mcp export kube` against real podman: the imported file
//! validates and `mcp sync` serves it; the exported YAML runs under `podman kube play`.

use std::path::{Path, PathBuf};

use crate::support::Host;

fn compose_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compose")
        .join(name)
}

/// `mcp import compose` with REGISTRY (and the given variables) set as a user would.
fn import(
    host: &Host,
    file: &Path,
    vars: &[(&str, String)],
    extra: &[&str],
) -> crate::support::Output {
    let mut cmd = host.mcp_command();
    cmd.env("REGISTRY", host.registry());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.args(["import", "compose"]).arg(file).args(extra);
    host.run(cmd)
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A shell pipeline `mcp <global flags> ARGS | podman kube play -` on this host.
fn pipe_to_kube_play(host: &Host, mcp_args: &str) -> crate::support::Output {
    let mcp = host.mcp_command();
    let mut line: Vec<String> = vec![sh_quote(&mcp.get_program().to_string_lossy())];
    line.extend(mcp.get_args().map(|a| sh_quote(&a.to_string_lossy())));
    let script = format!(
        "set -o pipefail; {} {mcp_args} | podman kube play -",
        line.join(" ")
    );
    let mut cmd = host.command("bash");
    cmd.args(["-c", &script]);
    host.run(cmd)
}

#[test]
fn import_build_only_service_is_refused_at_its_line_and_force_writes_the_rest() {
    let host = Host::new();
    let port = host.free_port();
    let file = compose_fixture("build.yaml");
    let vars = [("WEB_PORT", port.to_string())];
    let out = import(&host, &file, &vars, &["--project", "site"])
        .expect_code(65)
        .stderr_has("build.yaml:6:12: error: services.builder: `build:` without `image:`")
        .stderr_has("nothing written");
    assert!(out.stdout.is_empty(), "{out}");
    assert!(!host.services_dir().join("site.toml").exists());
    assert_eq!(std::fs::read_dir(host.services_dir()).unwrap().count(), 0);

    host.create_network("site_default");
    import(&host, &file, &vars, &["--project", "site", "--force"])
        .success()
        .stderr_has("left out because of the errors above: builder")
        .stdout_has("service site with 1 component (web)");
    host.mcp(["validate"]).success();
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");
}

fn web_service(host: &Host, port: u16) -> String {
    format!(
        r#"[[components]]
name = "front"
image = "{image}"
restart = "always"
ports = ["127.0.0.1:{port}:8080"]
volumes = ["site_cache:/var/cache/site"]
memory_mb = 64
vcpus = 1

[components.health]
http = "http://127.0.0.1:{port}/"
timeout = "20s"
"#,
        image = host.image("v2")
    )
}

#[test]
fn export_kube_web_plays_in_podman_and_serves() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_service(&host, port));
    host.write_service(
        "other",
        &format!(
            "[[components]]\nname = \"x\"\nimage = \"{}\"\n",
            host.image("v1")
        ),
    );
    // kube play puts pods on this network (see Host::create_network).
    host.create_network("podman-default-kube-network");
    let yaml = host.mcp(["export", "kube", "web"]).success();
    assert!(
        !yaml.stdout.contains("other"),
        "only the named service: {yaml}"
    );

    pipe_to_kube_play(&host, "export kube web").success();
    host.assert_serves(port, "v2");
    let limits = host
        .podman([
            "inspect",
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}",
            "web-front",
        ])
        .success();
    assert_eq!(limits.out(), format!("{} 1000000000", 64 << 20));

    // The same as a Deployment, once the pod and its claim's volume are gone (kube play
    // creates the claims it is given and refuses to create one twice).
    host.podman(["pod", "rm", "-f", "web"]).success();
    host.podman(["volume", "rm", "site-cache"]).success();
    assert_eq!(host.curl_once(port), None);
    pipe_to_kube_play(&host, "export kube --deployment web").success();
    host.assert_serves(port, "v2");
}

#[test]
fn export_kube_puts_env_in_a_secret_and_lists_unikernels_on_stderr() {
    let host = Host::new();
    host.write_service(
        "api",
        &format!(
            r#"[[components]]
name = "app"
image = "{image}"
ports = ["127.0.0.1:18090:8080"]
env = {{ GREETING = "hello from a secret", "QUOTED" = "a \"b\" : c" }}

[[components]]
name = "vm"
image = "{image}"
runtime = "unikernel"
ports = ["18091:8080"]
"#,
            image = host.image("v1")
        ),
    );
    let out = host
        .mcp(["export", "kube", "--deployment"])
        .success()
        .stderr_has("not exportable: api/vm: a unikernel");
    let docs: Vec<&str> = out
        .stdout
        .split("---\n")
        .filter(|d| !d.is_empty())
        .collect();
    assert_eq!(docs.len(), 2, "{out}");
    assert!(
        docs[0].contains("kind: \"Secret\"")
            && docs[0].contains("app.GREETING: \"hello from a secret\""),
        "{out}"
    );
    assert!(docs[1].contains("kind: \"Deployment\""), "{out}");
    assert!(
        !docs[1].contains("hello from a secret"),
        "env values stay out of the pod: {out}"
    );
    assert!(docs[1].contains("secretKeyRef"), "{out}");
    assert!(!out.stdout.contains("\"vm\""), "{out}");

    let json = host
        .mcp(["--json", "export", "kube", "api"])
        .success()
        .json();
    assert_eq!(json["documents"][0]["kind"], "Secret");
    assert_eq!(
        json["documents"][0]["stringData"]["app.QUOTED"],
        "a \"b\" : c"
    );
    assert!(
        json["notes"][0].as_str().unwrap().contains("api/vm"),
        "{json:#}"
    );
}

/// Imports tests/compose/three.yaml as service `shop` with the ports given.
fn import_three(host: &Host, app_port: u16, web_port: u16) {
    if host.podman(["network", "exists", "shop_default"]).code != 0 {
        host.create_network("shop_default");
    }
    let vars = [
        ("APP_PORT", app_port.to_string()),
        ("WEB_PORT", web_port.to_string()),
    ];
    import(host, &compose_fixture("three.yaml"), &vars, &[])
        .success()
        .stdout_has("service shop with 3 components (db, app, web)");
}

#[test]
fn import_three_services_validates_requires_the_db_and_sync_serves() {
    let host = Host::new();
    let (app_port, web_port) = (host.free_port(), host.free_port());
    import_three(&host, app_port, web_port);
    let written = std::fs::read_to_string(host.services_dir().join("shop.toml")).unwrap();
    assert!(written.contains("requires = [\"shop/db\"]"), "{written}");
    assert!(written.contains("cmd = [\"wget\""), "{written}");
    host.mcp(["validate"])
        .success()
        .stdout_has("1 service, 3 components: valid");

    host.mcp(["sync"]).success();
    host.assert_serves(app_port, "v2");
    host.assert_serves(web_port, "v1");
    let status = host.mcp(["--json", "status", "--check"]).success().json();
    for c in status["components"].as_array().unwrap() {
        assert_eq!(c["observed"], "running", "{status:#}");
    }
    // Importing again without --force refuses to replace the file.
    import(&host, &compose_fixture("three.yaml"), &[], &[])
        .expect_code(2)
        .stderr_has("shop.toml exists; --force replaces it");
}

/// What a user can observe of the three services: the published ports, the env the
/// file set, and the named volumes with their mount points. (Answers on the ports are
/// checked for mcp's containers; podman-compose does not retry a port forward that
/// netavark 1.4 loses to a parallel test's teardown, so its answers would be flaky.)
fn observe(host: &Host, container: impl Fn(&str) -> String) -> Vec<String> {
    let mut seen = Vec::new();
    for svc in ["db", "app", "web"] {
        let name = container(svc);
        let env = host
            .podman(["exec", &name, "sh", "-c", "echo ROLE=$ROLE DB_URL=$DB_URL"])
            .success();
        seen.push(format!("{svc}: {}", env.out()));
        let mounts = host
            .podman([
                "inspect",
                "--format",
                "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}};{{end}}",
                &name,
            ])
            .success();
        seen.push(format!("{svc} mounts: {}", mounts.out()));
        let ports = host.podman(["port", &name]).success();
        seen.push(format!("{svc} ports: {}", ports.out()));
    }
    seen
}

#[test]
fn import_runs_what_podman_compose_runs_from_the_same_file() {
    let host = Host::new();
    let ports = (host.free_port(), host.free_port());
    let file = compose_fixture("three.yaml");
    let compose = |args: &[&str]| {
        let mut cmd = host.command("podman-compose");
        cmd.env("REGISTRY", host.registry())
            .env("APP_PORT", ports.0.to_string())
            .env("WEB_PORT", ports.1.to_string())
            // podman-compose 1.0.3 ignores `name:`; the project is given here.
            .args(["-p", "shop", "-f"])
            .arg(&file)
            .args(args);
        host.run(cmd)
    };
    host.create_network("shop_default");
    compose(&["up", "-d"]).success();
    let by_compose = observe(&host, |svc| format!("shop_{svc}_1"));
    compose(&["down"]).success();
    host.podman(["volume", "rm", "-a"]).success();
    // podman-compose down removes the network it used.

    import_three(&host, ports.0, ports.1);
    host.mcp(["sync"]).success();
    let by_mcp = observe(&host, |svc| format!("shop-{svc}"));
    assert_eq!(by_mcp, by_compose);
    assert!(
        by_mcp.contains(&format!("web ports: 8080/tcp -> 127.0.0.1:{}", ports.1)),
        "{by_mcp:#?}"
    );
    host.assert_serves(ports.0, "v2");
    host.assert_serves(ports.1, "v1");
    assert!(
        by_mcp
            .iter()
            .any(|l| l.contains("volume shop_content /srv/content true")),
        "{by_mcp:#?}"
    );
}

#[test]
fn import_reads_dot_env_beside_the_file_and_dry_run_writes_nothing() {
    let host = Host::new();
    let dir = host.root().join("project");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join(".env"), "TAG=v2\nPORT=18123\n").unwrap();
    std::fs::write(dir.join("app.env"), "FROM_FILE=yes\n").unwrap();
    let file = dir.join("compose.yaml");
    std::fs::write(
        &file,
        "services:\n  api:\n    image: ${REGISTRY}/web:${TAG}\n    env_file: app.env\n    ports: [\"127.0.0.1:${PORT}:8080\"]\n    volumes: [\"./data:/data\"]\n",
    )
    .unwrap();
    // The shell's variables win over .env.
    let out = import(&host, &file, &[("PORT", "18124".into())], &["--dry-run"]).success();
    assert!(
        out.stdout
            .contains(&format!("image = \"{}\"", host.image("v2"))),
        "{out}"
    );
    assert!(
        out.stdout.contains("ports = [\"127.0.0.1:18124:8080\"]"),
        "{out}"
    );
    assert!(out.stdout.contains("FROM_FILE = \"yes\""), "{out}");
    let data = dir.join("data");
    assert!(
        out.stdout
            .contains(&format!("volumes = [\"{}:/data\"]", data.display())),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(host.services_dir()).unwrap().count(), 0);

    // A required variable that is missing: exit 65 at its line, as JSON for scripts.
    std::fs::write(
        &file,
        "services:\n  api:\n    image: ${IMAGE:?name the image}\n",
    )
    .unwrap();
    let out = import(&host, &file, &[], &["--project", "api"]);
    let out = out.expect_code(65);
    assert!(out.stderr.contains("compose.yaml:3:12: error: services.api.image: variable IMAGE is required: name the image"), "{out}");
    let mut cmd = host.mcp_command();
    cmd.args(["--json", "import", "compose"]).arg(&file);
    let json = host.run(cmd).expect_code(65).json();
    assert_eq!(json["written"], false);
    assert_eq!(json["findings"][0]["line"], 3);
    assert_eq!(json["findings"][0]["severity"], "error");
}

#[test]
fn import_refuses_a_file_that_clashes_with_the_services_directory() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service(
        "old",
        &format!(
            "[[components]]\nname = \"web\"\nimage = \"{}\"\nports = [\"127.0.0.1:{port}:8080\"]\n",
            host.image("v1")
        ),
    );
    let out = import(
        &host,
        &compose_fixture("build.yaml"),
        &[("WEB_PORT", port.to_string())],
        &["--project", "site", "--force"],
    )
    .expect_code(65)
    .stderr_has("nothing written: ");
    assert!(out.stderr.contains("site.toml:"), "{out}");
    assert!(out.stderr.contains("already published by old/web"), "{out}");
    assert!(
        !out.stderr.contains("mcp-import."),
        "names the services dir, not a scratch copy: {out}"
    );
    assert!(!host.services_dir().join("site.toml").exists());
    host.mcp(["validate"]).success();
}

/// Env values are secrets: an imported service file holding them is the
/// owner's alone (0600, as `adopt --write-spec` writes one); one without
/// them stays readable (0644).
#[test]
fn an_imported_file_with_env_values_is_written_private() {
    use std::os::unix::fs::PermissionsExt;
    let host = Host::new();
    let dir = host.root().join("secrets-project");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("compose.yaml");
    let mode = |service: &str| {
        let path = host.services_dir().join(format!("{service}.toml"));
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777
    };
    std::fs::write(
        &file,
        "services:\n  api:\n    image: ${REGISTRY}/web:v1\n    environment:\n      DB_PASSWORD: hunter2\n",
    )
    .unwrap();
    import(&host, &file, &[], &["--project", "withenv"]).success();
    assert_eq!(mode("withenv"), 0o600);
    std::fs::write(&file, "services:\n  api:\n    image: ${REGISTRY}/web:v1\n").unwrap();
    import(&host, &file, &[], &["--project", "plain"]).success();
    assert_eq!(mode("plain"), 0o644);
    // --force over the private file with a file that has no env: readable again.
    import(&host, &file, &[], &["--project", "withenv", "--force"]).success();
    assert_eq!(mode("withenv"), 0o644);
}

//! The registry half of sync (foundation): change summaries, `no changes`,
//! invalid input that changes nothing, and the registry's file mode.

use std::os::unix::fs::PermissionsExt;

use crate::support::Host;

/// An inactive service: the registry is written, no container is created.
fn inactive_web(host: &Host, tag: &str) -> String {
    format!(
        "active = false\ncomment = \"web site\"\n\n[[components]]\nname = \"api\"\nimage = \"{}\"\n",
        host.image(tag)
    )
}

#[test]
fn second_sync_reports_no_changes_and_an_image_change_is_named() {
    let host = Host::new();
    host.write_service("web", &inactive_web(&host, "v1"));
    host.mcp(["sync"])
        .success()
        .stdout_has("created service")
        .stdout_has("created component api (v1)");
    let again = host.mcp(["sync"]).success();
    assert_eq!(again.out(), "no changes");

    host.write_service("web", &inactive_web(&host, "v2"));
    host.mcp(["sync"]).success().stdout_has(&format!(
        "api: image: {} -> {}",
        host.image("v1"),
        host.image("v2")
    ));
    assert_eq!(host.mcp(["sync"]).success().out(), "no changes");
}

#[test]
fn comment_and_active_changes_are_summarised_per_service() {
    let host = Host::new();
    host.write_service("web", &inactive_web(&host, "v1"));
    host.mcp(["sync"]).success();
    host.write_service(
        "web",
        &inactive_web(&host, "v1").replace("web site", "the public web site"),
    );
    let out = host.mcp(["--json", "sync"]).success().json();
    let services = out["services"].as_array().unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["service"], "web");
    assert_eq!(services[0]["kind"], "updated");
    assert_eq!(services[0]["changes"][0], "comment changed");
    assert!(out["actions"].as_array().unwrap().is_empty());
}

#[test]
fn misspelt_key_on_line_4_exits_65_and_leaves_the_registry_byte_for_byte() {
    let host = Host::new();
    host.write_service("web", &inactive_web(&host, "v1"));
    host.mcp(["sync"]).success();
    let before = std::fs::read(host.db_path()).unwrap();

    host.write_service(
        "bad",
        "[[components]]\nname = \"api\"\nimage = \"busybox\"\nimgae = \"busybox:2\"\n",
    );
    host.mcp(["sync"])
        .expect_code(65)
        .stderr_has("bad.toml:4:1: unknown key `imgae` in component")
        .stderr_has("did you mean `image`?");
    host.mcp(["validate"])
        .expect_code(65)
        .stderr_has("bad.toml:4");
    let after = std::fs::read(host.db_path()).unwrap();
    assert!(before == after, "the registry changed after invalid input");
}

#[test]
fn registry_file_has_mode_0600() {
    let host = Host::new();
    host.write_service("web", &inactive_web(&host, "v1"));
    host.mcp(["sync"]).success();
    let mode = std::fs::metadata(host.db_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "registry mode is {mode:o}");
}

#[test]
fn validate_reports_valid_specs_and_json() {
    let host = Host::new();
    host.write_service("web", &inactive_web(&host, "v1"));
    host.mcp(["validate"])
        .success()
        .stdout_has("1 service, 1 component: valid");
    let json = host.mcp(["--json", "validate"]).success().json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["services"][0], "web");
}

#[test]
fn removed_service_is_reported_until_pruned() {
    let host = Host::new();
    host.write_service("web", &inactive_web(&host, "v1"));
    host.write_service("old", &inactive_web(&host, "v1"));
    host.mcp(["sync"]).success();
    host.remove_service("old");
    // Reported on stderr: a kept orphan is not a change (issue 16).
    host.mcp(["sync"])
        .success()
        .stderr_has("old: its service file is gone; kept as it is (sync --prune removes it)");
    host.mcp(["sync", "--prune"])
        .success()
        .stdout_has("removed service");
    assert_eq!(host.mcp(["sync"]).success().out(), "no changes");
}

//! `requires` on real podman: a database that takes ~3 s to listen is
//! healthy before the app that requires it is even created, and stopping
//! the database stops the app first.

use crate::support::{Host, position};

/// `db/main` listens on 8080 only 3 s after it starts (its tcp check fails
/// until then); `app/web` requires the service `db`.
fn write(host: &Host, db_port: u16, app_port: u16) {
    host.write_service(
        "db",
        &format!(
            r#"[[components]]
name = "main"
image = "{image}"
restart = "no"
ports = ["127.0.0.1:{db_port}:8080"]
cmd = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; sleep 3 & wait $!; httpd -f -p 8080 -h /www & wait"]
[components.health]
tcp = {db_port}
timeout = "60s"
"#,
            image = host.image("v1")
        ),
    );
    host.write_service(
        "app",
        &format!(
            r#"[[components]]
name = "web"
image = "{image}"
restart = "no"
requires = ["db"]
ports = ["127.0.0.1:{app_port}:8080"]
[components.health]
tcp = {app_port}
timeout = "30s"
"#,
            image = host.image("v2")
        ),
    );
}

/// A time podman keeps about a container (`Created`, `State.StartedAt`), in
/// seconds since the epoch.
fn podman_time(host: &Host, name: &str, field: &str) -> f64 {
    let out = host
        .podman([
            "inspect",
            "--format",
            &format!("{{{{.{field}.UnixNano}}}}"),
            name,
        ])
        .success();
    let nanos: f64 = out.out().parse().unwrap_or_else(|_| panic!("{out}"));
    nanos / 1e9
}

#[test]
fn an_app_is_created_only_after_the_database_it_requires_passed_its_check() {
    let host = Host::new();
    let (db_port, app_port) = (host.free_port(), host.free_port());
    write(&host, db_port, app_port);

    // The dry run shows the order and what waits for what.
    let plan = host
        .mcp(["--json", "sync", "--dry-run"])
        .expect_code(3)
        .json();
    let actions = plan["actions"].as_array().unwrap();
    let at = |c: &str| {
        actions
            .iter()
            .position(|a| {
                format!(
                    "{}/{}",
                    a["service"].as_str().unwrap(),
                    a["component"].as_str().unwrap()
                ) == c
            })
            .unwrap_or_else(|| panic!("{c} not planned: {plan:#}"))
    };
    assert!(at("db/main") < at("app/web"), "{plan:#}");
    assert_eq!(
        actions[at("app/web")]["after"],
        serde_json::json!(["db/main"])
    );
    host.mcp(["sync", "--dry-run"])
        .expect_code(3)
        .stdout_has("(after db/main)");

    // -j 4: the two could run at once, but the app waits for the database.
    host.mcp(["sync", "-j", "4"]).success();
    host.assert_serves(db_port, "v1");
    host.assert_serves(app_port, "v2");

    // The app's container was created after the database answered: at least
    // the database's 3 s of silence after it started.
    let db_started = podman_time(&host, "db-main", "State.StartedAt");
    let app_created = podman_time(&host, "app-web", "Created");
    assert!(
        app_created - db_started >= 3.0,
        "app-web created {:.2}s after db-main started",
        app_created - db_started
    );
    let ev = host.podman_events();
    assert!(position(&ev, "db-main start") < position(&ev, "app-web create"));

    // History: the database's create is recorded before the app's, both ok.
    let history = host.mcp(["--json", "history"]).success().json();
    let rows: Vec<(String, String, String)> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["service"].as_str().unwrap_or_default().to_string(),
                e["action"].as_str().unwrap_or_default().to_string(),
                e["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let db_row = rows.iter().position(|r| r.0 == "db" && r.1 == "create");
    let app_row = rows.iter().position(|r| r.0 == "app" && r.1 == "create");
    assert!(db_row.is_some() && db_row < app_row, "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "ok"), "{rows:?}");
}

#[test]
fn stopping_the_database_stops_the_app_that_requires_it_first() {
    let host = Host::new();
    let (db_port, app_port) = (host.free_port(), host.free_port());
    write(&host, db_port, app_port);
    host.mcp(["sync"]).success();
    host.assert_serves(app_port, "v2");

    let out = host.mcp(["--json", "stop", "db"]).success().json();
    let actions = out["actions"].as_array().unwrap();
    let shown: Vec<String> = actions
        .iter()
        .map(|a| {
            format!(
                "{}/{}: {}",
                a["service"].as_str().unwrap(),
                a["component"].as_str().unwrap(),
                a["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(shown, ["app/web: stopped", "db/main: stopped"], "{out:#}");
    let ev = host.podman_events();
    assert!(
        position(&ev, "app-web died") < position(&ev, "db-main died"),
        "{}",
        ev.join("\n")
    );
    let status = host.mcp(["--json", "status"]).success().json();
    for c in status["components"].as_array().unwrap() {
        assert_eq!(c["desired"], "stopped", "{status:#}");
    }

    // Starting the app brings the database back first.
    host.mcp(["start", "app"]).success();
    host.assert_serves(app_port, "v2");
    let ev = host.podman_events();
    let db_again = ev.iter().rposition(|e| e == "db-main start").unwrap();
    let app_again = ev.iter().rposition(|e| e == "app-web start").unwrap();
    assert!(db_again < app_again, "{}", ev.join("\n"));
}

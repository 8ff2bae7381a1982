//! Rollouts on real podman: start-first runs the new version beside the old
//! one before touching it; stop-first keeps the old order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{Host, http_get, position};

fn web(host: &Host, tag: &str, port: u16, extra: &str) -> String {
    format!(
        "[[components]]\nname = \"web\"\nimage = \"{}\"\nrestart = \"no\"\nports = [\"127.0.0.1:{port}:8080\"]\n{extra}\n[components.health]\ntcp = {port}\ntimeout = \"8s\"\n",
        host.image(tag)
    )
}

/// A client that asks `GET /` every `every` until stopped, recording each
/// answer that is not a 2xx (or no answer at all), with when it happened.
struct Poller {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(usize, Vec<String>)>,
}

impl Poller {
    fn start(port: u16, every: Duration) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let began = Instant::now();
            let (mut polls, mut failed) = (0, Vec::new());
            while !flag.load(Ordering::Relaxed) {
                let asked = Instant::now();
                polls += 1;
                match http_get(port, "/", Duration::from_secs(5)) {
                    Some((200..=299, _)) => {}
                    other => {
                        failed.push(format!("{:.2}s: {other:?}", (asked - began).as_secs_f64()))
                    }
                }
                std::thread::sleep(every.saturating_sub(asked.elapsed()));
            }
            (polls, failed)
        });
        Poller { stop, handle }
    }

    /// Stops polling: (polls made, failed polls).
    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the poller panicked")
    }
}

#[test]
fn a_broken_start_first_deploy_fails_without_one_failed_poll() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("a", &web(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");

    let poller = Poller::start(port, Duration::from_millis(100));
    // One that never listens (fails its gate at the timeout), one that exits at once.
    for tag in ["nohealth", "broken"] {
        host.write_service("a", &web(&host, tag, port, ""));
        host.mcp(["deploy", "a"])
            .expect_code(1)
            .stderr_has("kept serving untouched");
    }
    let (polls, failed) = poller.finish();
    assert!(polls >= 20, "only {polls} polls were made");
    assert!(
        failed.is_empty(),
        "{} of {polls} polls failed during failed start-first deploys:\n{}",
        failed.len(),
        failed.join("\n")
    );
    host.assert_serves(port, "v1");
    assert_eq!(host.container_names(), vec!["a-web"]);
    let history = host.mcp(["--json", "history", "a"]).success().json();
    let last = &history["events"][0];
    assert_eq!(last["action"], "recreate");
    assert!(
        last["outcome"].as_str().unwrap().starts_with("failed:"),
        "{history:#}"
    );
    // The old container itself was never touched: it kept running from the first sync.
    let events = host.podman_events();
    assert!(
        !events
            .iter()
            .any(|e| e == "a-web died" || e == "a-web stop"),
        "the old container was stopped:\n{}",
        events.join("\n")
    );
}

#[test]
fn a_start_first_deploy_checks_the_new_version_beside_the_old_one() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("a", &web(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");

    let poller = Poller::start(port, Duration::from_millis(50));
    host.write_service("a", &web(&host, "v2", port, ""));
    host.mcp(["deploy", "a"]).success();
    let (polls, failed) = poller.finish();
    eprintln!(
        "start-first switch: {} of {polls} polls (every 50 ms) failed: {failed:?}",
        failed.len()
    );
    host.assert_serves(port, "v2");
    assert_eq!(host.container_names(), vec!["a-web"]);

    // The trial ran (and passed) while the old one still ran; then the old
    // one stopped and the final instance started under the canonical name.
    let events = host.podman_events();
    let trial = position(&events, "a-web.next start");
    let old_stopped = position(&events, "a-web.prev died");
    let new_started = events
        .iter()
        .rposition(|e| e == "a-web start")
        .expect("the new a-web started");
    assert!(trial < old_stopped, "{}", events.join("\n"));
    assert!(old_stopped < new_started, "{}", events.join("\n"));
}

#[test]
fn a_component_writing_to_a_volume_is_replaced_stop_first() {
    let host = Host::new();
    let port = host.free_port();
    let data = host.root().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let volume = format!("volumes = [\"{}:/data\"]\n", data.display());
    host.write_service("a", &web(&host, "v1", port, &volume));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");

    host.write_service("a", &web(&host, "v2", port, &volume));
    host.mcp(["deploy", "a"]).success();
    host.assert_serves(port, "v2");
    // Never two instances on one data directory: the old one died before
    // any new one started.
    let events = host.podman_events();
    let old_died = position(&events, "a-web died");
    let starts: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.ends_with(" start"))
        .map(|(i, _)| i)
        .collect();
    let first_new_start = *starts.get(1).expect("the new version started");
    assert!(old_died < first_new_start, "{}", events.join("\n"));
    assert!(
        !events.iter().any(|e| e == "a-web.next start"),
        "{}",
        events.join("\n")
    );
}

//! Shared, once-per-run test fixtures: a real OCI registry on loopback and the offline
//! `web` test images pushed to it (DESIGN §7).
//!
//! nextest runs every test in its own process, in parallel, so the setup is guarded by a
//! file lock under `target/test-fixtures/`. The first process to get the lock starts
//! `docker-registry serve` detached (it outlives the test process and is reused by later
//! runs) and builds + pushes the images with a podman storage of its own; the others find
//! the registry answering with every image present and go straight on.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Fixed loopback port of the test registry.
pub const REGISTRY_PORT: u16 = 5471;
/// `host:port` of the test registry, as used in image references.
pub const REGISTRY: &str = "127.0.0.1:5471";
/// Repository holding the test images: `127.0.0.1:5471/web:<tag>`.
pub const WEB_REPO: &str = "web";
/// Tags of `web`, see [`web_images`].
pub const WEB_TAGS: [&str; 4] = ["v1", "v2", "broken", "nohealth"];

/// Repository of the unikernel test images: `127.0.0.1:5471/uni:<tag>`.
pub const UNI_REPO: &str = "uni";
/// Tags of `uni`, see [`uni_images`].
pub const UNI_TAGS: [&str; 2] = ["v1", "v2"];

/// Bump when the images change: a registry holding older images gets them re-pushed.
const FIXTURE_VERSION: &str = "fixtures-4";
/// Marker repository, pushed last: `mcp-fixtures:<FIXTURE_VERSION>` means "all done".
const MARKER_REPO: &str = "mcp-fixtures";

const CONTAINERS_CONF_TEMPLATE: &str = include_str!("../../fixtures/containers.conf");
const REGISTRIES_CONF_TEMPLATE: &str = include_str!("../../fixtures/registries.conf");
const REGISTRY_YML_TEMPLATE: &str = include_str!("../../fixtures/registry.yml");

pub struct Fixtures {
    /// `target/test-fixtures`
    pub dir: PathBuf,
    /// registries.conf marking [`REGISTRY`] insecure (for `CONTAINERS_REGISTRIES_CONF`).
    pub registries_conf: PathBuf,
    /// Storage driver for test podman storages.
    pub storage_driver: String,
}

/// The shared fixtures, set up on first use in this process.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| setup().unwrap_or_else(|e| panic!("setting up test fixtures: {e}")))
}

/// `target/test-fixtures` (next to `CARGO_TARGET_TMPDIR`, so it follows CARGO_TARGET_DIR).
pub fn fixtures_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("test-fixtures")
}

/// Storage driver for every test storage; `MCP_TEST_STORAGE_DRIVER` overrides.
pub fn storage_driver() -> String {
    std::env::var("MCP_TEST_STORAGE_DRIVER").unwrap_or_else(|_| "overlay".to_string())
}

/// containers.conf text from the template in tests/fixtures.
pub fn containers_conf(
    network_dir: &Path,
    events_log: &Path,
    subnet_pools: &str,
    default_network: &str,
) -> String {
    CONTAINERS_CONF_TEMPLATE
        .replace("@NETWORK_CONFIG_DIR@", &network_dir.display().to_string())
        .replace("@DEFAULT_NETWORK@", default_network)
        .replace("@EVENTS_LOGFILE@", &events_log.display().to_string())
        .replace("@SUBNET_POOLS@", subnet_pools)
}

/// storage.conf text for a storage rooted at `dir` (graphroot `dir/graph`, runroot `dir/run`).
pub fn storage_conf(dir: &Path, driver: &str) -> String {
    format!(
        "[storage]\ndriver = \"{driver}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
        dir.join("graph").display(),
        dir.join("run").display()
    )
}

/// One test image: tag, index.html content and the container's command.
pub struct WebImage {
    pub tag: &'static str,
    pub index_html: &'static str,
    pub script: String,
}

/// The images pushed as `REGISTRY/web:<tag>`. All are a busybox-static rootfs with every
/// applet linked in /bin, PATH set, and the CMD `/bin/sh -c SCRIPT`:
/// - `v1`, `v2`: print `hello from web vN` and two more lines to stdout, then serve /www
///   (index.html is exactly `v1` / `v2`, no newline) with `busybox httpd -f -p 8080` in
///   the foreground. The shell stays PID 1 and traps TERM/INT, so `podman stop` ends the
///   container at once with exit code 0 (bare httpd as PID 1 ignores SIGTERM and every
///   stop would take the full timeout and end in 137).
/// - `broken`: prints a line to stdout and one to stderr, then exits with code 3 at once.
/// - `nohealth`: prints a line, then runs (sleeps) but never listens on any port; stops
///   at once with 0.
pub fn web_images() -> Vec<WebImage> {
    let web = |v: &str| {
        format!(
            "echo 'hello from web {v}'; \
             echo 'web {v}: serving /www on port 8080'; \
             trap 'echo \"web {v}: stopping\"; exit 0' TERM INT; \
             httpd -f -p 8080 -h /www & \
             echo 'web {v}: ready'; \
             wait"
        )
    };
    vec![
        WebImage {
            tag: "v1",
            index_html: "v1",
            script: web("v1"),
        },
        WebImage {
            tag: "v2",
            index_html: "v2",
            script: web("v2"),
        },
        WebImage {
            tag: "broken",
            index_html: "broken",
            script: "echo 'web broken: starting'; \
                     echo 'web broken: fatal: no configuration, exiting with 3' >&2; \
                     exit 3"
                .to_string(),
        },
        WebImage {
            tag: "nohealth",
            index_html: "nohealth",
            script: "echo 'web nohealth: running, never listening'; \
                     trap 'exit 0' TERM INT; \
                     sleep 1000000 & \
                     wait"
                .to_string(),
        },
    ]
}

/// The stand-in `ops` (tests/fixtures/ops-standin/ops) and the cache it builds its
/// kernel and base initramfs into (`target/test-fixtures/ops-standin`), filled once per
/// run: the stand-in locks the cache itself, so parallel test processes wait for one
/// build instead of racing.
pub struct OpsStandin {
    /// The directory holding `ops`, to put first on PATH.
    pub bin_dir: PathBuf,
    /// Its `OPS_STANDIN_CACHE`.
    pub cache: PathBuf,
}

pub fn ops_standin() -> &'static OpsStandin {
    static STANDIN: OnceLock<OpsStandin> = OnceLock::new();
    STANDIN.get_or_init(|| {
        let bin_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops-standin");
        let cache = fixtures_dir().join("ops-standin");
        let started = Instant::now();
        let out = Command::new(bin_dir.join("ops"))
            .arg("standin-prepare")
            .env("OPS_STANDIN_CACHE", &cache)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running the stand-in ops: {e}"));
        if !out.status.success() {
            panic!(
                "preparing the stand-in ops (run scripts/setup-host) failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        eprintln!(
            "test fixtures: stand-in ops ready in {:.1?}",
            started.elapsed()
        );
        OpsStandin { bin_dir, cache }
    })
}

/// The unikernel test images, `REGISTRY/uni:<tag>`: a rootfs holding only a static
/// `/bin/busybox`, with ENTRYPOINT `["/bin/busybox"]` (the ELF mcp hands to `ops build`)
/// and CMD `["sh", "-c", SCRIPT]` (the Args, since the test specs give no `cmd`). The
/// script prints `hello from uni vN` on the console, writes `/www/index.html` (exactly
/// `vN`) and serves it with `httpd -f -p 8080`: the content comes from the image's CMD,
/// so a new image version is visible over HTTP.
pub fn uni_images() -> Vec<(&'static str, String)> {
    UNI_TAGS
        .iter()
        .map(|v| {
            (
                *v,
                format!(
                    "echo 'hello from uni {v}'; mkdir -p /www; printf {v} > /www/index.html; \
                     echo 'uni {v}: serving /www on port 8080'; exec httpd -f -p 8080 -h /www"
                ),
            )
        })
        .collect()
}

fn setup() -> Result<Fixtures, String> {
    let dir = fixtures_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let registries_conf = dir.join("registries.conf");
    write_atomic(
        &registries_conf,
        &REGISTRIES_CONF_TEMPLATE.replace("@REGISTRY@", REGISTRY),
    )?;
    let fixtures = Fixtures {
        dir: dir.clone(),
        registries_conf,
        storage_driver: storage_driver(),
    };

    if images_ready() {
        return Ok(fixtures);
    }
    let lock_path = dir.join("setup.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;

    if !images_ready() {
        let started = Instant::now();
        if http_get(REGISTRY_PORT, "/v2/", Duration::from_secs(2)).is_none() {
            start_registry(&dir)?;
        }
        build_and_push(&fixtures)?;
        if !images_ready() {
            return Err(format!(
                "images pushed but {REGISTRY} does not list them all"
            ));
        }
        eprintln!(
            "test fixtures: registry {REGISTRY} and images ready in {:.1?}",
            started.elapsed()
        );
    }
    drop(lock);
    Ok(fixtures)
}

/// The registry answers and lists every fixture (marker pushed last).
fn images_ready() -> bool {
    let timeout = Duration::from_secs(2);
    let tags = |repo: &str| -> Option<String> {
        match http_get(REGISTRY_PORT, &format!("/v2/{repo}/tags/list"), timeout) {
            Some((200, body)) => Some(body),
            _ => None,
        }
    };
    let Some(marker) = tags(MARKER_REPO) else {
        return false;
    };
    let Some(web) = tags(WEB_REPO) else {
        return false;
    };
    let Some(uni) = tags(UNI_REPO) else {
        return false;
    };
    marker.contains(&format!("\"{FIXTURE_VERSION}\""))
        && WEB_TAGS.iter().all(|t| web.contains(&format!("\"{t}\"")))
        && UNI_TAGS.iter().all(|t| uni.contains(&format!("\"{t}\"")))
}

fn start_registry(dir: &Path) -> Result<(), String> {
    let reg = dir.join("registry");
    let data = reg.join("data");
    fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    let config = reg.join("config.yml");
    write_atomic(
        &config,
        &REGISTRY_YML_TEMPLATE
            .replace("@ROOT@", &data.display().to_string())
            .replace("@ADDR@", REGISTRY),
    )?;
    let log_path = reg.join("registry.log");
    let log = File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    // setsid: own session and process group, so it survives this test process and
    // nextest's process-group cleanup; output goes to a file, not to nextest's pipes.
    let mut child = Command::new("setsid")
        .arg("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("starting docker-registry (run scripts/setup-host): {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if http_get(REGISTRY_PORT, "/v2/", Duration::from_secs(1)).is_some() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!(
                "docker-registry exited ({status}) instead of serving {REGISTRY}; \
                 is docker-registry installed (scripts/setup-host) and the port free?\n{}",
                tail(&log, 20)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "docker-registry did not answer on {REGISTRY} within 20 s (log: {})",
        log_path.display()
    ))
}

fn build_and_push(fx: &Fixtures) -> Result<(), String> {
    let build = fx.dir.join("build");
    let storage = build.join("storage");
    let networks = build.join("networks");
    for d in [&storage, &networks] {
        fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    let containers_conf = build.join("containers.conf");
    write_atomic(
        &containers_conf,
        &containers_conf_for_build(&networks, &build.join("events.log")),
    )?;
    let storage_conf_path = build.join("storage.conf");
    write_atomic(
        &storage_conf_path,
        &storage_conf(&storage, &fx.storage_driver),
    )?;
    let podman = |args: &[&str]| -> Result<String, String> {
        let out = Command::new("podman")
            .args(args)
            .env("CONTAINERS_CONF", &containers_conf)
            .env("CONTAINERS_STORAGE_CONF", &storage_conf_path)
            .env("CONTAINERS_REGISTRIES_CONF", &fx.registries_conf)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running podman (run scripts/setup-host): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "podman {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };

    let applets = busybox_applets()?;
    for image in web_images() {
        let rootfs = build.join(format!("rootfs-{}", image.tag));
        make_rootfs(&rootfs, image.index_html, &applets)?;
        let tar = build.join(format!("web-{}.tar", image.tag));
        tar_dir(&rootfs, &tar)?;
        let cmd = serde_json::to_string(&["/bin/sh", "-c", &image.script]).unwrap();
        // `--change 'CMD=[...]'` breaks on spaces in podman 4.3: use the `CMD [...]` form.
        let reference = format!("{REGISTRY}/{WEB_REPO}:{}", image.tag);
        podman(&[
            "import",
            "-q",
            "--change",
            &format!("CMD {cmd}"),
            "--change",
            "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "WORKDIR /",
            tar.to_str().unwrap(),
            &reference,
        ])?;
        podman(&["push", "-q", "--tls-verify=false", &reference])?;
    }
    for (tag, script) in uni_images() {
        let rootfs = build.join(format!("rootfs-uni-{tag}"));
        if rootfs.exists() {
            fs::remove_dir_all(&rootfs).map_err(|e| format!("{}: {e}", rootfs.display()))?;
        }
        fs::create_dir_all(rootfs.join("bin")).map_err(|e| format!("{}: {e}", rootfs.display()))?;
        fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .map_err(|e| format!("copying /bin/busybox: {e}"))?;
        let tar = build.join(format!("uni-{tag}.tar"));
        tar_dir(&rootfs, &tar)?;
        let cmd = serde_json::to_string(&["sh", "-c", &script]).unwrap();
        let reference = format!("{REGISTRY}/{UNI_REPO}:{tag}");
        podman(&[
            "import",
            "-q",
            "--change",
            "ENTRYPOINT [\"/bin/busybox\"]",
            "--change",
            &format!("CMD {cmd}"),
            "--change",
            "ENV PATH=/bin",
            tar.to_str().unwrap(),
            &reference,
        ])?;
        podman(&["push", "-q", "--tls-verify=false", &reference])?;
    }
    let marker = format!("{REGISTRY}/{MARKER_REPO}:{FIXTURE_VERSION}");
    podman(&["tag", &format!("{REGISTRY}/{WEB_REPO}:v1"), &marker])?;
    podman(&["push", "-q", "--tls-verify=false", &marker])?;
    Ok(())
}

fn containers_conf_for_build(networks: &Path, events: &Path) -> String {
    containers_conf(
        networks,
        events,
        "{\"base\" = \"10.63.0.0/16\", \"size\" = 24}",
        "podman",
    )
}

fn busybox_applets() -> Result<Vec<String>, String> {
    let out = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .map_err(|e| {
            format!("running /bin/busybox (install busybox-static: scripts/setup-host): {e}")
        })?;
    let list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('/') && *l != "busybox")
        .map(String::from)
        .collect();
    if list.is_empty() {
        return Err("`/bin/busybox --list` listed no applets".into());
    }
    Ok(list)
}

fn make_rootfs(root: &Path, index_html: &str, applets: &[String]) -> Result<(), String> {
    let e = |what: &Path, err: std::io::Error| format!("{}: {err}", what.display());
    if root.exists() {
        fs::remove_dir_all(root).map_err(|err| e(root, err))?;
    }
    for d in [
        "bin", "www", "etc", "root", "tmp", "proc", "sys", "dev", "var", "usr", "run",
    ] {
        fs::create_dir_all(root.join(d)).map_err(|err| e(root, err))?;
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))
        .map_err(|err| e(root, err))?;
    let busybox = root.join("bin/busybox");
    fs::copy("/bin/busybox", &busybox).map_err(|err| e(Path::new("/bin/busybox"), err))?;
    fs::set_permissions(&busybox, fs::Permissions::from_mode(0o755))
        .map_err(|err| e(&busybox, err))?;
    for applet in applets {
        symlink("busybox", root.join("bin").join(applet))
            .map_err(|err| e(&root.join("bin").join(applet), err))?;
    }
    for (path, text) in [
        ("www/index.html", index_html),
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    ] {
        fs::write(root.join(path), text).map_err(|err| e(&root.join(path), err))?;
    }
    Ok(())
}

/// Write via a temp file + rename, so concurrent readers never see a partial file.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Minimal HTTP/1.0 GET on 127.0.0.1:`port`: `Some((status, body))`, `None` when nothing
/// answers (connection refused/reset, timeout, not HTTP).
pub fn http_get(port: u16, path: &str, timeout: Duration) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: mcp-tests\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, body.to_string()))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Packs a rootfs directory into a tar with root ownership, for `podman import`.
fn tar_dir(rootfs: &Path, tar: &Path) -> Result<(), String> {
    let status = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(rootfs)
        .arg("-cf")
        .arg(tar)
        .arg(".")
        .status()
        .map_err(|e| format!("running tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar of {} failed: {status}", rootfs.display()));
    }
    Ok(())
}

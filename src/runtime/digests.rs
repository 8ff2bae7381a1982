//! Asks an image's registry for a tag's current digest without pulling
//! anything: `skopeo inspect --raw` fetches only the manifest (one request,
//! plus whatever authentication the registry asks for), and reads the same
//! registries.conf (insecure registries, mirrors) and auth files as podman,
//! because both are built on containers/image.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::exec::Tool;

/// How long one registry question may take before it counts as unreachable.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What the registry says a tag points at now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// `sha256:<hex>` of the manifest (or manifest list) the tag names.
    pub digest: String,
    /// For a manifest list or OCI index: the digests of its per-platform
    /// manifests. podman may record either the list's digest or the one of
    /// the instance it pulled, so both count as "not moved".
    pub instances: Vec<String>,
}

impl Remote {
    /// Whether the tag still names the deployed image, given every manifest
    /// digest known for that image.
    pub fn matches(&self, deployed: &[String]) -> bool {
        deployed
            .iter()
            .any(|d| *d == self.digest || self.instances.contains(d))
    }
}

/// Why a tag's digest could not be learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The registry answered, but the tag (or repository) does not exist.
    TagMissing(String),
    /// Anything else: the registry could not be reached, refused us, or timed out.
    Failed(String),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::TagMissing(why) => {
                write!(f, "the tag no longer exists in the registry ({why})")
            }
            LookupError::Failed(why) => write!(f, "could not ask the registry: {why}"),
        }
    }
}

/// The `skopeo` tool, with the per-lookup timeout.
pub struct DigestClient {
    tool: Tool,
    timeout: Duration,
    /// podman reads `CONTAINERS_REGISTRIES_CONF` (containers/common does);
    /// Debian's skopeo 1.9 ignores it and needs the path as a flag, or it
    /// would not know an insecure registry that podman pulls from.
    registries_conf: Option<PathBuf>,
}

impl DigestClient {
    pub fn new(tool: Tool) -> Self {
        DigestClient {
            tool,
            timeout: LOOKUP_TIMEOUT,
            registries_conf: std::env::var_os("CONTAINERS_REGISTRIES_CONF")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    /// One registry round trip for one reference (`host[:port]/repo[:tag]`).
    pub fn lookup(&self, image: &str) -> Result<Remote, LookupError> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(conf) = &self.registries_conf {
            args.push("--registries-conf".into());
            args.push(conf.into());
        }
        args.extend([
            "inspect".into(),
            "--raw".into(),
            "--retry-times".into(),
            "0".into(),
            format!("docker://{image}").into(),
        ]);
        let out = self
            .tool
            .capture(&args, self.timeout)
            .map_err(|e| LookupError::Failed(format!("{e:#}")))?;
        if out.code != Some(0) {
            return Err(classify(out.stderr.trim()));
        }
        parse_manifest(out.stdout.as_bytes()).map_err(LookupError::Failed)
    }

    /// Looks up every distinct reference once, up to `jobs` at a time.
    pub fn lookup_all(
        &self,
        images: &[String],
        jobs: usize,
    ) -> BTreeMap<String, Result<Remote, LookupError>> {
        let mut distinct: Vec<&String> = images.iter().collect();
        distinct.sort();
        distinct.dedup();
        let queue: Mutex<VecDeque<&String>> = Mutex::new(distinct.iter().copied().collect());
        let results = Mutex::new(BTreeMap::new());
        let workers = jobs.clamp(1, distinct.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let next = match queue.lock() {
                            Ok(mut q) => q.pop_front(),
                            Err(_) => None,
                        };
                        let Some(image) = next else { break };
                        let result = self.lookup(image);
                        if let Ok(mut r) = results.lock() {
                            r.insert(image.clone(), result);
                        }
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_default();
        // A worker that died (a poisoned lock) leaves no result: say so
        // rather than report the image as current.
        for image in distinct {
            results.entry(image.clone()).or_insert_with(|| {
                Err(LookupError::Failed(
                    "internal: the lookup did not finish".into(),
                ))
            });
        }
        results
    }
}

/// Sorts skopeo's error into "the tag is gone" and everything else, and
/// keeps the useful last part of its message.
fn classify(stderr: &str) -> LookupError {
    let line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("skopeo failed without a message")
        .trim();
    // skopeo prefixes `time="..." level=fatal msg="..."`: keep the message,
    // without its quoting and the `Error parsing image name "...": ` lead-in
    // (the caller names the image already).
    let msg = line
        .split_once("msg=\"")
        .map_or(line, |(_, m)| m.trim_end_matches('"'))
        .replace("\\\"", "\"");
    let msg = match msg.strip_prefix("Error parsing image name \"") {
        Some(rest) => rest.split_once("\": ").map_or(rest, |(_, m)| m).to_string(),
        None => msg,
    };
    // The registry's code and message are often the same words twice.
    let msg = match msg.rsplit_once(": ") {
        Some((head, last)) if head.ends_with(last) => head.to_string(),
        _ => msg,
    };
    let lower = msg.to_lowercase();
    if lower.contains("manifest unknown")
        || lower.contains("name unknown")
        || lower.contains("not found")
    {
        LookupError::TagMissing(msg.to_string())
    } else {
        LookupError::Failed(msg.to_string())
    }
}

/// The digest of a manifest exactly as the registry served it, and the
/// instances when it is a list.
pub fn parse_manifest(raw: &[u8]) -> Result<Remote, String> {
    let value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| format!("the registry sent a manifest that is not JSON: {e}"))?;
    let instances = value
        .get("manifests")
        .and_then(|m| m.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|m| m.get("digest")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Remote {
        digest: sha256_digest(raw),
        instances,
    })
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// How `mcp update` treats an image reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// `name:tag` (or no tag, meaning `latest`) in a registry: checked.
    Tagged,
    /// `name@sha256:...`: cannot move.
    Pinned,
    /// `localhost/...`: podman's own images, in no registry.
    Local,
}

pub fn ref_kind(image: &str) -> RefKind {
    if image.contains('@') {
        RefKind::Pinned
    } else if image.starts_with("localhost/") {
        RefKind::Local
    } else {
        RefKind::Tagged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_the_exact_bytes() {
        // sha256 of the empty string, the well-known value.
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let single = br#"{"schemaVersion":2,"config":{"digest":"sha256:aa"}}"#;
        let r = parse_manifest(single).unwrap();
        assert_eq!(r.digest, sha256_digest(single));
        assert!(r.instances.is_empty());
        // One byte more is another digest: no normalising of what was served.
        let spaced = br#"{"schemaVersion":2, "config":{"digest":"sha256:aa"}}"#;
        assert_ne!(parse_manifest(spaced).unwrap().digest, r.digest);
    }

    #[test]
    fn a_list_matches_its_instances() {
        let list = br#"{"schemaVersion":2,"manifests":[
            {"digest":"sha256:amd"},{"digest":"sha256:arm"}]}"#;
        let r = parse_manifest(list).unwrap();
        let known = |d: &str| vec![d.to_string()];
        assert!(r.matches(&known("sha256:amd")));
        assert!(r.matches(&known(&r.digest)));
        assert!(!r.matches(&known("sha256:other")));
        assert!(r.matches(&["sha256:other".into(), "sha256:arm".into()]));
        assert!(!r.matches(&[]));
        assert!(parse_manifest(b"not json").is_err());
    }

    #[test]
    fn sorts_errors_into_missing_tags_and_the_rest() {
        let gone = "time=\"2026-12-07T23:00:00Z\" level=fatal msg=\"Error parsing image name \\\"docker://r/a:x\\\": reading manifest x in r/a: manifest unknown: manifest unknown\"";
        match classify(gone) {
            LookupError::TagMissing(m) => {
                assert_eq!(m, "reading manifest x in r/a: manifest unknown")
            }
            other => panic!("{other:?}"),
        }
        let down = "time=\"x\" level=fatal msg=\"Error parsing image name \\\"docker://r/a:x\\\": pinging container registry 127.0.0.1:1: Get \\\"http://127.0.0.1:1/v2/\\\": dial tcp 127.0.0.1:1: connect: connection refused\"";
        match classify(down) {
            LookupError::Failed(m) => assert_eq!(
                m,
                "pinging container registry 127.0.0.1:1: Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kinds_of_reference() {
        assert_eq!(ref_kind("r:5000/a:v1"), RefKind::Tagged);
        assert_eq!(ref_kind("docker.io/library/busybox"), RefKind::Tagged);
        assert_eq!(ref_kind("localhost:5000/a:v1"), RefKind::Tagged);
        assert_eq!(ref_kind("r/a@sha256:abc"), RefKind::Pinned);
        assert_eq!(ref_kind("r/a:v1@sha256:abc"), RefKind::Pinned);
        assert_eq!(ref_kind("localhost/a:v1"), RefKind::Local);
    }
}

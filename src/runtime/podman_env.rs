//! How a component's environment reaches podman without ever being on its
//! command line or in a file on disk.
//!
//! `podman create --env NAME` (no value) takes the value from podman's own
//! environment, multi-line values intact; so each value is set in the
//! environment of that one podman child and only its name is on argv. Some
//! names podman reads for itself (PATH, HOME, proxies, CONTAINERS_*...):
//! setting those for podman would change how podman runs, so they go in an
//! env file that exists only in memory (a memfd podman opens as /dev/fd/N).
//! An env file holds one line per variable, so such a name cannot carry a
//! line break; `validate` rejects that (see [`can_carry`]).

use std::collections::BTreeMap;
use std::ffi::OsString;

use super::exec::Secrets;

/// Longest `NAME=value` one variable may be: podman reads env files line by
/// line with a 64 KiB buffer, and the kernel caps one environment string at
/// 128 KiB; one limit for both keeps `validate` simple.
pub const MAX_VAR_BYTES: usize = 65_535;

const PREFIXES: [&str; 12] = [
    "LD_",
    "XDG_",
    "CONTAINERS_",
    "_CONTAINERS_",
    "CONTAINER_",
    "PODMAN_",
    "STORAGE_",
    "BUILDAH_",
    "DOCKER_",
    "REGISTRY_",
    "SSL_",
    "LISTEN_",
];

const NAMES: [&str; 17] = [
    "PATH",
    "HOME",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "SHELL",
    "NOTIFY_SOCKET",
    "GODEBUG",
    "GOGC",
    "GOMAXPROCS",
    "GOMEMLIMIT",
    "GOTRACEBACK",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "FTP_PROXY",
    "ALL_PROXY",
];

/// Whether podman itself reads `name` from its environment.
pub fn podman_reads(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    NAMES.contains(&upper.as_str()) || PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Why the container runtime cannot carry `name = value`, if it cannot.
pub fn can_carry(name: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("env `{name}` contains a NUL byte"));
    }
    if name.len() + 1 + value.len() > MAX_VAR_BYTES {
        return Err(format!(
            "env `{name}` is {} bytes; one variable can be at most {MAX_VAR_BYTES} bytes",
            value.len()
        ));
    }
    if podman_reads(name) && (value.contains('\n') || value.contains('\r')) {
        return Err(format!(
            "env `{name}` holds a line break, but podman reads `{name}` for itself, so mcp hands it over in an env file, one line per variable"
        ));
    }
    Ok(())
}

/// The `podman create` arguments and the out-of-sight values for `env`.
pub fn secrets_for(env: &BTreeMap<String, String>) -> anyhow::Result<(Vec<OsString>, Secrets)> {
    let mut args: Vec<OsString> = Vec::new();
    let mut secrets = Secrets::default();
    let mut file = String::new();
    for (k, v) in env {
        can_carry(k, v).map_err(|why| anyhow::anyhow!("{why}; change it in the service file"))?;
        if podman_reads(k) {
            file.push_str(&format!("{k}={v}\n"));
        } else {
            args.push("--env".into());
            args.push(k.into());
            secrets.vars.push((k.clone(), v.clone()));
        }
    }
    if !file.is_empty() {
        let path = secrets.inherit_text(&file)?;
        args.push("--env-file".into());
        args.push(path.into());
    }
    Ok((args, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_off_argv() {
        let env: BTreeMap<String, String> = [
            ("TOKEN".to_string(), "s3cret".to_string()),
            ("CERT".to_string(), "a\nb".to_string()),
            ("PATH".to_string(), "/app/bin:/usr/bin".to_string()),
        ]
        .into();
        let (args, secrets) = secrets_for(&env).unwrap();
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(shown[..4], ["--env", "CERT", "--env", "TOKEN"]);
        assert_eq!(shown[4], "--env-file");
        assert!(shown[5].starts_with("/dev/fd/"), "{shown:?}");
        assert!(
            !shown
                .iter()
                .any(|a| a.contains("s3cret") || a.contains("/app/bin"))
        );
        assert_eq!(
            secrets.vars,
            [
                ("CERT".to_string(), "a\nb".to_string()),
                ("TOKEN".to_string(), "s3cret".to_string())
            ]
        );
        // The in-memory env file is what podman will read.
        let text = std::fs::read_to_string(&shown[5]).unwrap();
        assert_eq!(text, "PATH=/app/bin:/usr/bin\n");
    }

    #[test]
    fn what_cannot_be_carried_is_named() {
        assert!(can_carry("CERT", "a\nb").is_ok());
        assert!(
            can_carry("PATH", "a\nb")
                .unwrap_err()
                .contains("line break")
        );
        assert!(can_carry("http_proxy", "a\rb").is_err());
        assert!(can_carry("X", "a\0b").unwrap_err().contains("NUL"));
        assert!(
            can_carry("X", &"x".repeat(70_000))
                .unwrap_err()
                .contains("at most")
        );
    }
}

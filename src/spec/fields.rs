//! Syntax of single field values: names, image references, podman port and
//! volume strings. Pure functions, shared by validation and the runtime.

use std::net::IpAddr;

use super::model::{PortSpec, Protocol, VolumeSpec};
use crate::model::ImageRef;

fn name_like(s: &str, max: usize, first: fn(char) -> bool, rest: fn(char) -> bool) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if first(c)) && s.len() <= max && chars.all(rest)
}

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9][a-z0-9_]{0,62}`: no hyphen, so `<service>-<component>` splits uniquely.
pub fn is_service_name(s: &str) -> bool {
    name_like(s, 63, lower_alnum, |c| lower_alnum(c) || c == '_')
}

/// `[a-z0-9][a-z0-9_-]{0,62}`
pub fn is_component_name(s: &str) -> bool {
    name_like(s, 63, lower_alnum, |c| {
        lower_alnum(c) || c == '_' || c == '-'
    })
}

pub fn is_network_name(s: &str) -> bool {
    name_like(
        s,
        63,
        |c| c.is_ascii_alphanumeric(),
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'),
    )
}

/// Names podman reads as a network mode rather than a network to join or create.
/// (podman refuses to create networks with these names).
pub const NETWORK_MODES: &[&str] = &[
    "none",
    "host",
    "bridge",
    "private",
    "slirp4netns",
    "pasta",
    "container",
    "ns",
    "default",
];

pub fn is_env_key(s: &str) -> bool {
    name_like(
        s,
        255,
        |c| c.is_ascii_alphabetic() || c == '_',
        |c| c.is_ascii_alphanumeric() || c == '_',
    )
}

/// `uid[:gid]` or `name[:group]`.
pub fn is_user(s: &str) -> bool {
    let part = |p: &str| {
        name_like(
            p,
            32,
            |c| lower_alnum(c) || c == '_',
            |c| lower_alnum(c) || matches!(c, '_' | '.' | '-'),
        )
    };
    match s.split_once(':') {
        Some((u, g)) => part(u) && part(g),
        None => part(s),
    }
}

pub fn is_hostname(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Shows a user-provided value in a message without control characters.
pub fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_default).collect();
    if s.chars().count() > 80 {
        out.push_str("...");
    }
    out
}

/// Checks an OCI image reference: `[host[:port]/]path[:tag][@sha256:hex]`.
pub fn check_image(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("it is empty".into());
    }
    if image.len() > 255 {
        return Err("it is longer than 255 characters".into());
    }
    if let Some(c) = image
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@')))
    {
        return Err(format!(
            "the character '{}' is not allowed in an image reference",
            c.escape_default()
        ));
    }
    if image.starts_with('-') {
        return Err("it starts with `-`, which podman would read as an option".into());
    }
    let parsed = ImageRef::parse(image);
    if let Some(d) = parsed.digest() {
        let hex = d
            .strip_prefix("sha256:")
            .ok_or("the digest must start with sha256:")?;
        if hex.len() != 64
            || !hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err("the digest must be sha256: followed by 64 lower-case hex digits".into());
        }
    }
    let (repo, tag) = (parsed.repository(), parsed.tag());
    if let Some(tag) = tag {
        if tag.is_empty() {
            return Err("the tag after `:` is empty".into());
        }
        let ok = name_like(
            tag,
            128,
            |c| c.is_ascii_alphanumeric() || c == '_',
            |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'),
        );
        if !ok {
            return Err(format!("tag `{}` is not valid", shown(tag)));
        }
    }
    let mut parts: Vec<&str> = repo.split('/').collect();
    if parts.len() > 1 && looks_like_host(parts[0]) {
        let host = parts.remove(0);
        let (h, port) = host
            .split_once(':')
            .map_or((host, None), |(h, p)| (h, Some(p)));
        if h.is_empty() || port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
            return Err(format!("registry `{}` is not valid", shown(host)));
        }
    }
    for part in parts {
        let ok = !part.is_empty()
            && part.starts_with(lower_alnum)
            && part.ends_with(lower_alnum)
            && part
                .chars()
                .all(|c| lower_alnum(c) || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(format!(
                "path component `{}` must be lower-case letters, digits and . _ -",
                shown(part)
            ));
        }
    }
    Ok(())
}

fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

pub use crate::model::split_tag;

/// The version shown for an image: its tag, a short digest, or `latest`.
pub fn image_version(image: &str) -> String {
    ImageRef::parse(image).version()
}

/// Parses podman's `-p` syntax: `[[ip:]hostPort:]containerPort[/proto]`, with an
/// explicit host port (mcp needs it to detect clashes).
pub fn parse_port(text: &str) -> Result<PortSpec, String> {
    let (addr, protocol) = match text.rsplit_once('/') {
        Some((a, "tcp")) => (a, Protocol::Tcp),
        Some((a, "udp")) => (a, Protocol::Udp),
        Some((_, p)) => return Err(format!("protocol `{}` is not tcp or udp", shown(p))),
        None => (text, Protocol::Tcp),
    };
    let (host_ip, rest) = if let Some(stripped) = addr.strip_prefix('[') {
        let (ip, rest) = stripped
            .split_once("]:")
            .ok_or("an IPv6 address must be written [addr]:hostPort:containerPort")?;
        (Some(ip), rest)
    } else {
        match addr.matches(':').count() {
            2 => {
                let (ip, rest) = addr.split_once(':').ok_or("unreachable")?;
                (Some(ip), rest)
            }
            1 => (None, addr),
            0 => return Err("a host port is required (hostPort:containerPort)".into()),
            _ => return Err("too many `:` separators".into()),
        }
    };
    if let Some(ip) = host_ip
        && ip.parse::<IpAddr>().is_err()
    {
        return Err(format!("`{}` is not an IP address", shown(ip)));
    }
    let (host, container) = rest
        .split_once(':')
        .ok_or("expected hostPort:containerPort")?;
    if host.contains('-') || container.contains('-') {
        return Err("port ranges are not supported; publish each port separately".into());
    }
    let port = |p: &str, what: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!(
                "{what} port `{}` is not a number from 1 to 65535",
                shown(p)
            )),
            Ok(n) => Ok(n),
        }
    };
    Ok(PortSpec {
        host_ip: host_ip.map(str::to_string),
        host_port: port(host, "host")?,
        container_port: port(container, "container")?,
        protocol,
    })
}

const VOLUME_OPTIONS: &[&str] = &[
    "ro", "rw", "z", "Z", "U", "O", "shared", "rshared", "slave", "rslave", "private", "rprivate",
    "nocopy", "copy", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
];

/// Parses podman's `-v` syntax: `/host/path:/container/path[:opt,...]` or a
/// named volume `name:/container/path[:opt,...]`. Relative host paths are refused.
pub fn parse_volume(text: &str) -> Result<VolumeSpec, String> {
    // A NUL cannot be passed to podman at all (the spawn would fail at sync
    // time, not here), and no real path needs a newline or other control.
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the control character '{}' is not allowed in a volume",
            c.escape_default()
        ));
    }
    let mut parts = text.splitn(3, ':');
    let source = parts.next().unwrap_or_default();
    let target = parts
        .next()
        .ok_or("expected source:target (an anonymous volume cannot be tracked)")?;
    let options = parts.next();
    if source.is_empty() {
        return Err("the source is empty".into());
    }
    if source.starts_with('/') {
        if source.split('/').any(|seg| seg == "..") {
            return Err("the host path must not contain `..`".into());
        }
    } else if source.contains('/') || source.starts_with('.') || source.starts_with('~') {
        return Err(format!(
            "host path `{}` is relative; use an absolute path",
            shown(source)
        ));
    } else if !is_network_name(source) {
        return Err(format!(
            "`{}` is neither an absolute path nor a volume name",
            shown(source)
        ));
    }
    if !target.starts_with('/') {
        return Err(format!(
            "container path `{}` must be absolute",
            shown(target)
        ));
    }
    if target.split('/').any(|seg| seg == "..") {
        return Err("the container path must not contain `..`".into());
    }
    if let Some(opts) = options {
        for opt in opts.split(',') {
            if !VOLUME_OPTIONS.contains(&opt) {
                return Err(format!("unknown volume option `{}`", shown(opt)));
            }
        }
    }
    Ok(VolumeSpec {
        source: source.to_string(),
        target: target.to_string(),
        options: options.map(str::to_string),
    })
}

pub fn check_http_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are probed")?;
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the character '{}' is not allowed in a URL",
            c.escape_default()
        ));
    }
    let host_port = rest.split('/').next().unwrap_or_default();
    let (host, port) = host_port
        .rsplit_once(':')
        .ok_or("the URL needs an explicit port")?;
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("port `{}` is not valid", shown(port))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_service_name("web"));
        assert!(is_service_name("web_2"));
        assert!(!is_service_name("web-2"));
        assert!(!is_service_name("Web"));
        assert!(!is_service_name("_web"));
        assert!(is_component_name("api-v2"));
        assert!(!is_component_name(""));
    }

    #[test]
    fn image_references() {
        for ok in [
            "busybox",
            "registry.example:5000/web-api:v1.4.2",
            "localhost/app",
            "127.0.0.1:5000/web:v1",
            "quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(check_image(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "a$(touch x)",
            "UPPER/app",
            "app:",
            "-rm",
            "a;b",
            "app:v1 ",
        ] {
            assert!(check_image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn health_urls() {
        assert_eq!(check_http_url("http://127.0.0.1:8080/healthz"), Ok(()));
        for bad in [
            "https://a:1/",
            "http://a/",
            "http://:80/",
            "http://a:80/x y",
            "http://a:0/",
        ] {
            assert!(check_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(image_version("registry:5000/app:v2"), "v2");
        assert_eq!(image_version("registry:5000/app"), "latest");
        assert_eq!(
            image_version("app@sha256:abcdef0123456789ff"),
            "sha256:abcdef012345"
        );
    }

    #[test]
    fn ports() {
        let p = parse_port("127.0.0.1:8080:80").unwrap();
        assert_eq!(p.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!((p.host_port, p.container_port), (8080, 80));
        assert_eq!(p.to_string(), "127.0.0.1:8080:80");
        let p = parse_port("8443:443/udp").unwrap();
        assert_eq!(p.protocol, Protocol::Udp);
        assert_eq!(
            parse_port("[::1]:80:80").unwrap().to_string(),
            "[::1]:80:80"
        );
        for bad in [
            "80",
            "0:80",
            "70000:80",
            "a:80",
            "1.2.3:80:80",
            "80:80/sctp",
            "8000-8010:80",
        ] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volumes() {
        assert!(parse_volume("/srv/web:/srv/web:ro").is_ok());
        assert!(parse_volume("data:/var/lib/data").is_ok());
        for bad in [
            "./data:/d",
            "data/x:/d",
            "/a:rel",
            "/a",
            "/a:/b:bogus",
            "/a/../etc:/b",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad}");
        }
    }
}

//! Turns one service file into a [`ServiceSpec`], checking every field and
//! collecting positioned diagnostics rather than stopping at the first one.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostic, suggest};
use super::fields;
use super::model::*;

mod lifecycle;
pub use lifecycle::normalize_signal;

const SERVICE_KEYS: &[&str] = &["name", "active", "comment", "components"];
const COMPONENT_KEYS: &[&str] = &[
    "name",
    "image",
    "runtime",
    "network",
    "user",
    "restart",
    "ports",
    "volumes",
    "cmd",
    "env",
    "memory_mb",
    "vcpus",
    "health",
    "routes",
    "requires",
    "rollout",
    "stop_signal",
    "stop_timeout",
];
const HEALTH_KEYS: &[&str] = &["tcp", "http", "cmd", "timeout", "interval"];
const ROUTE_KEYS: &[&str] = &["name", "port", "mode", "hostname"];

pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed service plus the positions that cross-file checks report against.
#[derive(Debug)]
pub struct ParsedService {
    pub spec: ServiceSpec,
    /// (component index, port index) -> position of the port string.
    pub port_positions: BTreeMap<(usize, usize), (usize, usize)>,
    /// (component index, requirement index) -> position of the `requires` entry.
    pub requires_positions: BTreeMap<(usize, usize), (usize, usize)>,
}

/// What one component table yields besides the spec: positions of its ports
/// and of its `requires` entries.
struct ComponentPositions {
    ports: Vec<(usize, usize)>,
    requires: Vec<(usize, usize)>,
}

pub struct FileReader<'a> {
    file: &'a Path,
    source: &'a str,
    pub diagnostics: Vec<Diagnostic>,
}

type Val<'i> = Spanned<DeValue<'i>>;

impl<'a> FileReader<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        FileReader {
            file,
            source,
            diagnostics: Vec::new(),
        }
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::at(self.file, self.source, span, message));
        // Invariant: an element was pushed on the line above.
        let last = self.diagnostics.len() - 1;
        &mut self.diagnostics[last]
    }

    fn hint(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        self.error(span, message).hint = Some(hint.into());
    }

    fn pos(&self, span: &Range<usize>) -> (usize, usize) {
        super::diag::line_col(self.source, span.start)
    }

    /// Parses the whole file; `stem` is the service name the file name implies.
    pub fn read_service(&mut self, stem: &str) -> Option<ParsedService> {
        let table = match DeTable::parse(self.source) {
            Ok(t) => t.into_inner(),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let (message, hint) =
                    toml_error(first_line(e.message()), self.source.get(span.clone()));
                self.hint(span, message, hint);
                return None;
            }
        };
        if self.source.trim().is_empty() {
            self.hint(
                0..0,
                "the file is empty",
                "define the service with at least one [[components]] table (name and image), or remove the file",
            );
            return None;
        }
        self.check_keys(&table, SERVICE_KEYS, "service");

        if !fields::is_service_name(stem) {
            self.hint(
                0..0,
                format!(
                    "file name `{}.toml` is not a valid service name",
                    fields::shown(stem)
                ),
                "rename the file: service names match [a-z0-9][a-z0-9_]{0,62} (no hyphen, no upper case)",
            );
        }
        let mut name = stem.to_string();
        if let Some(v) = table.get("name")
            && let Some(given) = self.string(v, "name")
        {
            if given != stem {
                self.hint(
                    v.span(),
                    format!(
                        "name `{}` differs from the file name `{}.toml`",
                        fields::shown(&given),
                        fields::shown(stem)
                    ),
                    format!(
                        "remove `name` or rename the file to `{}.toml`",
                        fields::shown(&given)
                    ),
                );
            }
            name = given;
        }
        let active = table
            .get("active")
            .and_then(|v| self.boolean(v, "active"))
            .unwrap_or(true);
        let comment = table
            .get("comment")
            .and_then(|v| self.string(v, "comment"))
            .unwrap_or_default();
        if comment.len() > 4096
            && let Some(v) = table.get("comment")
        {
            self.hint(
                v.span(),
                "comment is longer than 4096 bytes",
                "shorten it to at most 4096 bytes",
            );
        }

        let mut components = Vec::new();
        let mut port_positions = BTreeMap::new();
        let mut requires_positions = BTreeMap::new();
        match table.get("components") {
            None => self.hint(
                0..0,
                "the service has no components",
                "add at least one [[components]] table with a name and an image",
            ),
            Some(v) => match v.get_ref() {
                DeValue::Array(items) if !items.is_empty() => {
                    for item in items {
                        if let Some((c, positions)) = self.component(item) {
                            if components.iter().any(|o: &ComponentSpec| o.name == c.name) {
                                self.hint(
                                    item.span(),
                                    format!("duplicate component name `{}`", c.name),
                                    "give each component of a service its own name",
                                );
                                continue;
                            }
                            let index = components.len();
                            for (p, pos) in positions.ports.into_iter().enumerate() {
                                port_positions.insert((index, p), pos);
                            }
                            for (r, pos) in positions.requires.into_iter().enumerate() {
                                requires_positions.insert((index, r), pos);
                            }
                            components.push(c);
                        }
                    }
                }
                DeValue::Array(_) => self.hint(
                    v.span(),
                    "`components` is empty",
                    "add at least one [[components]] table with a name and an image",
                ),
                _ => self.hint(
                    v.span(),
                    "`components` must be an array of tables",
                    "write each component as a [[components]] table",
                ),
            },
        }
        Some(ParsedService {
            spec: ServiceSpec {
                name,
                file: self.file.to_path_buf(),
                active,
                comment,
                components,
            },
            port_positions,
            requires_positions,
        })
    }

    /// Reports unknown keys; returns the known keys suggested for misspellings,
    /// so that "missing key" errors for them are not reported twice.
    fn check_keys<'k>(
        &mut self,
        table: &DeTable<'_>,
        allowed: &[&'k str],
        what: &str,
    ) -> Vec<&'k str> {
        let mut suggested = Vec::new();
        for key in table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                let k = key.get_ref().to_string();
                let hint = match suggest(&k, allowed) {
                    Some(s) => {
                        suggested.push(s);
                        format!("did you mean `{s}`?")
                    }
                    None => format!("known keys: {}", allowed.join(", ")),
                };
                self.hint(
                    key.span(),
                    format!("unknown key `{}` in {what}", fields::shown(&k)),
                    hint,
                );
            }
        }
        suggested
    }

    fn component(&mut self, item: &Val<'_>) -> Option<(ComponentSpec, ComponentPositions)> {
        let DeValue::Table(t) = item.get_ref() else {
            self.hint(
                item.span(),
                "each component must be a table",
                "write components as [[components]] tables",
            );
            return None;
        };
        let misspelt = self.check_keys(t, COMPONENT_KEYS, "component");
        let name = match t.get("name") {
            None => {
                if !misspelt.contains(&"name") {
                    self.hint(
                        item.span(),
                        "component has no `name`",
                        "add name = \"...\" matching [a-z0-9][a-z0-9_-]{0,62}",
                    );
                }
                None
            }
            Some(v) => self.string(v, "name").and_then(|n| {
                if fields::is_component_name(&n) {
                    Some(n)
                } else {
                    self.hint(
                        v.span(),
                        format!("invalid component name `{}`", fields::shown(&n)),
                        "component names match [a-z0-9][a-z0-9_-]{0,62}",
                    );
                    None
                }
            }),
        };
        let image = match t.get("image") {
            None => {
                if !misspelt.contains(&"image") {
                    self.hint(
                        item.span(),
                        "component has no `image`",
                        "add image = \"registry:5000/name:tag\"",
                    );
                }
                None
            }
            Some(v) => self.string(v, "image").and_then(|i| match fields::check_image(&i) {
                Ok(()) => Some(i),
                Err(_) if i.is_empty() => {
                    self.hint(v.span(), "`image` is empty", "name the image to run, e.g. image = \"registry.example:5000/app:v1\"");
                    None
                }
                Err(why) => {
                    self.hint(
                        v.span(),
                        format!("invalid image `{}`: {why}", fields::shown(&i)),
                        "use a reference like registry.example:5000/app:v1 (no spaces or shell characters)",
                    );
                    None
                }
            }),
        };
        let runtime = match t.get("runtime") {
            None => RuntimeKind::Container,
            Some(v) => match self.string(v, "runtime") {
                Some(s) => RuntimeKind::parse(&s).unwrap_or_else(|| {
                    self.hint(
                        v.span(),
                        format!("unknown runtime `{}`", fields::shown(&s)),
                        "use \"container\" or \"unikernel\"",
                    );
                    RuntimeKind::Container
                }),
                None => RuntimeKind::Container,
            },
        };
        let network = t.get("network").and_then(|v| {
            let n = self.string(v, "network")?;
            if !fields::is_network_name(&n) {
                self.hint(
                    v.span(),
                    format!("invalid network name `{}`", fields::shown(&n)),
                    "network names match [a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}",
                );
                return None;
            }
            if fields::NETWORK_MODES.contains(&n.as_str()) {
                self.hint(
                    v.span(),
                    format!("`{n}` is a podman network mode, not a network name"),
                    "name a network for mcp to create, e.g. network = \"mcpnet\", or remove `network` to use podman's default",
                );
                return None;
            }
            if runtime == RuntimeKind::Unikernel {
                self.hint(
                    v.span(),
                    "a unikernel component cannot join a podman network",
                    "remove `network`; VMs use user-mode networking with published ports",
                );
            }
            Some(n)
        });
        let user = t.get("user").and_then(|v| {
            let u = self.string(v, "user")?;
            if !fields::is_user(&u) {
                self.hint(
                    v.span(),
                    format!("invalid user `{}`", fields::shown(&u)),
                    "use user = \"uid[:gid]\" or \"name[:group]\"",
                );
                return None;
            }
            if runtime == RuntimeKind::Unikernel {
                self.hint(
                    v.span(),
                    "a unikernel component has no `user`",
                    "remove `user`; a Nanos VM runs one program",
                );
            }
            Some(u)
        });
        let restart = match t.get("restart") {
            None => RestartPolicy::UnlessStopped,
            Some(v) => match self.string(v, "restart") {
                Some(s) => RestartPolicy::parse(&s).unwrap_or_else(|| {
                    let hint = match suggest(&s, &RestartPolicy::NAMES) {
                        Some(x) => format!("did you mean `{x}`?"),
                        None => format!("use one of: {}", RestartPolicy::NAMES.join(", ")),
                    };
                    self.hint(
                        v.span(),
                        format!("unknown restart policy `{}`", fields::shown(&s)),
                        hint,
                    );
                    RestartPolicy::UnlessStopped
                }),
                None => RestartPolicy::UnlessStopped,
            },
        };
        let mut ports = Vec::new();
        let mut port_positions = Vec::new();
        if let Some(v) = t.get("ports") {
            for item in self.string_array(v, "ports") {
                match fields::parse_port(item.get_ref()) {
                    Ok(p) => {
                        port_positions.push(self.pos(&item.span()));
                        ports.push(p);
                    }
                    Err(why) => self.hint(
                        item.span(),
                        format!("invalid port `{}`: {why}", fields::shown(item.get_ref())),
                        "use podman's syntax: [ip:]hostPort:containerPort[/tcp|udp], e.g. \"127.0.0.1:8080:80\"",
                    ),
                }
            }
        }
        let mut volumes = Vec::new();
        if let Some(v) = t.get("volumes") {
            if runtime == RuntimeKind::Unikernel {
                self.hint(
                    v.span(),
                    "a unikernel component cannot mount volumes",
                    "remove `volumes`; bake files into the image instead",
                );
            }
            for item in self.string_array(v, "volumes") {
                match fields::parse_volume(item.get_ref()) {
                    Ok(vol) if volumes.iter().any(|o: &VolumeSpec| o.target == vol.target) => self
                        .hint(
                            item.span(),
                            format!(
                                "container path `{}` is mounted twice",
                                fields::shown(&vol.target)
                            ),
                            "mount each container path once; remove one of the volumes",
                        ),
                    Ok(vol) => volumes.push(vol),
                    Err(why) => self.hint(
                        item.span(),
                        format!("invalid volume `{}`: {why}", fields::shown(item.get_ref())),
                        "use podman's syntax: /absolute/host/path:/container/path[:ro]",
                    ),
                }
            }
        }
        let cmd = t.get("cmd").map(|v| {
            if let DeValue::String(s) = v.get_ref() {
                self.hint(
                    v.span(),
                    "`cmd` must be an array of strings",
                    format!(
                        "write it as an argv list, e.g. cmd = [\"{}\"]",
                        fields::shown(s)
                    ),
                );
                return Vec::new();
            }
            let args: Vec<String> = self
                .string_array(v, "cmd")
                .into_iter()
                .map(|s| s.into_inner())
                .collect();
            if args.iter().any(|a| a.contains('\0')) {
                self.hint(v.span(), "`cmd` contains a NUL byte", "remove it");
            }
            args
        });
        let env = t
            .get("env")
            .map(|v| self.env(v, runtime))
            .unwrap_or_default();
        let memory_mb = t
            .get("memory_mb")
            .and_then(|v| self.bounded_int(v, "memory_mb", 16, 1 << 20, "a number of MiB"));
        let vcpus = t
            .get("vcpus")
            .and_then(|v| self.bounded_int(v, "vcpus", 1, 256, "a number of vCPUs"));
        let health = t.get("health").and_then(|v| self.health(v, runtime));
        let routes = t.get("routes").map(|v| self.routes(v)).unwrap_or_default();
        let (requires, requires_positions) = t
            .get("requires")
            .map(|v| self.requires(v))
            .unwrap_or_default();
        let rollout = self.rollout(t, &volumes);
        let stop_signal = t
            .get("stop_signal")
            .and_then(|v| self.stop_signal(v, runtime));
        let stop_timeout = t
            .get("stop_timeout")
            .map_or(DEFAULT_STOP_TIMEOUT, |v| self.stop_timeout(v));

        Some((
            ComponentSpec {
                name: name?,
                image: image?,
                runtime,
                network,
                user,
                restart,
                ports,
                volumes,
                cmd,
                env,
                memory_mb,
                vcpus,
                health,
                routes,
                requires,
                rollout,
                stop_signal,
                stop_timeout,
            },
            ComponentPositions {
                ports: port_positions,
                requires: requires_positions,
            },
        ))
    }

    fn env(&mut self, v: &Val<'_>, runtime: RuntimeKind) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let DeValue::Table(t) = v.get_ref() else {
            self.hint(
                v.span(),
                format!("`env` must be a table, found {}", type_name(v.get_ref())),
                "write env = { KEY = \"value\" }",
            );
            return env;
        };
        for (k, val) in t {
            let key = k.get_ref().to_string();
            if !fields::is_env_key(&key) {
                self.hint(
                    k.span(),
                    format!(
                        "invalid environment variable name `{}`",
                        fields::shown(&key)
                    ),
                    "names match [A-Za-z_][A-Za-z0-9_]*",
                );
                continue;
            }
            match val.get_ref() {
                DeValue::String(s) if s.contains('\0') => {
                    self.hint(
                        val.span(),
                        format!("env `{key}` contains a NUL byte"),
                        "remove it",
                    );
                }
                DeValue::String(s) => {
                    let carried = match runtime {
                        RuntimeKind::Container => crate::runtime::podman_env::can_carry(&key, s),
                        RuntimeKind::Unikernel => Ok(()),
                    };
                    match carried {
                        Ok(()) => {
                            env.insert(key, s.to_string());
                        }
                        Err(why) => self.hint(
                            val.span(),
                            why,
                            "keep such a value on one line and under 64 KiB, or put it in a file the container mounts",
                        ),
                    }
                }
                other => self.hint(
                    val.span(),
                    format!("env `{key}` must be a string, found {}", type_name(other)),
                    "quote the value: KEY = \"value\"",
                ),
            }
        }
        env
    }

    fn routes(&mut self, v: &Val<'_>) -> Vec<Route> {
        let DeValue::Array(items) = v.get_ref() else {
            self.hint(
                v.span(),
                "`routes` must be an array of tables",
                "write each route as a [[components.routes]] table",
            );
            return Vec::new();
        };
        let mut routes: Vec<Route> = Vec::new();
        for item in items {
            let DeValue::Table(t) = item.get_ref() else {
                self.hint(
                    item.span(),
                    "each route must be a table",
                    "write [[components.routes]]",
                );
                continue;
            };
            let misspelt = self.check_keys(t, ROUTE_KEYS, "route");
            let name = match t.get("name") {
                None => Some("default".to_string()),
                Some(n) => self.string(n, "routes.name").and_then(|s| {
                    if fields::is_component_name(&s) {
                        Some(s)
                    } else {
                        self.hint(
                            n.span(),
                            format!("invalid route name `{}`", fields::shown(&s)),
                            "route names match [a-z0-9][a-z0-9_-]{0,62}",
                        );
                        None
                    }
                }),
            };
            let port = match t.get("port") {
                Some(p) => self.bounded_int(p, "routes.port", 1, 65535, "a port number"),
                None => {
                    if !misspelt.contains(&"port") {
                        self.hint(item.span(), "route has no `port`", "add port = PORT");
                    }
                    None
                }
            };

            let mode = match t.get("mode") {
                None => Some(RouteMode::L4),
                Some(m) => self.string(m, "routes.mode").and_then(|s| {
                    if let Some(mode) = RouteMode::parse(&s) {
                        Some(mode)
                    } else {
                        self.hint(
                            m.span(),
                            format!("unknown route mode `{}`", fields::shown(&s)),
                            "use \"l4\" or \"l7\"",
                        );
                        None
                    }
                }),
            };
            let hostname = t.get("hostname").and_then(|h| {
                let s = self.string(h, "routes.hostname")?;
                if fields::is_hostname(&s) {
                    Some(s)
                } else {
                    self.hint(
                        h.span(),
                        format!("invalid hostname `{}`", fields::shown(&s)),
                        "use a DNS name like web.example.com",
                    );
                    None
                }
            });
            if let Some(name) = &name
                && routes.iter().any(|r| &r.name == name)
            {
                self.hint(
                    item.span(),
                    format!("duplicate route name `{name}`"),
                    "give each route its own name (a route without `name` is called `default`)",
                );
                continue;
            }
            if let (Some(name), Some(port), Some(mode)) = (name, port, mode) {
                routes.push(Route {
                    name,
                    port: port as u16,
                    mode,
                    hostname,
                });
            }
        }
        routes
    }

    fn string(&mut self, v: &Val<'_>, key: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.hint(
                    v.span(),
                    format!("`{key}` must be a string, found {}", type_name(other)),
                    "quote the value",
                );
                None
            }
        }
    }

    fn boolean(&mut self, v: &Val<'_>, key: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.hint(
                    v.span(),
                    format!("`{key}` must be true or false, found {}", type_name(other)),
                    "write true or false without quotes",
                );
                None
            }
        }
    }

    /// An integer in `min..=max`; `what` describes it for hints ("a number of MiB").
    fn bounded_int(
        &mut self,
        v: &Val<'_>,
        key: &str,
        min: i64,
        max: i64,
        what: &str,
    ) -> Option<u32> {
        let DeValue::Integer(i) = v.get_ref() else {
            self.hint(
                v.span(),
                format!(
                    "`{key}` must be an integer, found {}",
                    type_name(v.get_ref())
                ),
                format!("write {what} between {min} and {max}, without quotes"),
            );
            return None;
        };
        let digits = i.as_str().replace('_', "");
        let (neg, digits) = match digits.strip_prefix('-') {
            Some(d) => (true, d.to_string()),
            None => (false, digits.trim_start_matches('+').to_string()),
        };
        let digits = digits
            .trim_start_matches("0x")
            .trim_start_matches("0o")
            .trim_start_matches("0b");
        let value = i64::from_str_radix(digits, i.radix())
            .ok()
            .map(|n| if neg { -n } else { n });
        match value {
            Some(n) if (min..=max).contains(&n) => u32::try_from(n).ok(),
            _ => {
                self.hint(
                    v.span(),
                    format!("`{key}` = {} is out of range", i.as_str()),
                    format!("use {what} between {min} and {max}"),
                );
                None
            }
        }
    }

    /// The string elements of an array, reporting every element that is not a string.
    fn string_array(&mut self, v: &Val<'_>, key: &str) -> Vec<Spanned<String>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.hint(
                v.span(),
                format!(
                    "`{key}` must be an array of strings, found {}",
                    type_name(v.get_ref())
                ),
                format!("write {key} = [\"...\"]"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                other => self.hint(
                    item.span(),
                    format!(
                        "`{key}` entries must be strings, found {}",
                        type_name(other)
                    ),
                    "quote each entry",
                ),
            }
        }
        out
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Message and hint for a TOML syntax error; `text` is the source at its span.
fn toml_error(msg: &str, text: Option<&str>) -> (String, String) {
    if msg.starts_with("duplicate key") {
        let key = text
            .map(|t| {
                t.trim()
                    .trim_matches(|c| c == '"' || c == '\'' || c == '[' || c == ']')
            })
            .filter(|k| !k.is_empty() && !k.contains('\n'));
        let message = match key {
            Some(k) => format!("invalid TOML: duplicate key `{}`", super::fields::shown(k)),
            None => format!("invalid TOML: {msg}"),
        };
        return (
            message,
            "a key or table may be defined only once; remove or merge the repeated one".into(),
        );
    }
    let hint = if msg.contains("string") && msg.contains("expected `") {
        "close the string with its quote on the same line (use \"\"\" ... \"\"\" for text over several lines)"
    } else if msg.starts_with("unclosed array table") {
        "close the header: [[components]]"
    } else if msg.starts_with("unclosed table") {
        "close the header with `]`, e.g. [components.health]"
    } else if msg.starts_with("unclosed array") {
        "close the array with `]`"
    } else if msg.starts_with("unclosed inline table") {
        "close the inline table with `}` on the same line"
    } else if msg.starts_with("string values must be quoted") {
        "quote the value: key = \"value\""
    } else {
        "fix the TOML syntax at this position"
    };
    (format!("invalid TOML: {msg}"), hint.into())
}

/// `s` with control characters escaped, for messages that quote a value
/// inside a longer explanation (which [`fields::shown`] would cut short).
fn without_controls(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let (plain, escaped) = if c.is_control() {
                (None, Some(c.escape_default()))
            } else {
                (Some(c), None)
            };
            plain.into_iter().chain(escaped.into_iter().flatten())
        })
        .collect()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}

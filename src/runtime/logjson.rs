//! `mcp --json logs`: one JSON object per log line, so scripts can follow a
//! component's output without parsing podman's or the console's format:
//! `{"time": "2026-12-07T23:10:01.123456789Z" | null, "stream": "stdout" |
//! "stderr" | "console", "line": "...", "component": "web/api"}`.

use std::io::Write;

use serde::Serialize;

/// Which stream a line came from: the container's stdout or stderr, or a
/// VM's serial console (which mixes both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
    Console,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine<'a> {
    /// RFC 3339, when the runtime knows when the line was written.
    pub time: Option<String>,
    pub stream: Stream,
    pub line: &'a str,
    pub component: &'a str,
}

/// Writes one JSON line. A reader that went away (`| head`) ends the output
/// quietly, as for plain logs.
pub fn emit(out: &mut dyn Write, line: &LogLine<'_>) -> anyhow::Result<()> {
    let written = serde_json::to_writer(&mut *out, line)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Splits a line of `podman logs --timestamps` into its time and text:
/// podman puts an RFC 3339 time and one space before each line.
pub fn split_podman_timestamp(line: &str) -> (Option<&str>, &str) {
    match line.split_once(' ') {
        Some((time, rest))
            if time.len() >= 20
                && time.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && time.as_bytes()[10] == b'T' =>
        {
            (Some(time), rest)
        }
        _ => (None, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_timestamps_are_split_off() {
        assert_eq!(
            split_podman_timestamp("2026-12-07T23:10:01.123456789+00:00 hello world"),
            (Some("2026-12-07T23:10:01.123456789+00:00"), "hello world")
        );
        assert_eq!(
            split_podman_timestamp("2026-12-07T23:10:01Z "),
            (Some("2026-12-07T23:10:01Z"), "")
        );
        assert_eq!(
            split_podman_timestamp("no time here"),
            (None, "no time here")
        );
        assert_eq!(split_podman_timestamp(""), (None, ""));
    }

    #[test]
    fn one_json_object_per_line() {
        let mut out = Vec::new();
        emit(
            &mut out,
            &LogLine {
                time: None,
                stream: Stream::Console,
                line: "boot \"ok\"",
                component: "vm/app",
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"time\":null,\"stream\":\"console\",\"line\":\"boot \\\"ok\\\"\",\"component\":\"vm/app\"}\n"
        );
    }
}

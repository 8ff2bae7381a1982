//! A VM's logs are its serial console, written by qemu to `serial.log`.
//!
//! The console has no timestamps, so mcp writes a marker line before every
//! boot and after every stop; `--since T` starts at the last boot marker at
//! or before T (the boot that was running at T). The log is rotated by
//! copy-and-truncate when it passes [`ROTATE_AT`] (qemu appends with
//! O_APPEND, so truncation is safe); one old generation is kept.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

pub const ROTATE_AT: u64 = 8 * 1024 * 1024;
const MARKER: &str = "-- mcp: ";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Appends an mcp marker line (`-- mcp: boot at 1700000000 --`).
pub fn mark(log: &Path, what: &str) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    writeln!(f, "{MARKER}{what} at {} --", now())
        .with_context(|| format!("writing {}", log.display()))
}

/// The time in a boot marker line, if it is one: `boot at T` or, with the
/// machine named, `boot (tcg, max) at T`.
fn boot_marker_time(line: &str) -> Option<i64> {
    let rest = line.strip_prefix(MARKER)?.strip_prefix("boot")?;
    if !(rest.starts_with(" at ") || rest.starts_with(" (")) {
        return None;
    }
    let (_, time) = rest.strip_suffix(" --")?.rsplit_once(" at ")?;
    time.trim().parse().ok()
}

/// The time of an mcp marker line (`-- mcp: boot at 1700000000 --`).
fn marker_time(line: &str) -> Option<i64> {
    let rest = line.strip_prefix(MARKER)?.strip_suffix(" --")?;
    rest.rsplit_once(" at ")?.1.trim().parse().ok()
}

/// One console line as JSON. The console carries no times; mcp's own
/// marker lines do.
fn emit_json(out: &mut dyn Write, line: &str, component: &str) -> anyhow::Result<()> {
    super::logjson::emit(
        out,
        &super::logjson::LogLine {
            time: marker_time(line).map(crate::timefmt::rfc3339),
            stream: super::logjson::Stream::Console,
            line,
            component,
        },
    )
}

/// Keeps the log under the bound: copies it to `serial.log.1` and truncates.
pub fn rotate_if_large(log: &Path) -> anyhow::Result<()> {
    let Ok(meta) = fs::metadata(log) else {
        return Ok(());
    };
    if meta.len() < ROTATE_AT {
        return Ok(());
    }
    let old = log.with_extension("log.1");
    fs::copy(log, &old).with_context(|| format!("rotating {}", log.display()))?;
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(log)
        .and_then(|f| f.set_len(0))
        .with_context(|| format!("truncating {}", log.display()))
}

/// The lines to print: from the boot running at `since`, then the last `tail`.
pub fn select(text: &str, tail: Option<u64>, since: Option<i64>) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(t) = since {
        let start = lines
            .iter()
            .rposition(|l| boot_marker_time(l).is_some_and(|b| b <= t))
            .unwrap_or(0);
        lines.drain(..start);
    }
    if let Some(n) = tail {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    lines
}

/// Prints the selected lines; with `follow`, keeps printing what the guest
/// writes until `alive` says the VM is gone (and the rest is drained).
pub fn print(
    log: &Path,
    tail: Option<u64>,
    since: Option<i64>,
    follow: bool,
    alive: &dyn Fn() -> bool,
    json_component: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut file = match File::open(log) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !follow => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("opening {}", log.display())),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", log.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    for line in select(&text, tail, since) {
        match json_component {
            Some(c) => emit_json(out, line, c)?,
            None => writeln!(out, "{line}")?,
        }
    }
    out.flush()?;
    if !follow {
        return Ok(());
    }
    let mut pos = bytes.len() as u64;
    let mut buf = Vec::new();
    // JSON lines need whole lines: a partial one waits for its end.
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let len = fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        if len < pos {
            // Rotated (truncated): start again from the top.
            pos = 0;
        }
        if len > pos {
            file.seek(SeekFrom::Start(pos))?;
            buf.clear();
            Read::by_ref(&mut file)
                .take(len - pos)
                .read_to_end(&mut buf)?;
            pos += buf.len() as u64;
            match json_component {
                Some(c) => {
                    partial.extend_from_slice(&buf);
                    while let Some(end) = partial.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = partial.drain(..=end).collect();
                        let text = String::from_utf8_lossy(&line);
                        emit_json(out, text.trim_end_matches(['\n', '\r']), c)?;
                    }
                }
                None => {
                    out.write_all(&buf)?;
                    out.flush()?;
                }
            }
            continue;
        }
        if !alive() {
            if let (Some(c), false) = (json_component, partial.is_empty()) {
                emit_json(out, &String::from_utf8_lossy(&partial), c)?;
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_and_since_by_boot_marker() {
        let log = "-- mcp: boot at 100 --\nold 1\nold 2\n-- mcp: stopped by system_powerdown at 150 --\n-- mcp: boot at 200 --\nnew 1\nnew 2\n";
        assert_eq!(select(log, Some(2), None), vec!["new 1", "new 2"]);
        assert_eq!(select(log, None, Some(250))[0], "-- mcp: boot at 200 --");
        assert_eq!(select(log, None, Some(120))[1], "old 1");
        assert_eq!(select(log, None, Some(50)).len(), 7);
        assert_eq!(select(log, Some(0), None).len(), 0);
    }

    #[test]
    fn json_lines_carry_the_time_of_markers_only() {
        let mut out = Vec::new();
        emit_json(&mut out, "-- mcp: boot at 1700000000 --", "vm/app").unwrap();
        emit_json(&mut out, "hello", "vm/app").unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["time"], "2023-11-14T22:13:20Z");
        assert_eq!(lines[1]["time"], serde_json::Value::Null);
        assert_eq!(lines[1]["stream"], "console");
        assert_eq!(lines[1]["component"], "vm/app");
    }

    #[test]
    fn boot_markers_name_the_machine_or_not() {
        assert_eq!(boot_marker_time("-- mcp: boot at 100 --"), Some(100));
        assert_eq!(
            boot_marker_time("-- mcp: boot (tcg, max) at 1796684651 --"),
            Some(1_796_684_651)
        );
        assert_eq!(boot_marker_time("-- mcp: stopped by quit at 5 --"), None);
        assert_eq!(boot_marker_time("-- mcp: booting at 5 --"), None);
        assert_eq!(boot_marker_time("boot at 5"), None);
        let log =
            "-- mcp: boot (tcg, max) at 100 --\nold\n-- mcp: boot (kvm, host) at 200 --\nnew\n";
        assert_eq!(
            select(log, None, Some(250)),
            vec!["-- mcp: boot (kvm, host) at 200 --", "new"]
        );
    }

    #[test]
    fn rotation_keeps_one_generation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serial.log");
        fs::write(&log, vec![b'x'; (ROTATE_AT + 1) as usize]).unwrap();
        rotate_if_large(&log).unwrap();
        assert_eq!(fs::metadata(&log).unwrap().len(), 0);
        assert_eq!(
            fs::metadata(dir.path().join("serial.log.1")).unwrap().len(),
            ROTATE_AT + 1
        );
        fs::write(&log, "small").unwrap();
        rotate_if_large(&log).unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "small");
    }
}

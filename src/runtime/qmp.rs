//! A small QMP client: one JSON object per line over a unix socket, with
//! timeouts on every read and write. Written by hand because the `qapi`
//! crate panics when the socket closes before the greeting, which is exactly
//! what a dying qemu does.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

/// One message from qemu.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Greeting,
    Return(Value),
    Error { class: String, desc: String },
    Event(String),
}

/// Parses one line of QMP output.
pub fn parse_message(line: &str) -> anyhow::Result<Message> {
    let v: Value = serde_json::from_str(line.trim())
        .with_context(|| format!("QMP sent something that is not JSON: {line:?}"))?;
    if v.get("QMP").is_some() {
        return Ok(Message::Greeting);
    }
    if let Some(r) = v.get("return") {
        return Ok(Message::Return(r.clone()));
    }
    if let Some(e) = v.get("error") {
        let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        return Ok(Message::Error {
            class: text("class"),
            desc: text("desc"),
        });
    }
    if let Some(ev) = v.get("event").and_then(Value::as_str) {
        return Ok(Message::Event(ev.to_string()));
    }
    anyhow::bail!("unexpected QMP message: {line}")
}

/// The `status` of a `query-status` answer (`running`, `internal-error`, ...).
pub fn run_state(ret: &Value) -> Option<&str> {
    ret.get("status").and_then(Value::as_str)
}

pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    timeout: Duration,
}

impl Qmp {
    /// Connects, reads the greeting and enters command mode.
    pub fn connect(socket: &Path, timeout: Duration) -> anyhow::Result<Self> {
        let stream = UnixStream::connect(socket)
            .with_context(|| format!("connecting to QMP at {}", socket.display()))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone().context("cloning the QMP socket")?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
            timeout,
        };
        match qmp.read()? {
            Message::Greeting => {}
            other => anyhow::bail!("QMP did not greet first: {other:?}"),
        }
        qmp.execute("qmp_capabilities")?;
        Ok(qmp)
    }

    fn read(&mut self) -> anyhow::Result<Message> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .with_context(|| format!("reading from QMP (timeout {:?})", self.timeout))?;
        if n == 0 {
            anyhow::bail!("qemu closed the QMP connection");
        }
        parse_message(&line)
    }

    /// Runs a command and returns its `return` value; events are skipped.
    pub fn execute(&mut self, command: &str) -> anyhow::Result<Value> {
        self.execute_with(command, None)
    }

    /// A human monitor command (`info usernet`), for what QMP has no command of its own.
    pub fn human(&mut self, command_line: &str) -> anyhow::Result<String> {
        let ret = self.execute_with(
            "human-monitor-command",
            Some(json!({ "command-line": command_line })),
        )?;
        ret.as_str()
            .map(str::to_string)
            .with_context(|| format!("`{command_line}` returned no text"))
    }

    fn execute_with(&mut self, command: &str, arguments: Option<Value>) -> anyhow::Result<Value> {
        let mut request = match arguments {
            Some(a) => json!({ "execute": command, "arguments": a }),
            None => json!({ "execute": command }),
        }
        .to_string();
        request.push('\n');
        self.writer
            .write_all(request.as_bytes())
            .with_context(|| format!("sending {command} to QMP"))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.read()? {
                Message::Return(v) => return Ok(v),
                Message::Error { class, desc } => {
                    anyhow::bail!("QMP {command} failed: {class}: {desc}")
                }
                Message::Event(_) | Message::Greeting if Instant::now() < deadline => {}
                _ => anyhow::bail!("no answer to QMP {command} within {:?}", self.timeout),
            }
        }
    }

    /// `query-status`'s run state.
    pub fn status(&mut self) -> anyhow::Result<String> {
        let ret = self.execute("query-status")?;
        run_state(&ret)
            .map(str::to_string)
            .context("query-status returned no status")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qmp_messages() {
        let greeting = r#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}"#;
        assert_eq!(parse_message(greeting).unwrap(), Message::Greeting);
        assert_eq!(
            parse_message(r#"{"return": {}}"#).unwrap(),
            Message::Return(json!({}))
        );
        let status = parse_message(
            r#"{"return": {"status": "internal-error", "singlestep": false, "running": false}}"#,
        )
        .unwrap();
        let Message::Return(v) = status else {
            panic!("not a return")
        };
        assert_eq!(run_state(&v), Some("internal-error"));
        assert_eq!(
            parse_message(
                r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "POWERDOWN"}"#
            )
            .unwrap(),
            Message::Event("POWERDOWN".into())
        );
        assert_eq!(
            parse_message(r#"{"error": {"class": "CommandNotFound", "desc": "nope"}}"#).unwrap(),
            Message::Error {
                class: "CommandNotFound".into(),
                desc: "nope".into()
            }
        );
        assert!(parse_message("not json").is_err());
        assert!(parse_message(r#"{"other": 1}"#).is_err());
    }

    #[test]
    fn talks_to_a_fake_qemu() {
        use std::io::{BufRead, BufReader, Write};
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            assert!(line.contains("qmp_capabilities"));
            s.write_all(b"{\"return\": {}}\n").unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            assert!(line.contains("query-status"));
            s.write_all(b"{\"event\": \"RESUME\", \"timestamp\": {}}\n{\"return\": {\"status\": \"running\", \"running\": true}}\n").unwrap();
        });
        let mut qmp = Qmp::connect(&sock, Duration::from_secs(5)).unwrap();
        assert_eq!(qmp.status().unwrap(), "running");
        server.join().unwrap();
    }
}

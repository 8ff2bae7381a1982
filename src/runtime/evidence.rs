//! Why an instance failed, kept before a rollback removes it: its exit code
//! and its last log lines. Carried as an error context from the rollout to
//! the executor, which records it with the event.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How many log lines are kept.
pub const LOG_LINES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The instance that failed.
    pub instance: String,
    /// Its exit code, when it had exited.
    pub exit_code: Option<i32>,
    /// Its last log lines (stdout, then stderr), oldest first.
    pub log: Vec<String>,
}

impl Evidence {
    /// Keeps the last [`LOG_LINES`] lines of `stdout` followed by `stderr`.
    pub fn new(instance: &str, exit_code: Option<i32>, stdout: &str, stderr: &str) -> Self {
        let lines: Vec<String> = stdout
            .lines()
            .chain(stderr.lines())
            .map(str::to_string)
            .collect();
        let skip = lines.len().saturating_sub(LOG_LINES);
        Evidence {
            instance: instance.to_string(),
            exit_code,
            log: lines.into_iter().skip(skip).collect(),
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.exit_code {
            Some(code) => write!(f, "{} exited with {code}", self.instance)?,
            None => write!(f, "{} had not exited", self.instance)?,
        }
        match self.log.last() {
            Some(line) => write!(f, "; its last log line: {line} (mcp history shows more)"),
            None => write!(f, "; it logged nothing"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_says_where_the_rest_is() {
        let out: String = (1..=60).map(|i| format!("line {i}\n")).collect();
        let e = Evidence::new("web-api", Some(1), &out, "[emerg] unknown directive\n");
        assert_eq!(e.log.len(), LOG_LINES);
        assert_eq!(e.log[0], "line 12");
        assert_eq!(e.log.last().unwrap(), "[emerg] unknown directive");
        assert_eq!(
            e.to_string(),
            "web-api exited with 1; its last log line: [emerg] unknown directive (mcp history shows more)"
        );
    }
}

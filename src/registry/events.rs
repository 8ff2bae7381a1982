//! The append-only history that `mcp history` shows.

use std::fmt;

use rusqlite::params;
use serde::Serialize;

use super::Registry;
use crate::runtime::vmstate::proc_start_ticks;

#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub command: &'a str,
    pub service: &'a str,
    pub component: Option<&'a str>,
    pub action: &'a str,
    pub detail: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: String,
    pub command: String,
    pub service: String,
    pub component: Option<String>,
    pub action: String,
    pub detail: String,
    pub outcome: EventOutcome,
    /// Why a rollout failed: exit code and last log lines of the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::runtime::evidence::Evidence>,
}

/// What became of an event's action. `Pending` until it finishes; a run
/// killed meanwhile leaves it to the next run to mark `Interrupted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Pending,
    Ok,
    Failed(String),
    Skipped,
    Interrupted,
}

impl EventOutcome {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => EventOutcome::Pending,
            "ok" => EventOutcome::Ok,
            "skipped" => EventOutcome::Skipped,
            "interrupted" => EventOutcome::Interrupted,
            other => EventOutcome::Failed(other.strip_prefix("failed: ")?.to_string()),
        })
    }
}

impl fmt::Display for EventOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventOutcome::Pending => f.write_str("pending"),
            EventOutcome::Ok => f.write_str("ok"),
            EventOutcome::Failed(why) => write!(f, "failed: {why}"),
            EventOutcome::Skipped => f.write_str("skipped"),
            EventOutcome::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// Shown as its text, as `mcp history --json` always printed it.
impl Serialize for EventOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Registry {
    /// Records something that happened outside any plan, already finished
    /// (`update` records the checks and pulls that failed before it plans).
    pub fn record_event(&self, e: &NewEvent<'_>, outcome: &EventOutcome) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO events (command, service, component, action, detail, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                e.command,
                e.service,
                e.component,
                e.action,
                e.detail,
                outcome
            ],
        )?;
        Ok(())
    }

    /// Records the intent of a whole plan before anything runs, in one
    /// transaction: one `pending` event per action. Events still pending
    /// from a run that was killed are first marked `interrupted` (callers
    /// hold the state lock, so no live run owns them).
    pub fn begin_events(&mut self, events: &[NewEvent<'_>]) -> anyhow::Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE events SET outcome = 'interrupted' WHERE outcome = 'pending'",
            [],
        )?;
        let mut ids = Vec::with_capacity(events.len());
        let run = Run::current();
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events (command, service, component, action, detail, outcome,
                    run_pid, run_start)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7)",
            )?;
            for e in events {
                stmt.execute(params![
                    e.command,
                    e.service,
                    e.component,
                    e.action,
                    e.detail,
                    run.map(|r| r.pid),
                    run.map(|r| r.start as i64),
                ])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Records the outcome of an event begun with [`Registry::begin_events`].
    pub fn finish_event(&self, id: i64, outcome: &EventOutcome) -> anyhow::Result<()> {
        self.finish_event_with(id, outcome, None)
    }

    /// [`Registry::finish_event`], keeping the evidence of a failure.
    pub fn finish_event_with(
        &self,
        id: i64,
        outcome: &EventOutcome,
        evidence: Option<&crate::runtime::evidence::Evidence>,
    ) -> anyhow::Result<()> {
        let evidence = evidence.map(serde_json::to_string).transpose()?;
        self.conn.execute(
            "UPDATE events SET outcome = ?2, evidence = ?3 WHERE id = ?1",
            params![id, outcome, evidence],
        )?;
        Ok(())
    }

    /// Newest first; `service` filters, `limit` bounds the count. A
    /// `pending` event whose run is gone reads `interrupted` (the stored row
    /// is left for the next mutating run to settle: reading takes no lock).
    pub fn events(&self, service: Option<&str>, limit: usize) -> anyhow::Result<Vec<Event>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, command, service, component, action, detail, outcome, evidence,
                run_pid, run_start FROM events
             WHERE ?1 IS NULL OR service = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![service, limit as i64], |r| {
                let run = match (r.get::<_, Option<u32>>(9)?, r.get::<_, Option<i64>>(10)?) {
                    (Some(pid), Some(start)) => Some(Run {
                        pid,
                        start: start as u64,
                    }),
                    _ => None,
                };
                let mut outcome: EventOutcome = r.get(7)?;
                // Events written before runs were recorded have no owner to
                // check; they stay pending until the next run marks them.
                if outcome == EventOutcome::Pending && run.is_some_and(|run| !run.alive()) {
                    outcome = EventOutcome::Interrupted;
                }
                Ok(Event {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    command: r.get(2)?,
                    service: r.get(3)?,
                    component: r.get(4)?,
                    action: r.get(5)?,
                    detail: r.get(6)?,
                    outcome,
                    evidence: r
                        .get::<_, Option<String>>(8)?
                        .and_then(|j| serde_json::from_str(&j).ok()),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

/// The mcp process that owns pending events: a pid alone could be reused by
/// another process after the run died, so its start time is kept with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot.
    start: u64,
}

impl Run {
    fn current() -> Option<Run> {
        let pid = std::process::id();
        let start = proc_start_ticks(pid)?;
        Some(Run { pid, start })
    }

    fn alive(self) -> bool {
        proc_start_ticks(self.pid) == Some(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(reg: &mut Registry) -> i64 {
        reg.begin_events(&[NewEvent {
            command: "sync",
            service: "web",
            component: Some("api"),
            action: "create",
            detail: "missing",
        }])
        .unwrap()[0]
    }

    #[test]
    fn pending_events_of_a_live_run_stay_pending() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Registry::open(&dir.path().join("r.db")).unwrap();
        pending(&mut reg);
        assert_eq!(
            reg.events(None, 10).unwrap()[0].outcome,
            EventOutcome::Pending
        );
    }

    #[test]
    fn pending_events_of_a_dead_run_read_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Registry::open(&dir.path().join("r.db")).unwrap();
        let id = pending(&mut reg);
        // Same pid, another start time: the pid was reused, the run is gone.
        reg.conn
            .execute(
                "UPDATE events SET run_start = run_start + 1 WHERE id = ?1",
                [id],
            )
            .unwrap();
        assert_eq!(
            reg.events(None, 10).unwrap()[0].outcome,
            EventOutcome::Interrupted
        );
        // A finished event keeps its outcome whatever became of its run.
        reg.finish_event(id, &EventOutcome::Ok).unwrap();
        assert_eq!(reg.events(None, 10).unwrap()[0].outcome, EventOutcome::Ok);
    }
}

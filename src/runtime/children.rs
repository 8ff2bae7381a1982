//! Outstanding external commands, remembered on disk so that a run killed
//! with -9 does not leave the next one racing its orphans.
//!
//! Killing a child along with mcp is worse than letting it finish: a podman
//! killed half way leaves netavark's port forwards and reservations behind.
//! So each child runs in a process group of its own (its pid), recorded in
//! `<state_dir>/mcp.children` while it runs. The next mcp, once it holds the
//! lock, waits for any recorded group that still has members before it looks
//! at the runtime. Daemons that podman starts (conmon) leave the group with
//! setsid, so they are not waited for.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Ledger {
    path: PathBuf,
    groups: BTreeSet<u32>,
}

/// A handle on the ledger of the command that holds the state lock; the
/// default records nothing (commands that change nothing take no lock).
#[derive(Clone, Default)]
pub struct Children(Option<Arc<Mutex<Ledger>>>);

impl std::fmt::Debug for Children {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Children(recording)"
        } else {
            "Children(none)"
        })
    }
}

fn write(ledger: &Ledger) {
    let text: String = ledger.groups.iter().map(|g| format!("{g}\n")).collect();
    // Best effort: losing the ledger only loses the wait, never correctness
    // of the registry; the planner still recovers from what it observes.
    // Never through a symlink planted in its place.
    let _ = crate::safefs::write_nofollow(&ledger.path, text.as_bytes());
}

/// Whether any process is still in process group `pgid`.
fn group_alive(pgid: u32) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for existence and permission.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

impl Children {
    /// Starts recording children in `path`, after waiting (up to
    /// `patience`) for the groups a previous, killed run left there.
    /// Returns the handle and how many groups were waited for.
    pub fn adopt_ledger(path: PathBuf, patience: Duration) -> (Self, usize) {
        let left: Vec<u32> = crate::safefs::read_nofollow(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .filter(|g| group_alive(*g))
            .collect();
        let deadline = Instant::now().checked_add(patience);
        while left.iter().any(|g| group_alive(*g)) && deadline.is_none_or(|d| Instant::now() < d) {
            sleep(Duration::from_millis(100));
        }
        let ledger = Ledger {
            path,
            groups: BTreeSet::new(),
        };
        write(&ledger);
        (Children(Some(Arc::new(Mutex::new(ledger)))), left.len())
    }

    fn update(&self, change: impl FnOnce(&mut BTreeSet<u32>)) {
        if let Some(ledger) = &self.0
            && let Ok(mut ledger) = ledger.lock()
        {
            change(&mut ledger.groups);
            write(&ledger);
        }
    }

    pub fn started(&self, pid: u32) {
        self.update(|g| {
            g.insert(pid);
        });
    }

    pub fn finished(&self, pid: u32) {
        self.update(|g| {
            g.remove(&pid);
        });
    }
}

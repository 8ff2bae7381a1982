//! The state lock: an exclusive `flock` on `<state_dir>/mcp.lock` held by
//! every mutating command. The kernel releases it when the process dies, so
//! a killed mcp never leaves a stale lock. The file records who holds it.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::exit::LockHeld;
use crate::runtime::children::Children;
use crate::timefmt;

const POLL: Duration = Duration::from_millis(100);

/// Held for the life of a mutating command; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    /// The ledger of this run's external commands, for the tools it runs.
    pub children: Children,
}

/// Takes the lock, waiting up to `wait` for another mcp to release it.
pub fn acquire(state_dir: &Path, command: &str, wait: Duration) -> anyhow::Result<StateLock> {
    // VM state and the lock record live here: it must be ours alone.
    crate::safefs::private_dir(state_dir, "state directory")?;
    let path = state_dir.join("mcp.lock");
    let mut file = crate::safefs::open_private(&path, "lock file", false)?;
    // A wait too long to add to now waits for ever.
    let deadline = Instant::now().checked_add(wait);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) if deadline.is_none_or(|d| Instant::now() < d) => {
                sleep(POLL)
            }
            Err(fs::TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file);
                return Err(LockHeld(format!(
                    "another mcp holds the lock {} ({holder}); waited {}s. Try again later, or wait longer with --lock-wait",
                    path.display(),
                    wait.as_secs()
                ))
                .into());
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
    }
    let record = format!(
        "pid={}\ncommand={command}\nstarted={}\n",
        std::process::id(),
        timefmt::rfc3339(timefmt::unix_now())
    );
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(record.as_bytes())
        .with_context(|| format!("recording the lock holder in {}", path.display()))?;
    // A killed predecessor's podman calls may still be finishing: let them.
    let (children, _) = Children::adopt_ledger(state_dir.join("mcp.children"), wait);
    Ok(StateLock {
        _file: file,
        children,
    })
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "pid {}, `mcp {}`, since {}",
        field("pid"),
        field("command"),
        field("started")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_then_fails_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "sync", Duration::ZERO).unwrap();
        let err = acquire(dir.path(), "deploy", Duration::from_millis(200)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("`mcp sync`"), "{msg}");
        assert_eq!(crate::exit::code_for(&err), crate::exit::LOCKED);
        drop(first);
        acquire(dir.path(), "deploy", Duration::ZERO).unwrap();
    }
}

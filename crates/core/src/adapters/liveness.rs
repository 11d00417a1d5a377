//! Whether the process that left something behind (a ledger claim, a work directory, a staged
//! file) is still running on this machine, and the sweep that removes what dead ones left.
//!
//! A process is named by its pid and its start time (`/proc/{pid}/stat`, field 22, in clock
//! ticks since boot), so a recycled pid is not mistaken for the original: in a Lambda sandbox
//! the runtime's pid is the same after every restart, its start time is not. Where `/proc` is
//! absent (macOS) nothing can be told and callers fall back to leases and ages.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A running process's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// The process id the system gave it (reused by later processes: `start` tells them
    /// apart).
    pub pid: u32,
    /// Its start time in clock ticks since boot (0 where unknown).
    pub start: u64,
}

impl ProcessId {
    /// This process: its pid and its start time (0 where `/proc` is absent).
    pub fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// `Some(true)` when the process runs, `Some(false)` when it certainly does not,
    /// `None` when this machine cannot tell.
    pub fn alive(&self) -> Option<bool> {
        if !Path::new("/proc/self/stat").exists() {
            return None;
        }
        match start_time(self.pid) {
            None => Some(false),
            Some(start) => Some(self.start == 0 || start == self.start),
        }
    }

    /// A token for file names: `{pid}-{start}`.
    pub fn token(&self) -> String {
        format!("{}-{}", self.pid, self.start)
    }

    /// Parses a [`token`](Self::token).
    pub fn from_token(token: &str) -> Option<Self> {
        let (pid, start) = token.split_once('-')?;
        Some(Self {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
        })
    }
}

/// The start of a name [`sweep_dead`] recognises as this process's: `{prefix}{pid}-{start}-`.
pub fn owned_prefix(prefix: &str) -> String {
    format!("{prefix}{}-", ProcessId::current().token())
}

/// How old an entry of an unknown process (no `/proc` to ask) must be for [`sweep_dead`] to
/// remove it.
pub const STALE_UNKNOWN_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes the files and directories directly under `parent` named `{prefix}{token}-…` (see
/// [`ProcessId::token`]) whose process no longer runs; where this machine cannot tell, those
/// older than [`STALE_UNKNOWN_AGE`]. Entries of live processes, and anything not named so, are
/// left alone. Returns how many were removed.
pub fn sweep_dead(parent: &Path, prefix: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let mut parts = rest.splitn(3, '-');
        let token = match (parts.next(), parts.next()) {
            (Some(pid), Some(start)) => format!("{pid}-{start}"),
            _ => continue,
        };
        let Some(owner) = ProcessId::from_token(&token) else {
            continue;
        };
        let stale = match owner.alive() {
            Some(alive) => !alive,
            None => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_UNKNOWN_AGE),
        };
        if !stale {
            continue;
        }
        let path = entry.path();
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if gone.is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %parent.display(), prefix, "removed what runs that died left behind");
    }
    removed
}

/// Field 22 of `/proc/{pid}/stat`. The command name (field 2) is in parentheses and may hold
/// spaces, so fields are counted after its closing parenthesis.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first; field 22 is the 20th.
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_child_is_not() {
        let me = ProcessId::current();
        assert_ne!(me.alive(), Some(false));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let id = ProcessId {
            pid: child.id(),
            start: start_time(child.id()).unwrap_or(1),
        };
        child.wait().unwrap();
        if me.alive().is_some() {
            assert_eq!(id.alive(), Some(false));
        }
    }

    #[test]
    fn a_recycled_pid_with_another_start_time_is_not_the_same_process() {
        let mut me = ProcessId::current();
        if me.alive().is_some() {
            me.start += 1;
            assert_eq!(me.alive(), Some(false));
        }
    }

    #[test]
    fn tokens_round_trip() {
        let id = ProcessId { pid: 42, start: 7 };
        assert_eq!(ProcessId::from_token(&id.token()), Some(id));
        assert_eq!(ProcessId::from_token("x-1"), None);
    }
}

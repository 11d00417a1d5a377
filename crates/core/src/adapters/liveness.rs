//! Whether the process that left something behind (a ledger claim, a work directory) is still
//! running on this machine.
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
    /// The pid.
    pub pid: u32,
    /// Its start time in clock ticks since boot (0 where unknown).
    pub start: u64,
}

impl ProcessId {
    /// This process.
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

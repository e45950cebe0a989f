//! Whether the store's owner can answer: its process id is kept in `<data dir>/run/owner.pid`
//! while it serves, and on Linux `/proc` tells whether that process is stopped (SIGSTOP,
//! Ctrl-Z, a debugger) or gone. A client uses this to fail at once with the cause instead of
//! waiting on a socket that nobody reads.

use std::path::{Path, PathBuf};

/// Where the owner writes its process id.
pub(crate) fn pid_path(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("owner.pid")
}

/// The process id the current owner wrote, if any.
pub(crate) fn owner_pid(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_path(data_dir))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What can be told of a process from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcessState {
    /// Running or sleeping: it may answer.
    Alive,
    /// Stopped by a signal or a debugger: it cannot answer until resumed.
    Stopped,
    /// Exited (or a zombie): its lock is being released.
    Gone,
    /// This platform cannot tell.
    Unknown,
}

/// The state of process `pid`.
#[cfg(target_os = "linux")]
pub(crate) fn process_state(pid: u32) -> ProcessState {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return ProcessState::Gone;
    };
    // `pid (comm) S ...`: the command may hold spaces and parentheses, the state follows the
    // last closing parenthesis.
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].trim_start().chars().next());
    match state {
        Some('T' | 't') => ProcessState::Stopped,
        Some('Z' | 'X' | 'x') => ProcessState::Gone,
        Some(_) => ProcessState::Alive,
        None => ProcessState::Unknown,
    }
}

/// Elsewhere only a socket timeout tells.
#[cfg(not(target_os = "linux"))]
pub(crate) fn process_state(_pid: u32) -> ProcessState {
    ProcessState::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_stopped_child_is_seen_stopped_and_a_reaped_one_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert_eq!(process_state(pid), ProcessState::Alive);
        let signal = |sig: &str| {
            std::process::Command::new("kill")
                .args([sig, &pid.to_string()])
                .status()
                .unwrap()
        };
        signal("-STOP");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while process_state(pid) != ProcessState::Stopped && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(process_state(pid), ProcessState::Stopped);
        signal("-CONT");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(process_state(pid), ProcessState::Gone);
    }

    #[test]
    fn the_pid_file_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(owner_pid(dir.path()), None);
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(pid_path(dir.path()), "4242\n").unwrap();
        assert_eq!(owner_pid(dir.path()), Some(4242));
    }
}

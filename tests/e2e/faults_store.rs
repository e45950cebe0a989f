//! Faults of the store's owner: leaked connections, a stopped owner, a full disk, corrupt files.

use std::time::{Duration, Instant};

use crate::util::{HttpServer, setup};

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn signal(pid: u32, sig: &str) {
    std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
}

#[test]
fn cli_commands_against_a_running_owner_leave_no_file_descriptor_behind() {
    let dir = setup("test", "pro");
    let server = HttpServer::start(&dir, "test", &[]);
    dir.cmd(&["key", "list"]).run();
    std::thread::sleep(Duration::from_millis(200));
    let before = open_fds(server.pid());
    for _ in 0..40 {
        dir.cmd(&["key", "list", "--json"]).run();
    }
    // Connection threads notice the closed socket within moments.
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds(server.pid()) > before + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = open_fds(server.pid());
    assert!(
        after <= before + 2,
        "40 CLI commands left the owner with {after} file descriptors (was {before})"
    );
}

#[test]
fn a_stopped_owner_is_named_at_once_and_work_resumes_when_it_does() {
    let dir = setup("test", "pro");
    let server = HttpServer::start(&dir, "test", &[]);
    let pid = server.pid();
    signal(pid, "-STOP");
    let started = Instant::now();
    let ran = dir.cmd(&["key", "list"]).run_fail();
    let waited = started.elapsed();
    signal(pid, "-CONT");
    let err = ran.stderr();
    assert!(err.contains("stopped"), "{}", ran.dump());
    assert!(err.contains(&format!("kill -CONT {pid}")), "{}", ran.dump());
    // Before: 10 s per request and 5 more looking for a new owner, then a bare "lost the owner".
    assert!(
        waited < Duration::from_secs(5),
        "the CLI waited {waited:?} on a stopped owner"
    );
    dir.cmd(&["key", "list"]).run();
}

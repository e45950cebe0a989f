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

/// A tmpfs of a few megabytes mounted on a test's data dir, unmounted on drop.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    /// Mounts one, or says why it cannot be done here (not root, no mount namespace).
    fn mount(path: &std::path::Path) -> Result<SmallDisk, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(SmallDisk {
            path: path.to_path_buf(),
        })
    }

    /// Writes zeros until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path.join("filler")).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

#[test]
fn a_full_disk_is_named_and_the_store_recovers_without_a_restart() {
    let dir = crate::util::TestDir::new();
    let disk = match SmallDisk::mount(&dir.data_dir()) {
        Ok(disk) => disk,
        Err(why) => {
            println!("skipped: cannot mount a small tmpfs here ({why})");
            return;
        }
    };
    dir.tenant("acme", "enterprise");
    let server = HttpServer::start(&dir, "live", &[]);
    disk.fill();
    // Each tenant record goes to sled's log; the log soon needs a segment the disk refuses.
    let mut refused = None;
    for i in 0..4000 {
        let name = format!("filler-tenant-with-a-long-name-{i}");
        let ran = dir
            .cmd(&["tenant", "create", &name, "--plan", "free"])
            .run_unchecked();
        if ran.code() != Some(0) {
            refused = Some(ran);
            break;
        }
    }
    let refused = refused.expect("4,000 tenants fitted on a full 3 MB disk");
    assert!(
        refused
            .stderr()
            .contains("disk holding docward's store is full"),
        "{}",
        refused.dump()
    );
    disk.free();
    // The server that owns the store reopens it by itself: no restart.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ran = dir
            .cmd(&["tenant", "create", "after-the-fill", "--plan", "free"])
            .run_unchecked();
        if ran.code() == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "{}", ran.dump());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(server.log().contains("reopened"), "{}", server.log());
    server.terminate();

    // With no server running, a command on a full disk leaves an unfinished snapshot behind;
    // the next command after space is freed must still open the store.
    disk.fill();
    let _ = dir.cmd(&["tenant", "list"]).run_unchecked();
    let _ = dir.cmd(&["key", "list"]).run_unchecked();
    disk.free();
    let listed = dir.cmd(&["tenant", "list"]).run();
    assert!(
        listed.stdout().contains("after-the-fill"),
        "{}",
        listed.dump()
    );
}

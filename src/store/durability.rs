//! Group commit: a caller that needs its write on disk waits for one flush that started after the
//! write, and concurrent callers share that flush. With an fsync costing milliseconds, this keeps
//! per-call durability affordable under load.

use std::sync::{Condvar, Mutex};

#[derive(Default)]
struct Progress {
    /// Tickets handed out: one per write that needs to become durable.
    requested: u64,
    /// Every ticket up to this one is on disk.
    flushed: u64,
    /// Whether a flush is running.
    flushing: bool,
}

/// Shares flushes between concurrent writers.
#[derive(Default)]
pub(crate) struct GroupCommit {
    progress: Mutex<Progress>,
    done: Condvar,
}

impl GroupCommit {
    /// Returns once a flush that started after the caller's write has completed. `flush` runs on
    /// one caller's thread at a time; the others wait for it.
    pub(crate) fn commit(&self, flush: impl Fn() -> sled::Result<usize>) -> sled::Result<()> {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        progress.requested += 1;
        let ticket = progress.requested;
        loop {
            if progress.flushed >= ticket {
                return Ok(());
            }
            if !progress.flushing {
                progress.flushing = true;
                let target = progress.requested;
                drop(progress);
                let outcome = flush();
                progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
                progress.flushing = false;
                if outcome.is_ok() {
                    progress.flushed = progress.flushed.max(target);
                }
                self.done.notify_all();
                outcome?;
                continue;
            }
            progress = self.done.wait(progress).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn concurrent_commits_share_flushes_and_all_return() {
        let group = Arc::new(GroupCommit::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let group = Arc::clone(&group);
                let flushes = Arc::clone(&flushes);
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        group
                            .commit(|| {
                                flushes.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(2));
                                Ok(0)
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!((1..320).contains(&n), "{n} flushes for 320 commits");
    }

    #[test]
    fn a_commit_waits_for_a_flush_that_started_after_it() {
        let group = GroupCommit::default();
        let flushes = AtomicUsize::new(0);
        group
            .commit(|| Ok(flushes.fetch_add(1, Ordering::SeqCst)))
            .unwrap();
        group
            .commit(|| Ok(flushes.fetch_add(1, Ordering::SeqCst)))
            .unwrap();
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            2,
            "each sequential commit flushes"
        );
    }
}

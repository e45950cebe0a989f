//! Sync jobs started by `POST /v1/repos/{name}/sync`: run in the background, kept in this
//! process's memory (a restart forgets them), seen only by keys of the tenant and environment
//! that started them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::clock::{self, Timestamp};
use crate::docs::{Progress, SyncReport};
use crate::domain::Env;

use super::types::{JobError, JobProgress, JobStatus, JobView, SkippedFile, SyncResult};

/// Finished jobs are forgotten this long after they end.
const KEEP_FINISHED_SECS: i64 = 3600;

/// Most jobs remembered at once; the oldest finished ones go first.
const MAX_JOBS: usize = 1000;

/// What a job has to tell.
#[derive(Debug, Clone)]
struct Outcome {
    status: JobStatus,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    result: Option<SyncResult>,
    error: Option<JobError>,
}

/// One sync job.
#[derive(Debug)]
pub struct Job {
    id: String,
    tenant: String,
    env: Env,
    repo: String,
    created_at: Timestamp,
    files_done: AtomicU64,
    /// `u64::MAX` until the walk has counted the files.
    files_total: AtomicU64,
    outcome: Mutex<Outcome>,
}

impl Job {
    /// The job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn outcome(&self) -> Outcome {
        self.outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn is_active(&self) -> bool {
        matches!(
            self.outcome().status,
            JobStatus::Queued | JobStatus::Running
        )
    }

    /// Marks the job running.
    pub fn started(&self) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        outcome.status = JobStatus::Running;
        outcome.started_at = Some(clock::now());
    }

    /// Marks the job succeeded with what it changed. `source` is the repo's folder on the
    /// server, cut from reported paths.
    pub fn succeeded(&self, report: &SyncReport, source: &str) {
        let hide = |text: &str| hide_source(text, source);
        let result = SyncResult {
            added: report.added,
            changed: report.changed,
            removed: report.removed,
            unchanged: report.unchanged,
            skipped: report
                .skipped
                .iter()
                .map(|s| SkippedFile {
                    path: hide(&s.path),
                    reason: hide(&s.reason),
                })
                .collect(),
            documents: report.documents,
            sections: report.sections,
            elapsed_ms: report.elapsed_ms,
        };
        self.end(JobStatus::Succeeded, Some(result), None);
    }

    /// Marks the job failed.
    pub fn failed(&self, code: &str, message: &str) {
        let error = JobError {
            code: code.to_owned(),
            message: message.to_owned(),
        };
        self.end(JobStatus::Failed, None, Some(error));
    }

    fn end(&self, status: JobStatus, result: Option<SyncResult>, error: Option<JobError>) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        outcome.status = status;
        outcome.finished_at = Some(clock::now());
        outcome.result = result;
        outcome.error = error;
    }

    /// The job as the API shows it.
    pub fn view(&self) -> JobView {
        let outcome = self.outcome();
        let total = self.files_total.load(Ordering::Relaxed);
        JobView {
            id: self.id.clone(),
            repo: self.repo.clone(),
            status: outcome.status,
            created_at: clock::format(self.created_at),
            started_at: outcome.started_at.map(clock::format),
            finished_at: outcome.finished_at.map(clock::format),
            progress: JobProgress {
                files_done: self.files_done.load(Ordering::Relaxed),
                files_total: (total != u64::MAX).then_some(total),
            },
            result: outcome.result,
            error: outcome.error,
        }
    }
}

/// The repo's folder cut from a reported path or reason.
fn hide_source(text: &str, source: &str) -> String {
    if source.is_empty() {
        return text.to_owned();
    }
    let with_slash = format!("{}/", source.trim_end_matches('/'));
    text.replace(&with_slash, "").replace(source, ".")
}

impl Progress for Job {
    fn start(&self, total_files: u64) {
        self.files_total.store(total_files, Ordering::Relaxed);
    }

    fn advance(&self, _path: &str) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// The jobs of this process.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    /// A new queued job for `repo` of `tenant` in `env`, or the job already queued or running
    /// for it (`false`: nothing new was started).
    pub fn start(&self, tenant: &str, env: Env, repo: &str) -> (Arc<Job>, bool) {
        let now = clock::now();
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(active) = jobs
            .values()
            .find(|j| j.tenant == tenant && j.env == env && j.repo == repo && j.is_active())
        {
            return (Arc::clone(active), false);
        }
        prune(&mut jobs, now);
        let job = Arc::new(Job {
            id: format!("job_{:032x}", rand::random::<u128>()),
            tenant: tenant.to_owned(),
            env,
            repo: repo.to_owned(),
            created_at: now,
            files_done: AtomicU64::new(0),
            files_total: AtomicU64::new(u64::MAX),
            outcome: Mutex::new(Outcome {
                status: JobStatus::Queued,
                started_at: None,
                finished_at: None,
                result: None,
                error: None,
            }),
        });
        jobs.insert(job.id.clone(), Arc::clone(&job));
        (job, true)
    }

    /// The job `id` if it belongs to `tenant` in `env`; another tenant's job is not found.
    pub fn get(&self, tenant: &str, env: Env, id: &str) -> Option<JobView> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get(id)
            .filter(|j| j.tenant == tenant && j.env == env)
            .map(|j| j.view())
    }
}

/// Forgets jobs that ended long ago, and the oldest finished ones over the cap.
fn prune(jobs: &mut HashMap<String, Arc<Job>>, now: Timestamp) {
    jobs.retain(|_, j| {
        j.outcome()
            .finished_at
            .is_none_or(|at| now - at < KEEP_FINISHED_SECS)
    });
    if jobs.len() >= MAX_JOBS {
        let mut finished: Vec<(Timestamp, String)> = jobs
            .values()
            .filter_map(|j| j.outcome().finished_at.map(|at| (at, j.id.clone())))
            .collect();
        finished.sort();
        for (_, id) in finished.into_iter().take(jobs.len() + 1 - MAX_JOBS) {
            jobs.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_per_tenant_and_one_runs_per_repo() {
        let jobs = Jobs::default();
        let (a, new) = jobs.start("acme", Env::Live, "handbook");
        assert!(new);
        let (again, new) = jobs.start("acme", Env::Live, "handbook");
        assert!(!new);
        assert_eq!(again.id(), a.id());
        assert!(jobs.get("acme", Env::Live, a.id()).is_some());
        assert!(jobs.get("other", Env::Live, a.id()).is_none());
        assert!(jobs.get("acme", Env::Test, a.id()).is_none());
        a.failed("index_locked", "busy");
        let (b, new) = jobs.start("acme", Env::Live, "handbook");
        assert!(new);
        assert_ne!(b.id(), a.id());
    }

    #[test]
    fn the_source_folder_is_cut_from_reports() {
        assert_eq!(hide_source("/srv/docs/a/b.md", "/srv/docs"), "a/b.md");
        assert_eq!(
            hide_source("could not read /srv/docs: denied", "/srv/docs"),
            "could not read .: denied"
        );
    }
}

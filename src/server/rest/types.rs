//! What the REST API sends and takes, with the schemas of the OpenAPI document. None of these
//! carries a path on the server.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A repository as key holders see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepoSummary {
    /// The repo name.
    pub name: String,
    /// Where its documents come from: `folder` (a folder on the server).
    pub source_kind: String,
    /// Indexed documents.
    pub documents: u64,
    /// Indexed sections.
    pub sections: u64,
    /// When it was last indexed (RFC 3339, UTC).
    pub indexed_at: String,
}

/// The repositories of the key's tenant in the server's environment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepoList {
    /// Sorted by name.
    pub repos: Vec<RepoSummary>,
}

/// A repository's settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepoSettingsView {
    /// Extra ignore patterns (`.gitignore` syntax) applied at each sync, on top of the
    /// folder's own `.gitignore` and `.docwardignore`.
    pub ignore: Vec<String>,
}

/// One repository with its settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepoDetail {
    /// The repo name.
    pub name: String,
    /// Where its documents come from: `folder` (a folder on the server).
    pub source_kind: String,
    /// Indexed documents.
    pub documents: u64,
    /// Indexed sections.
    pub sections: u64,
    /// When it was last indexed (RFC 3339, UTC).
    pub indexed_at: String,
    /// Its settings.
    pub settings: RepoSettingsView,
}

/// A change to a repository's settings; fields left out keep their value.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoPatch {
    /// Replaces the extra ignore patterns (`.gitignore` syntax, at most 100 of at most 256
    /// bytes each). They apply from the next sync.
    #[schema(max_items = 100)]
    pub ignore: Option<Vec<String>>,
}

/// The answer to a settings change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepoPatched {
    /// The repository with its new settings.
    pub repo: RepoDetail,
    /// What to do for the settings to take effect.
    pub note: String,
}

/// Parameters of a search.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for: keywords or a short question (at most 64 words).
    #[param(min_length = 1, max_length = 2000)]
    pub q: String,
    /// Only search this repository.
    pub repo: Option<String>,
    /// How many results, 1-20 (default 5).
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<u32>,
}

/// A section found elsewhere with the same text.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SectionPlace {
    /// The repo name.
    pub repo: String,
    /// Repo-relative path.
    pub path: String,
    /// Section index within the document.
    pub section: u64,
}

/// One search result: a section of a document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResult {
    /// The repo name.
    pub repo: String,
    /// Repo-relative path, as GET /v1/docs/{repo}/{path} takes it.
    pub path: String,
    /// The document title.
    pub title: String,
    /// The heading trail of the section, outermost first.
    pub headings: Vec<String>,
    /// Section index within the document (pass as `section` to GET /v1/docs).
    pub section: u64,
    /// Plain-text excerpt with matched terms marked `**like this**`.
    pub snippet: String,
    /// Relevance score (higher is better).
    pub score: f64,
    /// Other places with the same section text.
    pub also_in: Vec<SectionPlace>,
    /// How many more such copies matched than `also_in` lists.
    pub more_copies: u64,
}

/// The answer to a search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResults {
    /// The query as sent.
    pub query: String,
    /// The repository searched, if one was named.
    pub repo: Option<String>,
    /// Best first.
    pub results: Vec<SearchResult>,
}

/// Paging of a document read.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocParams {
    /// Section index to start reading from (0 = the beginning): the `next_section` of the
    /// previous page of a long document.
    #[param(minimum = 0)]
    pub section: Option<u32>,
}

/// A page of one document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocPageView {
    /// The repo name.
    pub repo: String,
    /// Repo-relative path.
    pub path: String,
    /// The document title.
    pub title: String,
    /// The text of the sections on this page (front matter stripped).
    pub content: String,
    /// Index of the first section on this page.
    pub first_section: u64,
    /// Sections in the whole document.
    pub total_sections: u64,
    /// Where the next page starts, when the document did not fit (else null).
    pub next_section: Option<u64>,
}

/// The state of a sync job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted, not started.
    Queued,
    /// Indexing.
    Running,
    /// Done; `result` says what changed.
    Succeeded,
    /// Stopped; `error` says why.
    Failed,
}

/// How far a job got.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobProgress {
    /// Files processed so far.
    pub files_done: u64,
    /// Candidate files, once the folder has been walked (else null).
    pub files_total: Option<u64>,
}

/// A file that was not indexed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkippedFile {
    /// Repo-relative path.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What a finished sync changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncResult {
    /// Documents indexed for the first time.
    pub added: u64,
    /// Documents indexed again because they changed.
    pub changed: u64,
    /// Documents dropped because their file is gone.
    pub removed: u64,
    /// Documents left as they were.
    pub unchanged: u64,
    /// Files not indexed, with reasons.
    pub skipped: Vec<SkippedFile>,
    /// Documents in the repo afterwards.
    pub documents: u64,
    /// Sections in the repo afterwards.
    pub sections: u64,
    /// Time taken, in milliseconds.
    pub elapsed_ms: u64,
}

/// Why a job failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobError {
    /// Stable code, as in problem bodies.
    pub code: String,
    /// The cause and the fix.
    pub message: String,
}

/// A sync job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    /// The job id, for GET /v1/jobs/{id}.
    pub id: String,
    /// The repository being synced.
    pub repo: String,
    /// Where it stands.
    pub status: JobStatus,
    /// When it was accepted (RFC 3339).
    pub created_at: String,
    /// When indexing started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// How far it got.
    pub progress: JobProgress,
    /// What it changed, once succeeded.
    pub result: Option<SyncResult>,
    /// Why it failed, once failed.
    pub error: Option<JobError>,
}

/// The limits of the tenant's plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanLimits {
    /// Live calls a day (null: unlimited). Test keys are never counted.
    pub daily_live_calls: Option<u64>,
    /// Active keys at most (null: unlimited).
    pub max_keys: Option<u64>,
    /// Calls per second per key on this server.
    pub burst_per_second: u32,
}

/// Today's use of the daily quota.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaToday {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Live calls counted today.
    pub live_calls: u64,
    /// Live calls left today (null: unlimited).
    pub remaining: Option<u64>,
    /// When the quota resets (RFC 3339, 00:00 UTC).
    pub resets_at: String,
}

/// Calls of one key on one day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageDay {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// The key's id.
    pub key_id: String,
    /// The key's name.
    pub key_name: String,
    /// How the key is shown, e.g. `dw_live_AbCd1234…`.
    pub key_display: String,
    /// The key's environment: `test` or `live`.
    pub env: String,
    /// Calls counted.
    pub calls: u64,
}

/// The usage and limits of the key's tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageReport {
    /// The tenant.
    pub tenant: String,
    /// Its plan: free, pro or enterprise.
    pub plan: String,
    /// Its limits.
    pub limits: PlanLimits,
    /// Today's use of the daily quota.
    pub today: QuotaToday,
    /// Calls per key per day, newest day first.
    pub days: Vec<UsageDay>,
}

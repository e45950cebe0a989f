//! [`Library`]: the docs of one (tenant, env) pair in one directory — a tantivy index in
//! `<dir>/index` plus one manifest per repo in `<dir>/repos`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tantivy::directory::MmapDirectory;
use tantivy::query::QueryParser;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyError, Term};

use super::census;
use super::embed::Embedder;
use super::error::{DocsError, Result};
use super::indexer;
use super::ingest;
use super::lock;
use super::manifest::{self, Manifest};
use super::names::validate_repo_name;
use super::schema::{self, DocFields};
use super::settings::RepoSettings;
use super::types::{DocPage, Progress, Ranker, RepoInfo, SearchHit, SyncReport};

/// The docs of one (tenant, env) pair, living in one directory.
pub struct Library {
    pub(super) dir: PathBuf,
    pub(super) index: Index,
    pub(super) reader: IndexReader,
    pub(super) fields: DocFields,
    pub(super) parser: QueryParser,
    /// Parses queries over the combined section field.
    pub(super) section_parser: QueryParser,
    /// Parses queries over the combined whole-document field.
    pub(super) doc_parser: QueryParser,
    /// Fast-field columns of the segments searched so far.
    pub(super) columns: super::search::ColumnCache,
    /// Document vectors, as last read from disk.
    pub(super) vectors: super::vectors::Shelf,
    /// The model of this library when set with [`Library::with_embedder`], else the process's.
    embedder: Option<Option<Arc<Embedder>>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("dir", &self.dir).finish()
    }
}

impl Library {
    /// Opens (creating if missing) the library stored in `dir`. Does not take the writer
    /// lock: any number of processes may open the same library to serve searches.
    pub fn open(dir: &Path) -> Result<Library> {
        super::rebuild::recover(dir)?;
        let index_dir = dir.join("index");
        for private in [
            dir.to_path_buf(),
            index_dir.clone(),
            manifest::repos_dir(dir),
        ] {
            crate::private_dir::create(&private).map_err(|e| DocsError::io(&private, e))?;
        }
        let fields = schema::build();
        let index = open_index(&index_dir, &fields)?;
        schema::register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        let mut parser = QueryParser::for_index(
            &index,
            vec![fields.title, fields.headings, fields.body, fields.path_text],
        );
        parser.set_field_boost(fields.title, super::search::TITLE_BOOST);
        parser.set_field_boost(fields.headings, super::search::HEADINGS_BOOST);
        parser.set_field_boost(fields.body, 1.0);
        parser.set_field_boost(fields.path_text, super::search::PATH_BOOST);
        let section_parser = QueryParser::for_index(&index, vec![fields.sec_text]);
        let doc_parser = QueryParser::for_index(&index, vec![fields.doc_text]);
        Ok(Library {
            dir: dir.to_path_buf(),
            index,
            reader,
            fields,
            parser,
            section_parser,
            doc_parser,
            columns: Default::default(),
            vectors: super::vectors::Shelf::new(dir),
            embedder: None,
        })
    }

    /// Uses `embedder` (or none: lexical only) instead of the process-wide model.
    pub fn with_embedder(mut self, embedder: Option<Arc<Embedder>>) -> Library {
        self.embedder = Some(embedder);
        self
    }

    /// The embedding model in force for this library, if any.
    pub(super) fn embedder(&self) -> Option<Arc<Embedder>> {
        match &self.embedder {
            Some(chosen) => chosen.clone(),
            None => super::embed::embedder(),
        }
    }

    /// How many documents have a vector.
    pub fn vector_count(&self) -> usize {
        self.vectors.current().entries.len()
    }

    /// Indexes a folder as a new repo named `name`. Err(DocsError::RepoExists) if taken.
    pub fn add_repo(
        &self,
        name: &str,
        source: &Path,
        progress: &dyn Progress,
    ) -> Result<SyncReport> {
        let started = Instant::now();
        validate_repo_name(name)?;
        let source = source_dir(source)?;
        if manifest::load(&self.dir, name)?.is_some() {
            return Err(DocsError::RepoExists(name.to_string()));
        }
        let _lock = lock::try_lock(&self.dir)?;
        let writer = indexer::writer(&self.index)?;
        // Re-check under the lock: another process may have added it meanwhile.
        if manifest::load(&self.dir, name)?.is_some() {
            return Err(DocsError::RepoExists(name.to_string()));
        }
        // Documents left behind by an interrupted add of the same name.
        writer.delete_term(Term::from_field_text(self.fields.repo, name));
        let manifest = Manifest::new(name, source);
        self.index_repo(writer, manifest, progress, started)
    }

    /// Re-indexes only files added, changed (content hash) or deleted since the last index of `name`.
    pub fn sync_repo(&self, name: &str, progress: &dyn Progress) -> Result<SyncReport> {
        let started = Instant::now();
        let manifest = self.manifest(name)?;
        if !manifest.source.is_dir() {
            return Err(DocsError::SourceMissing(manifest.source));
        }
        let _lock = lock::try_lock(&self.dir)?;
        let writer = indexer::writer(&self.index)?;
        // Re-read under the lock in case another process synced meanwhile.
        let manifest = self.manifest(name)?;
        self.index_repo(writer, manifest, progress, started)
    }

    /// Drops a repo and all its documents from the index.
    pub fn remove_repo(&self, name: &str) -> Result<RepoInfo> {
        let manifest = self.manifest(name)?;
        let _lock = lock::try_lock(&self.dir)?;
        let mut writer = indexer::writer(&self.index)?;
        writer.delete_term(Term::from_field_text(self.fields.repo, name));
        writer.commit()?;
        finish_writer(writer)?;
        self.vectors.forget_repo(name)?;
        manifest::delete(&self.dir, name)?;
        self.reader.reload()?;
        Ok(manifest.info())
    }

    /// Repos of this library, sorted by name, read from disk on each call.
    pub fn repos(&self) -> Result<Vec<RepoInfo>> {
        repos_in(&self.dir)
    }

    /// Search over sections: hybrid when an embedding model is configured and the library has
    /// vectors, else lexical. limit is clamped to 1..=20 (0 means the
    /// default 5).
    pub fn search(&self, query: &str, repo: Option<&str>, limit: usize) -> Result<Vec<SearchHit>> {
        super::search::search(self, query, repo, limit, Ranker::Hybrid)
    }

    /// Search with a chosen ranker (the eval compares them).
    pub fn search_with(
        &self,
        query: &str,
        repo: Option<&str>,
        limit: usize,
        ranker: Ranker,
    ) -> Result<Vec<SearchHit>> {
        super::search::search(self, query, repo, limit, ranker)
    }

    /// One whole document, starting at section index `from_section` (0 = the start), cut at a
    /// section boundary once the content would exceed [`super::MAX_DOC_CHARS`].
    pub fn get_doc(&self, repo: &str, path: &str, from_section: usize) -> Result<DocPage> {
        super::getdoc::get_doc(self, repo, path, from_section)
    }

    /// One repo's summary, or UnknownRepo listing the known ones.
    pub fn repo(&self, name: &str) -> Result<RepoInfo> {
        Ok(self.manifest(name)?.info())
    }

    /// The settings of repo `name`.
    pub fn repo_settings(&self, name: &str) -> Result<RepoSettings> {
        Ok(RepoSettings {
            ignore: self.manifest(name)?.ignore,
        })
    }

    /// Replaces the settings of repo `name` after checking them; they apply from the next sync.
    /// Takes the writer lock, so that a sync running meanwhile does not write them over.
    pub fn set_repo_settings(&self, name: &str, settings: &RepoSettings) -> Result<RepoSettings> {
        super::settings::validate_ignore(&settings.ignore)?;
        self.manifest(name)?;
        let _lock = lock::try_lock(&self.dir)?;
        let mut manifest = self.manifest(name)?;
        manifest.ignore = settings.ignore.clone();
        manifest::save(&self.dir, &manifest)?;
        Ok(settings.clone())
    }

    /// The manifest of `name`, or UnknownRepo listing the known ones.
    pub(super) fn manifest(&self, name: &str) -> Result<Manifest> {
        if validate_repo_name(name).is_ok()
            && let Some(m) = manifest::load(&self.dir, name)?
        {
            return Ok(m);
        }
        Err(self.unknown_repo(name))
    }

    /// Checks that `name` is a repo of this library (cheap: a directory listing).
    pub(super) fn check_repo(&self, name: &str) -> Result<()> {
        let known = manifest::names(&self.dir)?;
        if known.iter().any(|k| k == name) {
            Ok(())
        } else {
            Err(DocsError::UnknownRepo {
                name: name.to_string(),
                known,
            })
        }
    }

    fn unknown_repo(&self, name: &str) -> DocsError {
        DocsError::UnknownRepo {
            name: name.to_string(),
            known: manifest::names(&self.dir).unwrap_or_default(),
        }
    }

    /// Walks the repo's source, applies changes, commits, then saves the manifest.
    fn index_repo(
        &self,
        mut writer: IndexWriter,
        mut manifest: Manifest,
        progress: &dyn Progress,
        started: Instant,
    ) -> Result<SyncReport> {
        let extra = super::settings::matcher(&manifest.source, &manifest.ignore);
        let (files, mut skipped) = ingest::list_files_ignoring(&manifest.source, extra);
        progress.start(files.len() as u64);
        let trusted = self.repair_leftovers(&writer, &manifest)?;
        let embedder = self.embedder();
        let known = embedder.as_ref().map(|_| self.vectors.current());
        let repo = manifest.name.clone();
        let wants = |rel: &str| {
            known
                .as_ref()
                .is_some_and(|k| !k.entries.contains_key(&schema::doc_id(&repo, rel)))
        };
        let wants_vector: indexer::WantsVector<'_> = match &embedder {
            Some(_) => Some(&wants),
            None => None,
        };
        let mut applied = indexer::apply(
            &writer,
            &self.fields,
            &manifest.name,
            &files,
            &trusted.files,
            progress,
            wants_vector,
        )?;
        for path in trusted.orphans {
            if !applied.files.contains_key(&path) {
                writer.delete_term(Term::from_field_text(
                    self.fields.doc_key,
                    &schema::doc_key(&manifest.name, &path),
                ));
                applied.removed += 1;
            }
        }
        writer.commit()?;
        finish_writer(writer)?;
        skipped.extend(applied.skipped);
        let stale: std::collections::HashSet<u64> = trusted
            .files
            .iter()
            .filter(|(rel, old)| {
                applied
                    .files
                    .get(*rel)
                    .is_none_or(|new| new.hash != old.hash)
            })
            .map(|(rel, _)| schema::doc_id(&manifest.name, rel))
            .collect();
        self.vectors.forget_docs(&manifest.name, &stale)?;
        manifest.files = applied.files;
        manifest.indexed_at = manifest::now();
        manifest::save(&self.dir, &manifest)?;
        self.reader.reload()?;
        if let Some(embedder) = &embedder {
            let to_embed = std::mem::take(&mut applied.to_embed);
            progress.start(files.len() as u64 + to_embed.len() as u64);
            self.vectors.update(
                embedder,
                &manifest.name,
                to_embed,
                &manifest
                    .files
                    .keys()
                    .map(|rel| schema::doc_id(&manifest.name, rel))
                    .collect::<std::collections::HashSet<u64>>(),
                progress,
            )?;
        }
        progress.finish();
        Ok(SyncReport {
            repo: manifest.name.clone(),
            added: applied.added,
            changed: applied.changed,
            removed: applied.removed,
            unchanged: applied.unchanged,
            skipped,
            warnings: applied.warnings,
            documents: manifest.documents(),
            sections: manifest.sections(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// What the manifest says of a repo, checked against the index.
struct Trusted {
    /// Manifest entries whose sections are in the index exactly once.
    files: std::collections::BTreeMap<String, manifest::FileEntry>,
    /// Paths in the index that the manifest does not list, or lists with another count.
    orphans: Vec<String>,
}

impl Library {
    /// Repairs what a crash between an index commit and a manifest write left behind
    /// (documents of repos without a manifest are deleted), and returns which of `manifest`'s
    /// entries the index really holds: the others are indexed again, so that no path is
    /// indexed twice and no orphan stays. The caller holds the write lock.
    fn repair_leftovers(&self, writer: &IndexWriter, manifest: &Manifest) -> Result<Trusted> {
        self.reader.reload()?;
        let mut census = census::sections_by_document(&self.reader.searcher())?;
        let known = manifest::names(&self.dir)?;
        for repo in census.keys() {
            if *repo != manifest.name && !known.contains(repo) {
                tracing::warn!(repo = %repo, "deleting documents of a repo without a manifest (left by an interrupted add)");
                writer.delete_term(Term::from_field_text(self.fields.repo, repo));
            }
        }
        let held = census.remove(&manifest.name).unwrap_or_default();
        let mut trusted = Trusted {
            files: Default::default(),
            orphans: Vec::new(),
        };
        for (path, sections) in held {
            match manifest.files.get(&path) {
                Some(entry) if entry.sections == sections => {
                    trusted.files.insert(path, entry.clone());
                }
                _ => {
                    tracing::warn!(repo = %manifest.name, path = %path, sections, "repairing a document the manifest does not match (left by an interrupted sync)");
                    trusted.orphans.push(path);
                }
            }
        }
        Ok(trusted)
    }
}

/// An index of another format, with the command that rebuilds it.
fn index_format(index_dir: &Path, reason: String) -> DocsError {
    let command = index_dir
        .parent()
        .map_or_else(|| rebuild_command(index_dir), rebuild_command);
    DocsError::IndexFormat {
        dir: index_dir.to_path_buf(),
        reason,
        command,
    }
}

/// The command that rebuilds the library in `dir`. Libraries live in
/// `<data dir>/docs/<tenant>/<env>`, so its parents name the tenant and env.
pub(super) fn rebuild_command(library: &Path) -> String {
    let name = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map_or_else(|| "…".to_owned(), |n| n.to_string_lossy().into_owned())
    };
    format!(
        "docward repo rebuild --tenant {} --env {}",
        name(library.parent()),
        name(Some(library))
    )
}

/// The repos of the library in `dir`, sorted by name, from their manifests alone (without
/// opening the index).
pub fn repos_in(dir: &Path) -> Result<Vec<RepoInfo>> {
    let mut out = Vec::new();
    for name in manifest::names(dir)? {
        // A repo removed between listing and loading is simply not reported.
        if let Some(m) = manifest::load(dir, &name)? {
            out.push(m.info());
        }
    }
    Ok(out)
}

/// Lets background merges finish, then releases the writer lock.
fn finish_writer(writer: IndexWriter) -> Result<()> {
    writer.wait_merging_threads()?;
    Ok(())
}

/// The canonical source folder, or SourceMissing.
fn source_dir(source: &Path) -> Result<PathBuf> {
    match std::fs::canonicalize(source) {
        Ok(p) if p.is_dir() => Ok(p),
        _ => Err(DocsError::SourceMissing(source.to_path_buf())),
    }
}

fn open_index(index_dir: &Path, fields: &DocFields) -> Result<Index> {
    let open = || -> tantivy::Result<Index> {
        let directory = MmapDirectory::open(index_dir)?;
        Index::open_or_create(directory, fields.schema.clone())
    };
    let result = match open() {
        // Another process created it between our check and our create: just open it.
        Err(TantivyError::IndexAlreadyExists) => open(),
        other => other,
    };
    match result {
        Ok(index) => Ok(index),
        Err(TantivyError::SchemaError(reason)) => Err(index_format(index_dir, reason)),
        Err(TantivyError::IncompatibleIndex(why)) => {
            Err(index_format(index_dir, format!("{why:?}")))
        }
        Err(e) => Err(e.into()),
    }
}

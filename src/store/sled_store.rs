//! [`KeyStore`] on an embedded sled database.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::KeyStore;
use super::burst::BurstLimits;
use super::console::{ConsoleGrant, ConsoleSecret};
use super::durability::GroupCommit;
use super::error::{StoreError, StoreResult};
use super::records::{
    CHARGE_ID_RETENTION_MS, Charge, ChargeRecord, ChargeRequest, KeyRecord, KeyStatus,
    TenantRecord, UsageRow, decode, encode,
};
use super::reminders::{self, ContactRecord, ReminderClaim, ReminderFinish, ReminderRecord};
use super::touches::Touches;
use crate::clock::{self, Timestamp};
use crate::domain::Env;
use crate::token::TokenHash;

/// The store layout this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The key store in `<data dir>/store`, a sled database.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    tenants: sled::Tree,
    keys: sled::Tree,
    key_by_hash: sled::Tree,
    last_used: sled::Tree,
    quota: sled::Tree,
    usage: sled::Tree,
    /// Outcomes of live charges by request id (the last [`CHARGE_ID_RETENTION_MS`]), so that a
    /// charge sent again after its owner died is not counted twice and a refund finds it.
    charges: sled::Tree,
    /// When (Unix ms) charge ids older than the retention were last pruned.
    charges_pruned_at: AtomicU64,
    /// Serialises key creation so that the active-key cap cannot be raced past.
    key_writes: Mutex<()>,
    /// Last `last_used` second written per key, to write at most once a second.
    touched: Touches,
    /// Makes counted live calls durable before they are answered, sharing flushes.
    group_commit: GroupCommit,
    /// Per-key burst limiters, here so that every process using this store shares them.
    bursts: BurstLimits,
    /// Reminder contacts per tenant (see `reminders.rs`).
    contacts: sled::Tree,
    /// Reminder claims and outcomes.
    reminders: sled::Tree,
}

impl SledStore {
    /// Opens (creating if needed) the store inside `data_dir`.
    pub fn open(data_dir: &Path) -> StoreResult<SledStore> {
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(StoreError::NotADirectory(data_dir.to_path_buf()));
        }
        if !data_dir.exists() {
            std::fs::create_dir_all(data_dir).map_err(|e| io_error(data_dir, e))?;
            crate::private_dir::restrict(data_dir);
        }
        let path = data_dir.join("store");
        // The database folder is private whatever the data dir's own mode (a folder made by
        // hand or restored from a backup may be readable by others).
        crate::private_dir::create(&path).map_err(|e| io_error(&path, e))?;
        let db = match open_db(&path) {
            // A snapshot that a full disk (or a crash) left half-written makes sled 0.34 refuse
            // the whole store: it reads the newest `snap.*` file, finished or not.
            Err(StoreError::CorruptFiles { .. }) if remove_unfinished_snapshots(&path) => {
                open_db(&path)?
            }
            other => other?,
        };
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            None => {
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(v) => {
                let found = u32::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("schema_version".into()))?,
                );
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path,
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
        }
        Ok(SledStore {
            tenants: db.open_tree("tenants")?,
            keys: db.open_tree("keys")?,
            key_by_hash: db.open_tree("key_by_hash")?,
            last_used: db.open_tree("last_used")?,
            quota: db.open_tree("quota")?,
            usage: db.open_tree("usage")?,
            charges: db.open_tree("charges")?,
            charges_pruned_at: AtomicU64::new(0),
            key_writes: Mutex::new(()),
            touched: Touches::default(),
            group_commit: GroupCommit::default(),
            bursts: BurstLimits::default(),
            contacts: db.open_tree("contacts")?,
            reminders: db.open_tree("reminders")?,
            path,
            db,
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database, for the store's sibling modules that keep their own trees.
    pub(super) fn db(&self) -> &sled::Db {
        &self.db
    }

    /// [`KeyStore::charge`] for a call identified by `id`, chosen by the process that sent it.
    /// A live call sent again with the same id (after the owner that counted it died before
    /// answering) gets its first outcome back instead of being counted twice.
    ///
    /// The writes of a counted live call go in this order: quota, then the id's record, then
    /// usage, then one flush (shared with concurrent calls) before the answer. A sled
    /// transaction would make them atomic, but it takes a store-wide lock that cut live-call
    /// throughput by 40% under load; so only a crash in the microseconds between the first two
    /// writes, with sled's periodic flush landing in between, could still count a call twice.
    pub fn charge_as(&self, id: Option<u128>, request: &ChargeRequest) -> StoreResult<Charge> {
        let ChargeRequest {
            tenant,
            key_id,
            env,
            day,
            limit,
            burst_per_second,
        } = request;
        let record_key = match id {
            Some(id) if *env == Env::Live => {
                self.prune_charges_now_and_then()?;
                let record_key = charge_key(*day, id);
                if let Some(first) = self.charges.get(record_key)? {
                    let first: ChargeRecord = decode(&first, "charge")?;
                    // The id of another key's call is not this call: charge it afresh.
                    if first.tenant == *tenant && first.key_id == *key_id {
                        return Ok(first.charge);
                    }
                }
                Some(record_key)
            }
            _ => None,
        };
        if let Err(retry_after) = self.bursts.check(key_id, *burst_per_second) {
            return Ok(Charge::Throttled {
                per_second: *burst_per_second,
                retry_after_ms: retry_after.as_millis() as u64,
            });
        }
        let charge = match env {
            // Test calls are free: no count against the quota and no limit.
            Env::Test => Charge::Allowed {
                used: 0,
                limit: None,
            },
            Env::Live => self.count_live_call(tenant, *day, *limit)?,
        };
        if let Charge::Allowed { .. } = charge {
            if let Some(record_key) = record_key {
                let record = ChargeRecord {
                    tenant: tenant.clone(),
                    key_id: key_id.clone(),
                    charge,
                    refunded: false,
                };
                self.charges.insert(record_key, encode(&record)?)?;
            }
            let mut usage_key = day_key(tenant, *day);
            usage_key.extend_from_slice(key_id.as_bytes());
            increment(&self.usage, &usage_key)?;
            // A live call is billed: it is on disk before the tool answers, so a crash loses at
            // most the calls in flight. Test calls ride on the periodic flush.
            if *env == Env::Live {
                self.group_commit.commit(|| self.db.flush())?;
            }
        }
        Ok(charge)
    }

    /// Counts one live call of `tenant` on `day`, unless it would pass `limit`.
    fn count_live_call(&self, tenant: &str, day: u32, limit: Option<u64>) -> StoreResult<Charge> {
        let mut charge = Charge::Refused { limit: 0 };
        self.quota.update_and_fetch(day_key(tenant, day), |old| {
            let used = old.and_then(read_u64).unwrap_or(0);
            match limit {
                Some(limit) if used >= limit => {
                    charge = Charge::Refused { limit };
                    old.map(<[u8]>::to_vec)
                }
                _ => {
                    charge = Charge::Allowed {
                        used: used + 1,
                        limit,
                    };
                    Some((used + 1).to_be_bytes().to_vec())
                }
            }
        })?;
        Ok(charge)
    }

    /// [`KeyStore::refund`]. The record is marked refunded first (compare-and-swap, so that
    /// two refunds of one id take one call back), then quota and usage go down by one, then
    /// one flush: a crash in between can leave a call billed, never refund it twice.
    fn refund_charge(&self, id: u128, request: &ChargeRequest) -> StoreResult<bool> {
        let mut usage_key = day_key(&request.tenant, request.day);
        usage_key.extend_from_slice(request.key_id.as_bytes());
        if request.env == Env::Test {
            // Test calls are free and carry no record: only the usage row goes down.
            decrement(&self.usage, &usage_key)?;
            return Ok(true);
        }
        let record_key = charge_key(request.day, id);
        loop {
            let Some(current) = self.charges.get(record_key)? else {
                return Ok(false);
            };
            let mut record: ChargeRecord = decode(&current, "charge")?;
            let counted = matches!(record.charge, Charge::Allowed { .. });
            if record.refunded
                || !counted
                || record.tenant != request.tenant
                || record.key_id != request.key_id
            {
                return Ok(false);
            }
            record.refunded = true;
            let swapped =
                self.charges
                    .compare_and_swap(record_key, Some(current), Some(encode(&record)?))?;
            if swapped.is_ok() {
                break;
            }
        }
        decrement(&self.quota, &day_key(&request.tenant, request.day))?;
        decrement(&self.usage, &usage_key)?;
        self.group_commit.commit(|| self.db.flush())?;
        Ok(true)
    }

    /// Drops the records of charge ids older than [`CHARGE_ID_RETENTION_MS`], at most once per
    /// [`CHARGE_PRUNE_EVERY_MS`]: the records stay bounded by the calls of the last minutes,
    /// whatever the rate. Ids carry their time (see [`super::records::new_charge_id`]), so the
    /// old ones are one key range; days ahead of this machine's clock are never in it.
    fn prune_charges_now_and_then(&self) -> StoreResult<()> {
        let now = clock::now_ms();
        let last = self.charges_pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < CHARGE_PRUNE_EVERY_MS
            || self
                .charges_pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        self.prune_charges_before(now.saturating_sub(CHARGE_ID_RETENTION_MS))
    }

    /// Removes the records of every charge id made before `cutoff_ms`, and of every day before
    /// that moment's day.
    fn prune_charges_before(&self, cutoff_ms: u64) -> StoreResult<()> {
        let cutoff_day = clock::utc_day((cutoff_ms / 1000) as i64);
        let keep_from = charge_key(cutoff_day, u128::from(cutoff_ms) << 80);
        let mut batch = sled::Batch::default();
        for old in self.charges.range(..keep_from).keys() {
            batch.remove(old?);
        }
        self.charges.apply_batch(batch)?;
        Ok(())
    }

    fn with_last_used(&self, mut key: KeyRecord) -> StoreResult<KeyRecord> {
        key.last_used_at = self.last_used.get(&key.id)?.and_then(|v| read_i64(&v));
        Ok(key)
    }

    fn load_key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        match self.keys.get(id)? {
            Some(bytes) => Ok(Some(self.with_last_used(decode(&bytes, "key")?)?)),
            None => Ok(None),
        }
    }

    fn update_key(
        &self,
        id: &str,
        change: impl Fn(&mut KeyRecord) -> StoreResult<()>,
    ) -> StoreResult<KeyRecord> {
        let _guard = self.key_writes.lock().unwrap_or_else(|p| p.into_inner());
        let mut key: KeyRecord = match self.keys.get(id)? {
            Some(bytes) => decode(&bytes, "key")?,
            None => return Err(StoreError::UnknownKey(id.to_owned())),
        };
        change(&mut key)?;
        key.last_used_at = None;
        self.keys.insert(id, encode(&key)?)?;
        self.db.flush()?;
        self.with_last_used(key)
    }

    fn unknown_tenant(&self, name: &str) -> StoreError {
        let known: Vec<String> = self
            .tenants()
            .map(|ts| ts.into_iter().map(|t| t.name).collect())
            .unwrap_or_default();
        let hint = if known.is_empty() {
            "; create one with `docward tenant create NAME`".to_owned()
        } else {
            format!("; known tenants: {}", known.join(", "))
        };
        StoreError::UnknownTenant {
            name: name.to_owned(),
            hint,
        }
    }
}

impl KeyStore for SledStore {
    fn create_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        let created = self.tenants.compare_and_swap(
            tenant.name.as_bytes(),
            None as Option<&[u8]>,
            Some(encode(tenant)?),
        )?;
        if created.is_err() {
            return Err(StoreError::TenantExists(tenant.name.clone()));
        }
        self.db.flush()?;
        Ok(())
    }

    fn update_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        let _guard = self.key_writes.lock().unwrap_or_else(|p| p.into_inner());
        if self.tenants.get(tenant.name.as_bytes())?.is_none() {
            return Err(self.unknown_tenant(&tenant.name));
        }
        self.tenants
            .insert(tenant.name.as_bytes(), encode(tenant)?)?;
        self.db.flush()?;
        Ok(())
    }

    fn tenant(&self, name: &str) -> StoreResult<Option<TenantRecord>> {
        self.tenants
            .get(name)?
            .map(|bytes| decode(&bytes, "tenant"))
            .transpose()
    }

    fn tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        self.tenants
            .iter()
            .values()
            .map(|v| decode(&v?, "tenant"))
            .collect()
    }

    fn insert_key(
        &self,
        key: &KeyRecord,
        hash: &TokenHash,
        replacing: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let _guard = self.key_writes.lock().unwrap_or_else(|p| p.into_inner());
        if self
            .key_by_hash
            .get(hash.0)?
            .is_some_and(|id| id.as_ref() == key.id.as_bytes())
        {
            // Already stored: a client retrying after its owner died before answering.
            return Ok(());
        }
        let tenant = self
            .tenant(&key.tenant)?
            .ok_or_else(|| self.unknown_tenant(&key.tenant))?;
        if let Some(cap) = tenant.effective_max_keys() {
            let active = self
                .keys(Some(&key.tenant))?
                .iter()
                .filter(|k| {
                    // A rotated key in its grace period is on its way out: it does not count.
                    k.status(now) == KeyStatus::Active
                        && k.rotated_to.is_none()
                        && Some(k.id.as_str()) != replacing
                })
                .count() as u64;
            if active >= cap {
                return Err(StoreError::KeyCapReached {
                    tenant: tenant.name,
                    plan: tenant.plan,
                    cap,
                });
            }
        }
        let record = encode(&KeyRecord {
            last_used_at: None,
            ..key.clone()
        })?;
        (&self.keys, &self.key_by_hash)
            .transaction(|(keys, by_hash)| {
                match by_hash.get(hash.0)? {
                    // The same key again: a client retrying after its owner died mid-answer.
                    Some(id) if id.as_ref() == key.id.as_bytes() => return Ok(()),
                    Some(_) => return Err(ConflictableTransactionError::Abort(())),
                    None => {}
                }
                keys.insert(key.id.as_bytes(), record.clone())?;
                by_hash.insert(&hash.0, key.id.as_bytes())?;
                Ok(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(()) => {
                    StoreError::Corrupt("token hash collision: generate the key again".into())
                }
                TransactionError::Storage(s) => StoreError::Db(s),
            })?;
        self.db.flush()?;
        Ok(())
    }

    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        self.load_key(id)
    }

    fn key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<KeyRecord>> {
        match self.key_by_hash.get(hash.0)? {
            Some(id) => {
                let id = std::str::from_utf8(&id)
                    .map_err(|_| StoreError::Corrupt("key_by_hash: id is not UTF-8".into()))?;
                self.load_key(id)
            }
            None => Ok(None),
        }
    }

    fn keys(&self, tenant: Option<&str>) -> StoreResult<Vec<KeyRecord>> {
        let mut out = Vec::new();
        for value in self.keys.iter().values() {
            let key: KeyRecord = decode(&value?, "key")?;
            if tenant.is_none_or(|t| t == key.tenant) {
                out.push(self.with_last_used(key)?);
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    fn revoke_key(&self, id: &str, at: Timestamp) -> StoreResult<KeyRecord> {
        self.update_key(id, |key| {
            if key.revoked_at.is_some() {
                return Err(StoreError::AlreadyRevoked(key.id.clone()));
            }
            key.revoked_at = Some(at);
            Ok(())
        })
    }

    fn retire_key(&self, id: &str, at: Timestamp, successor: &str) -> StoreResult<KeyRecord> {
        self.update_key(id, |key| {
            if key.revoked_at.is_some() {
                return Err(StoreError::AlreadyRevoked(key.id.clone()));
            }
            key.expires_at = Some(key.expires_at.map_or(at, |e| e.min(at)));
            key.rotated_to = Some(successor.to_owned());
            Ok(())
        })
    }

    fn touch_key(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        if !self.touched.first_in_second(id, at) {
            return Ok(());
        }
        self.last_used.insert(id, &at.to_be_bytes())?;
        Ok(())
    }

    fn charge(&self, request: &ChargeRequest) -> StoreResult<Charge> {
        self.charge_as(None, request)
    }

    fn quota_used(&self, tenant: &str, day: u32) -> StoreResult<u64> {
        Ok(self
            .quota
            .get(day_key(tenant, day))?
            .and_then(|v| read_u64(&v))
            .unwrap_or(0))
    }

    fn usage(&self, tenant: Option<&str>) -> StoreResult<Vec<UsageRow>> {
        let prefix = tenant.map(|t| {
            let mut p = t.as_bytes().to_vec();
            p.push(0);
            p
        });
        let iter = match &prefix {
            Some(p) => self.usage.scan_prefix(p),
            None => self.usage.iter(),
        };
        let mut rows = Vec::new();
        for entry in iter {
            let (key, value) = entry?;
            rows.push(parse_usage_row(&key, &value)?);
        }
        Ok(rows)
    }

    /// Writes and flushes a small record: fails when the disk is full or the database failed.
    fn health(&self) -> StoreResult<()> {
        self.db
            .open_tree("meta")?
            .insert("health_checked_at", &clock::now().to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    fn flush(&self) -> StoreResult<()> {
        self.db.flush()?;
        Ok(())
    }

    fn charge_with_id(&self, id: u128, request: &ChargeRequest) -> StoreResult<Charge> {
        self.charge_as(Some(id), request)
    }

    fn refund(&self, id: u128, request: &ChargeRequest) -> StoreResult<bool> {
        self.refund_charge(id, request)
    }

    fn put_console_grant(
        &self,
        kind: ConsoleSecret,
        hash: &[u8; 32],
        grant: &ConsoleGrant,
    ) -> StoreResult<()> {
        self.put_console_grant_local(kind, hash, grant)
    }

    fn console_grant(
        &self,
        kind: ConsoleSecret,
        hash: &[u8; 32],
        now: Timestamp,
        take: bool,
    ) -> StoreResult<Option<ConsoleGrant>> {
        self.console_grant_local(kind, hash, now, take)
    }

    fn end_console_grants(&self, hash: Option<&[u8; 32]>) -> StoreResult<u64> {
        self.end_console_grants_local(hash)
    }
    fn set_contact(&self, contact: &ContactRecord) -> StoreResult<()> {
        if self.tenants.get(contact.tenant.as_bytes())?.is_none() {
            return Err(self.unknown_tenant(&contact.tenant));
        }
        reminders::set_contact(&self.contacts, contact)?;
        self.db.flush()?;
        Ok(())
    }

    fn contact(&self, tenant: &str) -> StoreResult<Option<ContactRecord>> {
        reminders::contact(&self.contacts, tenant)
    }

    fn contacts(&self) -> StoreResult<Vec<ContactRecord>> {
        reminders::contacts(&self.contacts)
    }

    fn claim_reminder(&self, claim: &ReminderClaim) -> StoreResult<bool> {
        let claimed = reminders::claim(&self.reminders, claim)?;
        if claimed {
            // On disk before anything is sent: a restarted owner still knows it is claimed.
            self.db.flush()?;
        }
        Ok(claimed)
    }

    fn finish_reminder(&self, finish: &ReminderFinish) -> StoreResult<bool> {
        let finished = reminders::finish(&self.reminders, finish)?;
        self.db.flush()?;
        Ok(finished)
    }

    fn reminders(&self) -> StoreResult<Vec<ReminderRecord>> {
        reminders::list(&self.reminders)
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        let _ = self.db.flush();
    }
}

fn day_key(tenant: &str, day: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(tenant.len() + 5);
    key.extend_from_slice(tenant.as_bytes());
    key.push(0);
    key.extend_from_slice(&day.to_be_bytes());
    key
}

/// How much memory sled may use to cache pages. Its default, 1 GiB, let an owner under load
/// grow without a plateau; the whole store of a busy server is a few megabytes.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Opens the sled database in `path`, naming the failures a person can act on.
fn open_db(path: &Path) -> StoreResult<sled::Db> {
    sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_BYTES)
        .flush_every_ms(Some(500))
        .open()
        .map_err(|e| match e {
            sled::Error::Io(ref io) if is_lock_error(io) => StoreError::Locked(path.to_path_buf()),
            sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => {
                StoreError::CorruptFiles {
                    path: path.to_path_buf(),
                    why: sled_reason(&e),
                }
            }
            other => StoreError::from(other),
        })
}

/// sled's own words for a failure, without its empty backtrace.
fn sled_reason(err: &sled::Error) -> String {
    match err {
        sled::Error::Corruption { at, .. } => match at {
            Some(at) => format!("corrupted data at {at}"),
            None => "corrupted data".to_owned(),
        },
        other => other.to_string(),
    }
}

/// Removes the `snap.*.generating` files of an interrupted snapshot, if no other process holds
/// the database (its lock on `db` proves that none is writing one now). The finished snapshot
/// before it and the log still hold every write. Returns whether any file was removed.
fn remove_unfinished_snapshots(path: &Path) -> bool {
    let Ok(db_file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path.join("db"))
    else {
        return false;
    };
    if db_file.try_lock().is_err() {
        return false;
    }
    let mut removed = false;
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.")
            && name.ends_with(".generating")
            && std::fs::remove_file(entry.path()).is_ok()
        {
            tracing::warn!(
                file = %entry.path().display(),
                "removed an unfinished store snapshot (left by a full disk or a crash)"
            );
            removed = true;
        }
    }
    let _ = db_file.unlock();
    removed
}

/// The key of a charge record: the day first, so that old days prune as one range.
/// How often the charge-id records are pruned, at most.
const CHARGE_PRUNE_EVERY_MS: u64 = 10_000;

fn charge_key(day: u32, id: u128) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..4].copy_from_slice(&day.to_be_bytes());
    key[4..].copy_from_slice(&id.to_be_bytes());
    key
}

fn parse_usage_row(key: &[u8], value: &[u8]) -> StoreResult<UsageRow> {
    let corrupt = || StoreError::Corrupt("usage: malformed entry".into());
    let zero = key.iter().position(|&b| b == 0).ok_or_else(corrupt)?;
    let (tenant, rest) = (&key[..zero], &key[zero + 1..]);
    if rest.len() < 4 {
        return Err(corrupt());
    }
    let (day, key_id) = rest.split_at(4);
    Ok(UsageRow {
        tenant: String::from_utf8(tenant.to_vec()).map_err(|_| corrupt())?,
        key_id: String::from_utf8(key_id.to_vec()).map_err(|_| corrupt())?,
        day: u32::from_be_bytes(day.try_into().map_err(|_| corrupt())?),
        calls: read_u64(value).ok_or_else(corrupt)?,
    })
}

/// Adds one to the big-endian counter at `key`.
fn increment(tree: &sled::Tree, key: &[u8]) -> StoreResult<()> {
    tree.update_and_fetch(key, |old| {
        let count = old.and_then(read_u64).unwrap_or(0) + 1;
        Some(count.to_be_bytes().to_vec())
    })?;
    Ok(())
}

/// Takes one off the big-endian counter at `key`; a counter that reaches zero is removed.
fn decrement(tree: &sled::Tree, key: &[u8]) -> StoreResult<()> {
    tree.update_and_fetch(key, |old| {
        let count = old.and_then(read_u64)?.saturating_sub(1);
        (count > 0).then(|| count.to_be_bytes().to_vec())
    })?;
    Ok(())
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn read_i64(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.try_into().ok()?))
}

fn is_lock_error(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::WouldBlock || err.to_string().contains("lock")
}

fn io_error(path: &Path, err: std::io::Error) -> StoreError {
    if err.kind() == std::io::ErrorKind::AlreadyExists
        || err.kind() == std::io::ErrorKind::NotADirectory
    {
        StoreError::NotADirectory(path.to_path_buf())
    } else {
        StoreError::Db(sled::Error::Io(std::io::Error::new(
            err.kind(),
            format!("{}: {err}", path.display()),
        )))
    }
}

/// Keeps a folder private to its owner (mode 0700) when others can read or enter it.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::charge_id_at;

    fn tenant(name: &str) -> TenantRecord {
        TenantRecord {
            name: name.into(),
            plan: crate::domain::Plan::Free,
            daily_limit: None,
            max_keys: None,
            created_at: 0,
        }
    }

    /// Today, so that pruning (by this machine's clock) keeps the days used here.
    fn today() -> u32 {
        clock::utc_day(clock::now())
    }

    fn request(tenant: &str, key_id: &str, day: u32, limit: Option<u64>) -> ChargeRequest {
        ChargeRequest {
            tenant: tenant.into(),
            key_id: key_id.into(),
            env: Env::Live,
            day,
            limit,
            burst_per_second: 1_000,
        }
    }

    /// The charge id `n` of this test run: made now, as a server makes ids, so that pruning
    /// keeps it.
    fn id(n: u128) -> u128 {
        static MADE_AT: std::sync::LazyLock<u64> = std::sync::LazyLock::new(clock::now_ms);
        (u128::from(*MADE_AT) << 80) | n
    }

    fn live_charge(store: &SledStore, n: u128, day: u32) -> Charge {
        store
            .charge_as(Some(id(n)), &request("acme", "key_1", day, Some(2)))
            .unwrap()
    }

    #[test]
    fn a_live_charge_sent_again_is_counted_once_even_by_a_new_owner() {
        let dir = tempfile::tempdir().unwrap();
        let day = today();
        let first = Charge::Allowed {
            used: 1,
            limit: Some(2),
        };
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(live_charge(&store, 7, day), first);
            assert_eq!(live_charge(&store, 7, day), first);
            assert_eq!(store.quota_used("acme", day).unwrap(), 1);
        }
        // The owner is gone; the process that takes over reopens the database.
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(live_charge(&store, 7, day), first);
        assert_eq!(
            live_charge(&store, 8, day),
            Charge::Allowed {
                used: 2,
                limit: Some(2)
            }
        );
        assert_eq!(live_charge(&store, 9, day), Charge::Refused { limit: 2 });
        assert_eq!(store.quota_used("acme", day).unwrap(), 2);
        let usage = store.usage(Some("acme")).unwrap();
        assert_eq!(usage.iter().map(|r| r.calls).sum::<u64>(), 2);
        // Another key presenting a used id is a different call: it is charged, and gets no one
        // else's outcome.
        let other = store
            .charge_as(Some(id(7)), &request("beta", "key_2", day, None))
            .unwrap();
        assert_eq!(
            other,
            Charge::Allowed {
                used: 1,
                limit: None
            }
        );
        // Direct calls of `KeyStore::charge` carry no id, so each one counts.
        store.charge(&request("beta", "key_2", day, None)).unwrap();
        store.charge(&request("beta", "key_2", day, None)).unwrap();
        assert_eq!(store.quota_used("beta", day).unwrap(), 3);
    }

    #[test]
    fn charge_ids_are_kept_for_the_retention_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let day = today();
        let now = clock::now_ms();
        let acme = request("acme", "key_1", day, None);
        let stale = charge_id_at(now - CHARGE_ID_RETENTION_MS - 1_000);
        let recent = charge_id_at(now - CHARGE_ID_RETENTION_MS / 2);
        let yesterday = request("acme", "key_1", clock::day_before(day), None);
        let ahead = request("acme", "key_1", clock::day_after(day), None);
        store.charge_as(Some(stale), &acme).unwrap();
        store.charge_as(Some(recent), &acme).unwrap();
        store.charge_as(Some(recent), &yesterday).unwrap();
        store.charge_as(Some(recent), &ahead).unwrap();
        assert_eq!(store.charges.len(), 4);
        store
            .prune_charges_before(now - CHARGE_ID_RETENTION_MS)
            .unwrap();
        // Gone: the stale id and the whole of yesterday; kept: the recent id, and a day ahead
        // of this machine's clock.
        assert!(store.charges.get(charge_key(day, stale)).unwrap().is_none());
        assert!(
            store
                .charges
                .get(charge_key(day, recent))
                .unwrap()
                .is_some()
        );
        assert_eq!(store.charges.len(), 2);
        // The recent id still answers with its first outcome; the stale one is a new call.
        let used = |charge| match charge {
            Charge::Allowed { used, .. } => used,
            other => panic!("{other:?}"),
        };
        assert_eq!(used(store.charge_as(Some(recent), &acme).unwrap()), 2);
        assert_eq!(used(store.charge_as(Some(stale), &acme).unwrap()), 3);
        // Pruning runs at most once per interval, however many calls come in.
        store
            .charges_pruned_at
            .store(clock::now_ms(), Ordering::Relaxed);
        store.charge_as(Some(charge_id_at(0)), &acme).unwrap();
        assert_eq!(store.charges.len(), 4, "pruned again within the interval");
    }

    #[test]
    fn an_unfinished_snapshot_is_removed_and_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.create_tenant(&tenant("acme")).unwrap();
        }
        // What a full disk leaves: an empty snapshot file newer than the finished one.
        let leftover = dir
            .path()
            .join("store")
            .join("snap.FFFFFFFFFFFFFFF0.generating");
        std::fs::write(&leftover, b"").unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.tenant("acme").unwrap().is_some());
        assert!(!leftover.exists());
    }

    #[test]
    fn corrupt_files_name_the_folder_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStore::open(dir.path()).unwrap());
        let bad = dir.path().join("store").join("snap.FFFFFFFFFFFFFFF0");
        std::fs::write(&bad, b"not a snapshot").unwrap();
        let err = SledStore::open(dir.path())
            .err()
            .expect("opened a corrupt store");
        let message = err.to_string();
        let folder = dir.path().join("store").display().to_string();
        assert!(matches!(err, StoreError::CorruptFiles { .. }), "{message}");
        assert!(message.contains(&folder), "{message}");
        assert!(message.contains("mv "), "{message}");
        assert!(!message.contains("backtrace"), "{message}");
    }

    #[test]
    fn a_refund_takes_one_live_call_back_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let day = today();
        let acme = request("acme", "key_1", day, Some(2));
        store.charge_with_id(id(1), &acme).unwrap();
        store.charge_with_id(id(2), &acme).unwrap();
        assert!(store.refund(id(1), &acme).unwrap());
        assert!(!store.refund(id(1), &acme).unwrap(), "refunded twice");
        assert!(!store.refund(id(3), &acme).unwrap(), "never charged");
        let other = request("beta", "key_2", day, None);
        assert!(
            !store.refund(id(2), &other).unwrap(),
            "another key's charge"
        );
        assert_eq!(store.quota_used("acme", day).unwrap(), 1);
        let usage = store.usage(Some("acme")).unwrap();
        assert_eq!(usage.iter().map(|r| r.calls).sum::<u64>(), 1);
        // The call taken back frees its place under the limit, and the limit still holds.
        assert_eq!(
            store.charge_with_id(id(4), &acme).unwrap(),
            Charge::Allowed {
                used: 2,
                limit: Some(2)
            }
        );
        assert_eq!(
            store.charge_with_id(id(5), &acme).unwrap(),
            Charge::Refused { limit: 2 }
        );
        // Refunding every call leaves no usage row behind.
        assert!(store.refund(id(2), &acme).unwrap());
        assert!(store.refund(id(4), &acme).unwrap());
        assert_eq!(store.quota_used("acme", day).unwrap(), 0);
        assert!(store.usage(Some("acme")).unwrap().is_empty());
    }
}

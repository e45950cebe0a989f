//! [`SharedStore`]: the store as every docward process sees it. The first process to need the
//! store opens the sled database and becomes its owner, serving it to the others over a Unix
//! socket; every other process becomes a client. When the owner exits or dies, the next request
//! of a client finds the database free, becomes the new owner, and retries the request.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use super::KeyStore;
use super::console::{ConsoleGrant, ConsoleSecret};
use super::error::{StoreError, StoreResult};
use super::owner::{Owner, handle, socket_path};
use super::records::{Charge, ChargeRequest, KeyRecord, TenantRecord, UsageRow};
use super::reminders::{ContactRecord, ReminderClaim, ReminderFinish, ReminderRecord};
use super::remote::RemoteStore;
use super::sled_store::SledStore;
use super::touches::Touches;
use super::wire::{Request, Response};
use crate::clock::Timestamp;
use crate::token::TokenHash;

/// How long to look for an owner (or become one) before giving up.
const FIND_OWNER_TIMEOUT: Duration = Duration::from_secs(5);

/// This process's link to the store: it owns it, talks to the owner, or has let go of a
/// database that failed and finds its role again on the next call.
enum Role {
    Owner {
        // Stop serving (joining the connection threads) before the database closes.
        _serving: Owner,
        store: Arc<SledStore>,
    },
    Client(RemoteStore),
    Vacant,
}

/// The store shared by every docward process on a data dir.
pub struct SharedStore {
    data_dir: PathBuf,
    role: Arc<RwLock<Role>>,
    /// Closes and reopens a database that failed.
    reopener: Reopener,
    /// Last `last_used` second sent per key.
    touched: Touches,
}

impl SharedStore {
    /// Opens the store in `data_dir`, as its owner if no other process owns it, else as a client.
    pub fn open(data_dir: &Path) -> StoreResult<SharedStore> {
        let role = Arc::new(RwLock::new(Role::Vacant));
        let reopener = Reopener {
            role: Arc::downgrade(&role),
            data_dir: data_dir.to_path_buf(),
            pending: Arc::default(),
        };
        *role.write().unwrap_or_else(|p| p.into_inner()) = find_role(data_dir, &reopener)?;
        Ok(SharedStore {
            data_dir: data_dir.to_path_buf(),
            role,
            reopener,
            touched: Touches::default(),
        })
    }

    /// Whether this process owns the database.
    pub fn is_owner(&self) -> bool {
        matches!(
            *self.role.read().unwrap_or_else(|p| p.into_inner()),
            Role::Owner { .. }
        )
    }

    /// Runs one request, through the owner or locally. On losing the owner (it exited or died),
    /// finds or becomes the new one and retries, until [`FIND_OWNER_TIMEOUT`] runs out.
    fn call(&self, request: Request) -> StoreResult<Response> {
        self.call_tracked(request).0
    }

    /// Like [`SharedStore::call`], also telling whether the request was sent again after losing
    /// an owner (so that it may already have been carried out once).
    fn call_tracked(&self, request: Request) -> (StoreResult<Response>, bool) {
        let deadline = Instant::now() + FIND_OWNER_TIMEOUT;
        let mut retried = false;
        loop {
            {
                let role = self.role.read().unwrap_or_else(|p| p.into_inner());
                let outcome = match &*role {
                    Role::Owner { store, .. } => {
                        let response = handle(store.as_ref(), request);
                        if let Response::Error { error } = &response
                            && error.poisons_the_database()
                        {
                            self.reopener.fire();
                        }
                        return (into_result(response), retried);
                    }
                    Role::Client(remote) => remote.call(&request),
                    Role::Vacant => Err(StoreError::Unavailable(
                        "the store was closed after a failure".into(),
                    )),
                };
                match outcome {
                    Err(StoreError::Unavailable(why)) if Instant::now() < deadline => {
                        tracing::debug!("{why}; taking over or reconnecting");
                    }
                    other => return (other, retried),
                }
            }
            retried = true;
            let mut role = self.role.write().unwrap_or_else(|p| p.into_inner());
            match find_role(&self.data_dir, &self.reopener) {
                Ok(found) => *role = found,
                Err(e) => return (Err(e), retried),
            }
        }
    }
}

/// Closes an owned database that failed with an I/O error (a full disk: sled then refuses every
/// later write, even once space is freed) and opens it again, on a thread of its own, so that
/// the store recovers without a restart. Other processes lose their connections meanwhile and
/// find the owner again by themselves.
#[derive(Clone)]
pub(crate) struct Reopener {
    role: Weak<RwLock<Role>>,
    data_dir: PathBuf,
    /// Whether a reopen is under way.
    pending: Arc<AtomicBool>,
}

impl Reopener {
    /// Starts a reopen unless one is under way. Called by whichever thread saw the failure.
    pub(crate) fn fire(&self) {
        if self.pending.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::error!("the store's database failed to write; closing and reopening it");
        let this = self.clone();
        let spawned = std::thread::Builder::new()
            .name("docward-store-reopen".into())
            .spawn(move || {
                this.reopen();
                this.pending.store(false, Ordering::SeqCst);
            });
        if spawned.is_err() {
            self.pending.store(false, Ordering::SeqCst);
        }
    }

    fn reopen(&self) {
        let Some(role) = self.role.upgrade() else {
            return;
        };
        let mut role = role.write().unwrap_or_else(|p| p.into_inner());
        if !matches!(*role, Role::Owner { .. }) {
            return;
        }
        // Dropping the old role stops serving and releases sled's lock before reopening.
        *role = Role::Vacant;
        match find_role(&self.data_dir, self) {
            Ok(found) => {
                tracing::info!("the store's database was reopened");
                *role = found;
            }
            // The next call tries again (the disk may still be full).
            Err(e) => tracing::error!("could not reopen the store: {e}"),
        }
    }
}

fn into_result(response: Response) -> StoreResult<Response> {
    match response {
        Response::Error { error } => Err(error.into()),
        other => Ok(other),
    }
}

/// Opens the database (becoming its owner) or connects to the process that has it, retrying
/// while an owner is starting up or a dead owner's lock is being released.
fn find_role(data_dir: &Path, reopener: &Reopener) -> StoreResult<Role> {
    let socket = socket_path(data_dir);
    let deadline = Instant::now() + FIND_OWNER_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match SledStore::open(data_dir) {
            Ok(store) => {
                let store = Arc::new(store);
                let on_failure = {
                    let reopener = reopener.clone();
                    Arc::new(move || reopener.fire())
                };
                let serving =
                    Owner::start(Arc::clone(&store), data_dir, on_failure).map_err(|e| {
                        StoreError::Unavailable(format!(
                            "could not serve the store on {}: {e}",
                            socket.display()
                        ))
                    })?;
                return Ok(Role::Owner {
                    store,
                    _serving: serving,
                });
            }
            Err(StoreError::Locked(_)) => match RemoteStore::connect(&socket, data_dir) {
                Ok(remote) => return Ok(Role::Client(remote)),
                Err(Some(refused)) => return Err(refused),
                // No answer yet: the owner is starting, or a dead one's lock is being released.
                Err(None) => {}
            },
            Err(other) => return Err(other),
        }
        if Instant::now() >= deadline {
            return Err(StoreError::Unavailable(format!(
                "another process holds the store in {} but does not answer on {}; if no docward is running, remove {}",
                data_dir.display(),
                socket.display(),
                socket.display()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Unpacks a response of the expected shape, or reports a protocol mismatch.
macro_rules! expect {
    ($response:expr, $pattern:pat => $value:expr) => {
        match $response? {
            $pattern => Ok($value),
            other => Err(StoreError::Corrupt(format!(
                "unexpected response: {other:?}"
            ))),
        }
    };
}

impl KeyStore for SharedStore {
    fn create_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        match self.call_tracked(Request::CreateTenant {
            tenant: tenant.clone(),
        }) {
            // Sent again after the owner died: the first attempt may have created it.
            (Err(StoreError::TenantExists(_)), true)
                if self.tenant(&tenant.name)?.as_ref() == Some(tenant) =>
            {
                Ok(())
            }
            (outcome, _) => expect!(outcome, Response::Unit => ()),
        }
    }

    fn update_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        expect!(self.call(Request::UpdateTenant { tenant: tenant.clone() }), Response::Unit => ())
    }

    fn tenant(&self, name: &str) -> StoreResult<Option<TenantRecord>> {
        expect!(self.call(Request::Tenant { name: name.to_owned() }), Response::Tenant { tenant } => tenant)
    }

    fn tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        expect!(self.call(Request::Tenants), Response::Tenants { tenants } => tenants)
    }

    fn insert_key(
        &self,
        key: &KeyRecord,
        hash: &TokenHash,
        replacing: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()> {
        expect!(self.call(Request::InsertKey {
            key: key.clone(),
            hash: hash.0,
            replacing: replacing.map(str::to_owned),
            now,
        }), Response::Unit => ())
    }

    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        expect!(self.call(Request::Key { id: id.to_owned() }), Response::Key { key } => key)
    }

    fn key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<KeyRecord>> {
        expect!(self.call(Request::KeyByHash { hash: hash.0 }), Response::Key { key } => key)
    }

    fn credential(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<(KeyRecord, Option<TenantRecord>)>> {
        expect!(self.call(Request::Credential { hash: hash.0 }), Response::Credential { credential } => credential)
    }

    fn is_local(&self) -> bool {
        self.is_owner()
    }

    fn keys(&self, tenant: Option<&str>) -> StoreResult<Vec<KeyRecord>> {
        expect!(self.call(Request::Keys { tenant: tenant.map(str::to_owned) }), Response::Keys { keys } => keys)
    }

    fn revoke_key(&self, id: &str, at: Timestamp) -> StoreResult<KeyRecord> {
        match self.call_tracked(Request::RevokeKey {
            id: id.to_owned(),
            at,
        }) {
            // Sent again after the owner died: the first attempt may have revoked it.
            (Err(StoreError::AlreadyRevoked(_)), true) => self
                .key(id)?
                .filter(|k| k.revoked_at == Some(at))
                .ok_or_else(|| StoreError::AlreadyRevoked(id.to_owned())),
            (outcome, _) => expect!(outcome, Response::Key { key: Some(key) } => key),
        }
    }

    fn retire_key(&self, id: &str, at: Timestamp, successor: &str) -> StoreResult<KeyRecord> {
        expect!(self.call(Request::RetireKey {
            id: id.to_owned(),
            at,
            successor: successor.to_owned(),
        }), Response::Key { key: Some(key) } => key)
    }

    fn touch_key(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        // The owner writes at most once a second per key; skip the round trip as well.
        if !self.is_owner() && !self.touched.first_in_second(id, at) {
            return Ok(());
        }
        expect!(self.call(Request::TouchKey { id: id.to_owned(), at }), Response::Unit => ())
    }

    fn charge(&self, request: &ChargeRequest) -> StoreResult<Charge> {
        self.charge_with_id(super::records::new_charge_id(), request)
    }

    fn quota_used(&self, tenant: &str, day: u32) -> StoreResult<u64> {
        expect!(self.call(Request::QuotaUsed { tenant: tenant.to_owned(), day }), Response::Count { count } => count)
    }

    fn usage(&self, tenant: Option<&str>) -> StoreResult<Vec<UsageRow>> {
        expect!(self.call(Request::Usage { tenant: tenant.map(str::to_owned) }), Response::Usage { rows } => rows)
    }

    fn health(&self) -> StoreResult<()> {
        // The owner writes and flushes a small record; a client asks the owner to.
        expect!(self.call(Request::Health), Response::Unit => ())
    }

    fn flush(&self) -> StoreResult<()> {
        expect!(self.call(Request::Flush), Response::Unit => ())
    }

    fn charge_with_id(&self, id: u128, request: &ChargeRequest) -> StoreResult<Charge> {
        // The id stays the same if the request is sent again to a new owner.
        expect!(self.call(Request::Charge {
            id,
            request: request.clone(),
        }), Response::Charge { charge } => charge)
    }

    fn refund(&self, id: u128, request: &ChargeRequest) -> StoreResult<bool> {
        expect!(self.call(Request::Refund {
            id,
            request: request.clone(),
        }), Response::Refunded { refunded } => refunded)
    }

    fn put_console_grant(
        &self,
        kind: ConsoleSecret,
        hash: &[u8; 32],
        grant: &ConsoleGrant,
    ) -> StoreResult<()> {
        expect!(self.call(Request::PutConsoleGrant { kind, hash: *hash, grant: grant.clone() }), Response::Unit => ())
    }

    fn console_grant(
        &self,
        kind: ConsoleSecret,
        hash: &[u8; 32],
        now: Timestamp,
        take: bool,
    ) -> StoreResult<Option<ConsoleGrant>> {
        expect!(self.call(Request::ConsoleGrant { kind, hash: *hash, now, take }), Response::ConsoleGrant { grant } => grant)
    }

    fn end_console_grants(&self, hash: Option<&[u8; 32]>) -> StoreResult<u64> {
        expect!(self.call(Request::EndConsoleGrants { hash: hash.copied() }), Response::Count { count } => count)
    }
    fn set_contact(&self, contact: &ContactRecord) -> StoreResult<()> {
        expect!(self.call(Request::SetContact { contact: contact.clone() }), Response::Unit => ())
    }

    fn contact(&self, tenant: &str) -> StoreResult<Option<ContactRecord>> {
        expect!(self.call(Request::Contact { tenant: tenant.to_owned() }), Response::Contact { contact } => contact)
    }

    fn contacts(&self) -> StoreResult<Vec<ContactRecord>> {
        expect!(self.call(Request::Contacts), Response::Contacts { contacts } => contacts)
    }

    fn claim_reminder(&self, claim: &ReminderClaim) -> StoreResult<bool> {
        match self.call_tracked(Request::ClaimReminder {
            claim: claim.clone(),
        }) {
            // Sent again after the owner died: the first attempt may have claimed it for us.
            (Ok(Response::Claimed { claimed: false }), true) => {
                Ok(self.reminders()?.iter().any(|r| held_by(r, claim)))
            }
            (outcome, _) => expect!(outcome, Response::Claimed { claimed } => claimed),
        }
    }

    fn finish_reminder(&self, finish: &ReminderFinish) -> StoreResult<bool> {
        expect!(self.call(Request::FinishReminder { finish: finish.clone() }), Response::Claimed { claimed } => claimed)
    }

    fn reminders(&self) -> StoreResult<Vec<ReminderRecord>> {
        expect!(self.call(Request::Reminders), Response::Reminders { reminders } => reminders)
    }
}

/// Whether `record` is the reminder of `claim`, claimed by its claimant.
fn held_by(record: &ReminderRecord, claim: &ReminderClaim) -> bool {
    record.key_id == claim.key_id
        && record.expires_at == claim.expires_at
        && record.channel == claim.channel
        && matches!(&record.state, super::reminders::ReminderState::Claimed { claimant, .. } if *claimant == claim.claimant)
}

//! Request limits: a per-key burst limit (governor) and the tenant's daily quota of live calls
//! (persisted, so restarts do not reset it). Both are kept by the store's owner and so shared by
//! every process on the machine.

use std::time::Duration;

use crate::auth::Principal;
use crate::clock::{self, Timestamp};
use crate::store::{Charge, ChargeRequest, KeyStore, StoreError};

/// Default burst limit: calls per second per key.
pub const DEFAULT_BURST_PER_SECOND: u32 = 20;

/// Why a call was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// Too many calls in a short window from one key.
    #[error("rate limit: at most {per_second} calls per second per key; retry in {} ms", .retry_after.as_millis())]
    Burst {
        /// The burst limit.
        per_second: u32,
        /// How long until the next call is allowed.
        retry_after: Duration,
    },
    /// The tenant used its daily quota of live calls.
    #[error("daily quota of {limit} live tool calls used up for tenant '{tenant}' on the {plan} plan; it resets at {} (00:00 UTC). Test keys are not counted; a higher plan raises the limit, or the tenant's administrator raises it now with `docward tenant update {tenant} --daily-limit {}`", clock::format(*.resets_at), limit.saturating_mul(2).max(1))]
    Daily {
        /// The tenant.
        tenant: String,
        /// Its plan's name.
        plan: String,
        /// The daily limit.
        limit: u64,
        /// When the quota resets.
        resets_at: Timestamp,
    },
    /// The store failed.
    #[error("could not count the call: {0}")]
    Store(#[from] StoreError),
}

/// What a successful admission tells the caller (for RateLimit headers and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// Live calls used today, this one included (0 for test traffic).
    pub used: u64,
    /// The daily limit, if any applies.
    pub limit: Option<u64>,
    /// When the daily window resets.
    pub resets_at: Timestamp,
}

/// What a counted call can be taken back with ([`KeyStore::refund`]): the id it was charged
/// under and what was charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeTicket {
    /// The random id of the charge.
    pub id: u128,
    /// The charge itself.
    pub request: ChargeRequest,
}

/// The limits every `tools/call` passes before a tool runs. Both live in the store, so every
/// process that shares the store shares them.
pub struct Limits {
    per_second: u32,
}

impl Limits {
    /// Limits with a burst of `per_second` calls per second per key.
    pub fn new(per_second: u32) -> Limits {
        Limits {
            per_second: per_second.max(1),
        }
    }

    /// The burst limit: calls per second per key.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Admits one call of `principal` at `now`: the burst limit first, then the daily quota
    /// (live keys only). A refused call is not counted; an admitted one comes with the ticket
    /// that refunds it.
    pub fn admit(
        &self,
        store: &dyn KeyStore,
        principal: &Principal,
        now: Timestamp,
    ) -> Result<(Admitted, ChargeTicket), QuotaError> {
        let resets_at = clock::next_utc_midnight(now);
        let request = ChargeRequest {
            tenant: principal.tenant.clone(),
            key_id: principal.key_id.clone(),
            env: principal.env,
            day: clock::utc_day(now),
            limit: principal.daily_limit,
            burst_per_second: self.per_second,
        };
        let id = crate::store::new_charge_id();
        match store.charge_with_id(id, &request)? {
            Charge::Allowed { used, limit } => Ok((
                Admitted {
                    used,
                    limit,
                    resets_at,
                },
                ChargeTicket { id, request },
            )),
            Charge::Refused { limit } => Err(QuotaError::Daily {
                tenant: principal.tenant.clone(),
                plan: principal.plan.to_string(),
                limit,
                resets_at,
            }),
            Charge::Throttled {
                per_second,
                retry_after_ms,
            } => Err(QuotaError::Burst {
                per_second,
                retry_after: Duration::from_millis(retry_after_ms),
            }),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(DEFAULT_BURST_PER_SECOND)
    }
}

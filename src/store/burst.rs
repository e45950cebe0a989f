//! Per-key burst limits (governor), kept beside the store so that every process reaching the
//! store through its owner shares them.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// One keyed limiter per burst rate in use (servers may be started with different `--burst`).
#[derive(Default)]
pub(crate) struct BurstLimits {
    limiters: Mutex<HashMap<u32, Arc<DefaultKeyedRateLimiter<String>>>>,
}

impl BurstLimits {
    /// Lets one call of `key_id` through at `per_second` calls per second (with a burst of as
    /// many), or says how long to wait.
    pub(crate) fn check(&self, key_id: &str, per_second: u32) -> Result<(), Duration> {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let limiter = {
            let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                limiters
                    .entry(per_second.get())
                    .or_insert_with(|| Arc::new(RateLimiter::keyed(Quota::per_second(per_second)))),
            )
        };
        limiter
            .check_key(&key_id.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_key_waits_and_other_keys_do_not() {
        let limits = BurstLimits::default();
        for _ in 0..3 {
            assert!(limits.check("k1", 3).is_ok());
        }
        let wait = limits.check("k1", 3).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(400),
            "{wait:?}"
        );
        assert!(limits.check("k2", 3).is_ok());
    }
}

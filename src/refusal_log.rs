//! Refusals are logged, but a flood of bad keys must not fill the disk with log lines: each
//! refusal code gets [`LINES_PER_WINDOW`] lines per [`WINDOW`]; past that, refusals are only
//! counted, and the first line of the next window says how many were left out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::gate::Refusal;

/// The span over which lines are counted.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Lines logged per refusal code per window.
pub const LINES_PER_WINDOW: u32 = 20;

/// What to do with one refusal.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `suppressed` refusals of the same code were left out before it.
    Log {
        /// Refusals counted but not logged in the windows before.
        suppressed: u64,
    },
    /// Count it only.
    Suppress,
}

struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

/// Per-code line budgets.
#[derive(Default)]
pub struct Throttle {
    windows: Mutex<HashMap<&'static str, Window>>,
}

impl Throttle {
    /// Decides whether a refusal of `code` at `now` is logged.
    pub fn verdict(&self, code: &'static str, now: Instant) -> Verdict {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(code).or_insert(Window {
            started: now,
            logged: 0,
            suppressed: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            window.started = now;
            window.logged = 0;
        }
        if window.logged < LINES_PER_WINDOW {
            window.logged += 1;
            Verdict::Log {
                suppressed: std::mem::take(&mut window.suppressed),
            }
        } else {
            window.suppressed += 1;
            Verdict::Suppress
        }
    }
}

static REFUSALS: std::sync::LazyLock<Throttle> = std::sync::LazyLock::new(Throttle::default);

/// Logs a refusal at WARN, within the budget of its code. `what` says what was refused.
pub fn refused(what: &str, refusal: &Refusal) {
    warn(refusal.code.as_str(), || {
        format!("{what} refused: {}", refusal.message)
    });
}

/// Logs the line `message` makes at WARN, within the budget of `code`; the line is only made
/// when it is logged.
pub fn warn(code: &'static str, message: impl FnOnce() -> String) {
    if let Verdict::Log { suppressed } = REFUSALS.verdict(code, Instant::now()) {
        if suppressed > 0 {
            tracing::warn!(
                code,
                suppressed,
                "{} ({suppressed} more with this code were not logged)",
                message()
            );
        } else {
            tracing::warn!(code, "{}", message());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_logged_within_budget_and_the_rest_counted() {
        let throttle = Throttle::default();
        let start = Instant::now();
        let logged = (0..10_000)
            .filter(|_| throttle.verdict("unknown_key", start) != Verdict::Suppress)
            .count();
        assert_eq!(logged, LINES_PER_WINDOW as usize);
        // Another code has its own budget.
        assert_eq!(
            throttle.verdict("key_revoked", start),
            Verdict::Log { suppressed: 0 }
        );
        // The next window logs again and reports what was left out.
        assert_eq!(
            throttle.verdict("unknown_key", start + WINDOW),
            Verdict::Log {
                suppressed: 10_000 - LINES_PER_WINDOW as u64
            }
        );
    }
}

//! Coalesces `last_used` updates: the first touch of a key in a given second goes through, the
//! rest are dropped. Used by the store (to spare writes) and by its clients (to spare round trips).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Timestamp;

/// Keys remembered before the map is cleared (a cleared map only lets one more touch through).
const MAX_REMEMBERED: usize = 100_000;

/// The last second each key was touched.
#[derive(Default)]
pub(crate) struct Touches {
    last: Mutex<HashMap<String, Timestamp>>,
}

impl Touches {
    /// Whether a touch of `id` at `at` is the first one of that second (and records it).
    pub(crate) fn first_in_second(&self, id: &str, at: Timestamp) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.get(id).is_some_and(|&seen| seen >= at) {
            return false;
        }
        if last.len() >= MAX_REMEMBERED {
            last.clear();
        }
        last.insert(id.to_owned(), at);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_touch_per_key_per_second() {
        let touches = Touches::default();
        assert!(touches.first_in_second("k1", 10));
        assert!(!touches.first_in_second("k1", 10));
        assert!(touches.first_in_second("k2", 10));
        assert!(touches.first_in_second("k1", 11));
        assert!(
            !touches.first_in_second("k1", 9),
            "an older second is not news"
        );
    }
}

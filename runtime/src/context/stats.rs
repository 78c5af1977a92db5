//! What a request did, counted for its summary: errors logged, slow operations, and the keys
//! behind per-request de-duplication.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Per-request counters. The maps behind `log_once`, `log_error` and slow-operation names
/// are made on first use, so a request that uses none of them pays for two counters only.
#[derive(Debug, Default)]
pub(crate) struct RequestStats {
    errors: AtomicU32,
    slow: AtomicU32,
    extras: OnceLock<Box<Extras>>,
}

#[derive(Debug, Default)]
struct Extras {
    slow_names: Mutex<Vec<Arc<str>>>,
    once_keys: Mutex<HashSet<Box<str>>>,
    reported_errors: Mutex<HashSet<u64>>,
}

impl RequestStats {
    pub(crate) fn errors(&self) -> u32 {
        self.errors.load(Ordering::Relaxed)
    }

    pub(crate) fn slow_count(&self) -> u32 {
        self.slow.load(Ordering::Relaxed)
    }

    /// The names of the slow operations, joined with commas; `None` when there were none.
    pub(crate) fn slow_names(&self) -> Option<String> {
        let names = self.extras.get()?.slow_names.lock().unwrap_or_else(PoisonError::into_inner).join(",");
        (!names.is_empty()).then_some(names)
    }

    fn extras(&self) -> &Extras {
        self.extras.get_or_init(Box::default)
    }

    pub(crate) fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_slow(&self, name: &str) {
        self.slow.fetch_add(1, Ordering::Relaxed);
        self.extras().slow_names.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::from(name));
    }

    pub(crate) fn first_time(&self, key: &str) -> bool {
        let mut keys = self.extras().once_keys.lock().unwrap_or_else(PoisonError::into_inner);
        !keys.contains(key) && keys.insert(key.into())
    }

    pub(crate) fn first_report(&self, key: u64) -> bool {
        self.extras().reported_errors.lock().unwrap_or_else(PoisonError::into_inner).insert(key)
    }
}

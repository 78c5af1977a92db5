//! Keeps a warning that every request could write (a store outage) from flooding the logs:
//! at most one per interval, the next one counting what was held back.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One cause of warnings, let through at most once per `interval`. Lock-free: a request
/// that is held back pays two atomic operations.
#[derive(Debug)]
pub(crate) struct Throttle {
    interval: Duration,
    // Nanoseconds since the process's first throttle check, plus one; 0 means never.
    last: AtomicU64,
    held_back: AtomicU64,
}

impl Throttle {
    pub(crate) const fn new(interval: Duration) -> Self {
        Self { interval, last: AtomicU64::new(0), held_back: AtomicU64::new(0) }
    }

    /// `Some(n)` when a warning may be written now, `n` being how many were held back since
    /// the last one; `None` when this one is held back (and counted).
    pub(crate) fn admit(&self) -> Option<u64> {
        let now = nanos_since_origin();
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= self.interval.as_nanos() as u64;
        if due && self.last.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
            return Some(self.held_back.swap(0, Ordering::AcqRel));
        }
        self.held_back.fetch_add(1, Ordering::Relaxed);
        None
    }
}

impl Throttle {
    /// Forgets the last warning and what was held back (the cause went away), so the next
    /// occurrence is told at once.
    #[cfg(feature = "redis")]
    pub(crate) fn reset(&self) {
        self.last.store(0, Ordering::Relaxed);
        self.held_back.store(0, Ordering::Relaxed);
    }
}

fn nanos_since_origin() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    origin.elapsed().as_nanos() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_interval_and_the_next_counts_the_rest() {
        let throttle = Throttle::new(Duration::from_millis(50));
        assert_eq!(throttle.admit(), Some(0));
        for _ in 0..99 {
            assert_eq!(throttle.admit(), None);
        }
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(throttle.admit(), Some(99), "the next warning counts what was held back");
        assert_eq!(throttle.admit(), None);
    }

    #[test]
    fn concurrent_callers_let_one_through() {
        let throttle = Throttle::new(Duration::from_secs(60));
        let admitted: usize = std::thread::scope(|scope| {
            let handles: Vec<_> =
                (0..8).map(|_| scope.spawn(|| (0..1000).filter(|_| throttle.admit().is_some()).count())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(admitted, 1);
        assert_eq!(throttle.held_back.load(Ordering::Relaxed), 7999);
    }
}

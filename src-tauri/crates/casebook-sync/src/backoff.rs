//! Exponential backoff with jitter, and the injected sleeper that waits it out. Tests use a
//! sleeper that records the waits and moves a fixed clock instead of sleeping.

use casebook_core::FixedClock;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Waits. The engine never calls `tokio::time::sleep` directly.
#[async_trait::async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, d: Duration);
}

/// Really sleeps (the app, the CLI).
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait::async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// Records every wait and advances a fixed clock by it, returning at once (tests).
#[derive(Debug, Clone)]
pub struct RecordingSleeper {
    clock: Arc<FixedClock>,
    waits: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    pub fn new(clock: Arc<FixedClock>) -> RecordingSleeper {
        RecordingSleeper {
            clock,
            waits: Arc::default(),
        }
    }

    pub fn waits(&self) -> Vec<Duration> {
        self.waits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, d: Duration) {
        self.waits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(d);
        self.clock.advance(d.as_millis() as i64);
    }
}

/// Exponential backoff: attempt `n` (0-based) waits a random duration in
/// `[d/2, d]` where `d = min(max, base * 2^n)` ("equal jitter": never zero, never synchronized
/// across clients).
#[derive(Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    rng: Mutex<fastrand::Rng>,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff {
            base,
            max,
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        }
    }

    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let d = exp.min(self.max);
        let half = d / 2;
        let span = (d - half).as_millis() as u64;
        let jitter = self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .u64(0..=span);
        half + Duration::from_millis(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_jittered_and_capped() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30), 7);
        let mut prev_cap = Duration::ZERO;
        for n in 0..10 {
            let d = b.delay(n);
            let cap = (Duration::from_millis(500) * 2u32.pow(n)).min(Duration::from_secs(30));
            assert!(
                d >= cap / 2 && d <= cap,
                "attempt {n}: {d:?} not in [{:?}, {cap:?}]",
                cap / 2
            );
            assert!(cap >= prev_cap);
            prev_cap = cap;
        }
        // Same seed, same sequence (reproducible tests); another seed differs somewhere.
        let a: Vec<_> = {
            let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 1);
            (0..6).map(|n| b.delay(n)).collect()
        };
        let again: Vec<_> = {
            let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 1);
            (0..6).map(|n| b.delay(n)).collect()
        };
        let other: Vec<_> = {
            let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 2);
            (0..6).map(|n| b.delay(n)).collect()
        };
        assert_eq!(a, again);
        assert_ne!(a, other);
    }

    #[tokio::test]
    async fn the_recording_sleeper_moves_the_clock_instead_of_sleeping() {
        use casebook_core::Clock;
        let clock = Arc::new(FixedClock::new(1_000));
        let s = RecordingSleeper::new(Arc::clone(&clock));
        let started = std::time::Instant::now();
        s.sleep(Duration::from_secs(3600)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(clock.now(), 1_000 + 3_600_000);
        assert_eq!(s.waits(), vec![Duration::from_secs(3600)]);
    }
}

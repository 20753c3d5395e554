//! Reconnect delays: exponential backoff with jitter. Pure (the caller supplies
//! the random numbers), so the schedule is testable.

use std::time::Duration;

/// Exponential backoff: the n-th consecutive failure waits a random time in
/// `[d/2, d]` where `d = min(base × 2^n, max)` ("equal jitter": never a
/// thundering herd, never less than half the nominal delay).
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff starting at `base` and capped at `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max: max.max(base),
            failures: 0,
        }
    }

    /// The nominal (un-jittered) delay after the current number of failures.
    pub fn nominal(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Records a failure and returns how long to wait before the next attempt;
    /// `unit` is a random number in `[0, 1)`.
    pub fn fail(&mut self, unit: f64) -> Duration {
        let d = self.nominal();
        self.failures = self.failures.saturating_add(1);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        d / 2 + d.mul_f64(unit / 2.0)
    }

    /// Forgets past failures (after a connection that delivered video).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(unit: f64, expected_ms: &[u64]) {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(4));
        let got: Vec<u64> = expected_ms
            .iter()
            .map(|_| b.fail(unit).as_millis() as u64)
            .collect();
        assert_eq!(got, expected_ms);
    }

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        check(0.0, &[250, 500, 1000, 2000, 2000, 2000]);
        check(0.999_999, &[499, 999, 1999, 3999, 3999]);
        check(0.5, &[375, 750, 1500, 3000, 3000]);
        check(f64::NAN, &[250, 500]);
    }

    #[test]
    fn reset_starts_over_and_huge_counts_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..1000 {
            b.fail(1.0);
        }
        assert_eq!(b.nominal(), Duration::from_secs(60));
        b.reset();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.nominal(), Duration::from_secs(1));
    }
}

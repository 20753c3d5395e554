//! Login throttling: an increasing delay after repeated failures, in memory.
//!
//! Belongs here: the per-key failure state and the delay policy, as a pure data
//! structure; time is passed in. Does not belong here: choosing keys, reading the
//! clock, or answering HTTP (the web layer keeps one [`Throttle`] keyed by
//! account and one keyed by client address, and turns a lock into a response).
//!
//! Policy: [`FREE_FAILURES`] failures cost nothing (typos happen); each further
//! failure locks the key for a delay that starts at [`FIRST_DELAY`] and doubles up
//! to [`MAX_DELAY`]. A failure reported while the key is locked still counts. The
//! count is forgotten once [`WINDOW`] passes without a failure, and at once on
//! success. Memory is bounded: at most `max_keys` keys are tracked; when full,
//! forgotten keys are dropped first and then the one whose last failure is
//! oldest, so a flood of random client addresses cannot exhaust memory. Such a
//! flood can push out older entries, so key the per-account throttle by existing
//! accounts only, never by whatever name was typed.

use std::collections::HashMap;
use std::time::Duration;

use veil_base::{Time90k, TIME_UNITS_PER_SEC};

/// Failures within the window that are not delayed.
pub const FREE_FAILURES: u32 = 3;
/// Delay after the first failure beyond [`FREE_FAILURES`].
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// Longest delay: 15 minutes, reached after 14 failures (1 s doubled ten times
/// is 1024 s).
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten once this long passes without another one. Longer
/// than [`MAX_DELAY`], so a lock always runs out before it is forgotten.
pub const WINDOW: Duration = Duration::from_secs(60 * 60);
/// Keys tracked by [`Throttle::new`]; each costs well under 100 bytes plus its key.
pub const DEFAULT_MAX_KEYS: usize = 10_000;

/// The delay imposed after `failures` failures within the window.
pub fn delay_after(failures: u32) -> Duration {
    let Some(beyond_free) = failures.checked_sub(FREE_FAILURES + 1) else {
        return Duration::ZERO;
    };
    // 2^10 s already exceeds the cap; stop shifting before it overflows.
    let factor = 1u32 << beyond_free.min(16);
    FIRST_DELAY.saturating_mul(factor).min(MAX_DELAY)
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last_failure: Time90k,
}

/// Failure counts per key (an account id or a client address).
#[derive(Debug)]
pub struct Throttle {
    entries: HashMap<String, Entry>,
    max_keys: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

const MICROS_PER_SEC: u128 = 1_000_000;

fn to_ticks(d: Duration) -> i64 {
    let ticks = d.as_micros() * TIME_UNITS_PER_SEC as u128 / MICROS_PER_SEC;
    i64::try_from(ticks).unwrap_or(i64::MAX)
}

fn from_ticks(ticks: i64) -> Duration {
    let ticks = u128::try_from(ticks).unwrap_or(0);
    let micros = ticks * MICROS_PER_SEC / TIME_UNITS_PER_SEC as u128;
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

impl Entry {
    /// Whether the failures still count at `now`.
    fn is_live(&self, now: Time90k) -> bool {
        now.0.saturating_sub(self.last_failure.0) < to_ticks(WINDOW)
    }

    /// How long the key stays locked after `now`, if at all.
    fn remaining_lock(&self, now: Time90k) -> Option<Duration> {
        if !self.is_live(now) {
            return None;
        }
        let until = self
            .last_failure
            .0
            .saturating_add(to_ticks(delay_after(self.failures)));
        (now.0 < until).then(|| from_ticks(until - now.0))
    }
}

impl Throttle {
    /// A throttle tracking at most [`DEFAULT_MAX_KEYS`] keys.
    pub fn new() -> Self {
        Self::with_max_keys(DEFAULT_MAX_KEYS)
    }

    /// A throttle tracking at most `max_keys` keys (at least one).
    pub fn with_max_keys(max_keys: usize) -> Self {
        Throttle {
            entries: HashMap::new(),
            max_keys: max_keys.max(1),
        }
    }

    /// `Ok` if `key` may try now; `Err(remaining)` while it is locked.
    pub fn check(&self, key: &str, now: Time90k) -> Result<(), Duration> {
        match self.entries.get(key).and_then(|e| e.remaining_lock(now)) {
            Some(remaining) => Err(remaining),
            None => Ok(()),
        }
    }

    /// Records a failed attempt by `key` at `now`.
    pub fn failure(&mut self, key: &str, now: Time90k) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.failures = if entry.is_live(now) {
                entry.failures.saturating_add(1)
            } else {
                1
            };
            entry.last_failure = entry.last_failure.max(now);
            return;
        }
        self.make_room(now);
        self.entries.insert(
            key.to_owned(),
            Entry {
                failures: 1,
                last_failure: now,
            },
        );
    }

    /// Checks and counts an attempt by `key` in one step, before its secret is
    /// checked: `Err(remaining)` while locked (nothing counted), otherwise
    /// the attempt counts as a failure until [`Throttle::success`] or
    /// [`Throttle::refund`] says otherwise. Callers hold the throttle's lock
    /// across the call, so concurrent guesses cannot all pass one check
    /// before any of them is counted.
    pub fn attempt(&mut self, key: &str, now: Time90k) -> Result<(), Duration> {
        self.check(key, now)?;
        self.failure(key, now);
        Ok(())
    }

    /// Takes back one attempt counted by [`Throttle::attempt`] that turned
    /// out not to be a failure (a correct password whose login goes on to
    /// its second step, or a success from a shared address).
    pub fn refund(&mut self, key: &str) {
        if let Some(e) = self.entries.get_mut(key) {
            e.failures = e.failures.saturating_sub(1);
            if e.failures == 0 {
                self.entries.remove(key);
            }
        }
    }

    /// Records a successful attempt: `key`'s failures are forgotten.
    pub fn success(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// How many keys are tracked now (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.entries.len()
    }

    /// Frees a slot for a new key: drops forgotten entries, then, if still full,
    /// the entry with the oldest failure. Runs only when full, in linear time.
    fn make_room(&mut self, now: Time90k) {
        if self.entries.len() < self.max_keys {
            return;
        }
        self.entries.retain(|_, e| e.is_live(now));
        while self.entries.len() >= self.max_keys {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => self.entries.remove(&key),
                None => break,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn attempts_are_counted_before_the_check_and_refunded() {
        let mut t = Throttle::new();
        let now = Time90k(1_000 * TIME_UNITS_PER_SEC);
        // Many guesses at the same instant: only the free ones (and the
        // first delayed one's try) pass.
        let passed = (0..50).filter(|_| t.attempt("a", now).is_ok()).count();
        assert_eq!(passed, FREE_FAILURES as usize + 1);
        let mut t = Throttle::new();
        t.attempt("b", now).unwrap();
        t.refund("b");
        assert_eq!(t.tracked_keys(), 0);
        for _ in 0..=FREE_FAILURES {
            t.attempt("b", now).unwrap();
            t.refund("b");
        }
        assert!(t.attempt("b", now).is_ok(), "refunded attempts do not lock");
    }

    fn at(secs: i64) -> Time90k {
        Time90k(secs * TIME_UNITS_PER_SEC)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn delays_grow_from_the_fourth_failure_and_cap_at_fifteen_minutes() {
        let expected = [
            (0, 0),
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 1),
            (5, 2),
            (6, 4),
            (7, 8),
            (13, 512),
            (14, 900),
            (15, 900),
            (100, 900),
            (u32::MAX, 900),
        ];
        for (failures, delay) in expected {
            assert_eq!(delay_after(failures), secs(delay), "{failures} failures");
        }
    }

    #[test]
    fn three_free_failures_then_locked() {
        let mut t = Throttle::new();
        for i in 0..3 {
            assert_eq!(t.check("alice", at(100 + i)), Ok(()));
            t.failure("alice", at(100 + i));
        }
        assert_eq!(t.check("alice", at(102)), Ok(()));
        t.failure("alice", at(103));
        assert_eq!(t.check("alice", at(103)), Err(secs(1)));
        assert_eq!(t.check("alice", at(104)), Ok(()));
        t.failure("alice", at(104));
        assert_eq!(t.check("alice", at(104)), Err(secs(2)));
        assert_eq!(t.check("alice", at(105)), Err(secs(1)));
        assert_eq!(t.check("alice", at(106)), Ok(()));
    }

    #[test]
    fn remaining_time_counts_down_in_sub_second_steps() {
        let mut t = Throttle::new();
        for _ in 0..5 {
            t.failure("k", at(0));
        }
        let half_second = Time90k(TIME_UNITS_PER_SEC / 2);
        assert_eq!(t.check("k", half_second), Err(Duration::from_millis(1500)));
    }

    #[test]
    fn lock_caps_at_fifteen_minutes() {
        let mut t = Throttle::new();
        for _ in 0..50 {
            t.failure("k", at(0));
        }
        assert_eq!(t.check("k", at(0)), Err(MAX_DELAY));
        assert_eq!(t.check("k", at(899)), Err(secs(1)));
        assert_eq!(t.check("k", at(900)), Ok(()));
        // The next failure within the hour locks for the full cap again.
        t.failure("k", at(900));
        assert_eq!(t.check("k", at(900)), Err(MAX_DELAY));
    }

    #[test]
    fn success_forgets_failures() {
        let mut t = Throttle::new();
        for _ in 0..6 {
            t.failure("k", at(0));
        }
        assert!(t.check("k", at(0)).is_err());
        t.success("k");
        assert_eq!(t.check("k", at(0)), Ok(()));
        assert_eq!(t.tracked_keys(), 0);
        for _ in 0..3 {
            t.failure("k", at(1));
        }
        assert_eq!(t.check("k", at(1)), Ok(()), "the free failures are back");
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let mut t = Throttle::new();
        for _ in 0..4 {
            t.failure("k", at(0));
        }
        assert_eq!(t.check("k", at(0)), Err(secs(1)));
        // 59:59 later the count still stands: the fifth failure locks for 2 s.
        t.failure("k", at(3599));
        assert_eq!(t.check("k", at(3599)), Err(secs(2)));
        // An hour after the last failure, the next one is the first again.
        t.failure("k", at(3599 + 3600));
        assert_eq!(t.check("k", at(3599 + 3600)), Ok(()));
        t.failure("k", at(3599 + 3600));
        t.failure("k", at(3599 + 3600));
        assert_eq!(t.check("k", at(3599 + 3600)), Ok(()));
    }

    #[test]
    fn keys_are_independent() {
        let mut t = Throttle::new();
        for _ in 0..5 {
            t.failure("alice", at(0));
        }
        assert!(t.check("alice", at(0)).is_err());
        assert_eq!(t.check("bob", at(0)), Ok(()));
        assert_eq!(t.check("192.0.2.1", at(0)), Ok(()));
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_key_goes_first() {
        let mut t = Throttle::with_max_keys(3);
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            // Eight failures lock for 16 s: all three are locked at 10 s.
            for _ in 0..8 {
                t.failure(key, at(i as i64));
            }
        }
        t.failure("d", at(10));
        assert_eq!(t.tracked_keys(), 3);
        assert_eq!(t.check("a", at(10)), Ok(()), "a, the oldest, was evicted");
        assert!(t.check("b", at(10)).is_err());
        assert!(t.check("c", at(10)).is_err());
        // When full, every forgotten entry is dropped at once before any live one.
        let mut t = Throttle::with_max_keys(3);
        t.failure("stale-1", at(0));
        t.failure("stale-2", at(1));
        t.failure("live", at(5000));
        t.failure("new", at(5000));
        assert_eq!(t.tracked_keys(), 2);
        assert!(t.entries.contains_key("live") && t.entries.contains_key("new"));
    }

    #[test]
    fn a_flood_of_addresses_stays_within_the_cap() {
        let mut t = Throttle::with_max_keys(100);
        for i in 0..10_000 {
            t.failure(&format!("198.51.100.{i}"), at(i));
        }
        assert_eq!(t.tracked_keys(), 100);
        assert_eq!(Throttle::with_max_keys(0).max_keys, 1);
    }

    #[test]
    fn a_clock_going_backwards_does_not_unlock() {
        let mut t = Throttle::new();
        for _ in 0..5 {
            t.failure("k", at(100));
        }
        t.failure("k", at(50));
        assert_eq!(t.check("k", at(100)), Err(secs(4)));
    }

    #[test]
    fn constants_are_consistent() {
        assert!(WINDOW > MAX_DELAY);
        assert_eq!(delay_after(FREE_FAILURES + 1), FIRST_DELAY);
    }

    proptest! {
        #[test]
        fn delay_never_shrinks_and_never_exceeds_the_cap(n in 0u32..200) {
            prop_assert!(delay_after(n) <= delay_after(n + 1));
            prop_assert!(delay_after(n) <= MAX_DELAY);
        }

        #[test]
        fn locked_for_exactly_the_delay(failures in 1u32..40, start in 0i64..1_000_000) {
            let mut t = Throttle::new();
            for _ in 0..failures {
                t.failure("k", at(start));
            }
            let delay = delay_after(failures);
            if delay.is_zero() {
                prop_assert_eq!(t.check("k", at(start)), Ok(()));
            } else {
                prop_assert_eq!(t.check("k", at(start)), Err(delay));
            }
            let after = at(start + delay.as_secs() as i64);
            prop_assert_eq!(t.check("k", after), Ok(()));
        }
    }
}

//! Store-level gates of ingest: rate limit, replay, idempotency. Built on
//! [`KeyValue::increment`] alone (the store has no compare-and-swap, see
//! [`crate::store`]): an increment is atomic and returns the new value, which is enough
//! to elect one winner among concurrent callers and to count.

use chrono::{DateTime, Utc};

use super::config::ChannelConfig;
use super::error::IngestError;
use super::request::VerifiedPush;
use crate::store::KeyValue;

/// The ingest component's gates over its own `ingest` store.
pub struct IngestGate<'a, S: KeyValue> {
    store: &'a S,
    cfg: &'a ChannelConfig,
}

/// The right to process a push, held until [`IngestGate::complete`] or
/// [`IngestGate::abandon`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    done_key: String,
    lease_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Process it, then call [`IngestGate::complete`].
    Proceed(Claim),
    /// Processed before: acknowledge as success without processing.
    AlreadyDone,
}

impl<'a, S: KeyValue> IngestGate<'a, S> {
    pub fn new(store: &'a S, cfg: &'a ChannelConfig) -> Self {
        Self { store, cfg }
    }

    /// Rate limit, then replay, then idempotency, in that order: a flood is refused
    /// before it costs a replay or a claim record.
    pub fn admit(&self, push: &VerifiedPush, now: DateTime<Utc>) -> Result<Admission, IngestError> {
        self.check_rate(now)?;
        self.check_replay(push)?;
        self.claim(&push.dedupe_key, now)
    }

    /// Per-channel rate limit: at most `limit` requests in any `window_seconds`,
    /// approximately, with the sliding-window counter.
    ///
    /// Time is cut into fixed windows of W seconds, one counter per window
    /// (`rl/{channel}/{window index}`). A request increments the current window's
    /// counter (`cur`, its own request included) and reads the previous one (`prev`,
    /// via `increment(.., 0)`), then estimates the requests of the last W seconds as
    /// `prev × (W − elapsed)/W + cur`, i.e. it assumes the previous window's requests
    /// were spread evenly. Admitted iff the estimate ≤ limit. This is the usual
    /// increment-only stand-in for a token bucket of capacity `limit` refilled at
    /// `limit / W` per second: the same sustained rate and burst, with no read-modify-
    /// write of a token count (which would need compare-and-swap). Concurrent
    /// requests each see a distinct `cur`, so they cannot all slip under the limit.
    /// A refused request takes its increment back so that refusals do not consume
    /// capacity, and is told after how many seconds the estimate lets one more in
    /// (no other traffic assumed).
    ///
    /// The previous window is read only when it could matter. A window's counter ends
    /// at the requests it admitted (refusals take theirs back), and none is admitted
    /// past the limit, so `prev ≤ limit`; then `cur × W ≤ limit × elapsed` admits
    /// whatever `prev` is. Below the limit's pace that is nearly every request: one
    /// store call instead of two. (A limit lowered during a window can let the next
    /// window's early requests through on the old limit's count.)
    pub fn check_rate(&self, now: DateTime<Utc>) -> Result<(), IngestError> {
        let w_ms = i128::from(self.cfg.rate_limit.window_seconds.max(1)) * 1000;
        let limit = i128::from(self.cfg.rate_limit.limit);
        let now_ms = i128::from(now.timestamp_millis());
        let index = now_ms.div_euclid(w_ms);
        let elapsed = now_ms - index * w_ms;
        let key = |i: i128| format!("rl/{}/{}", self.cfg.id, i);
        let cur = i128::from(self.store.increment(&key(index), 1)?);
        if cur * w_ms <= limit * elapsed {
            return Ok(());
        }
        let prev = i128::from(self.store.increment(&key(index - 1), 0)?);
        if prev * (w_ms - elapsed) + cur * w_ms <= limit * w_ms {
            return Ok(());
        }
        self.store.increment(&key(index), -1)?;
        let retry_after_seconds = retry_after(prev, cur - 1, elapsed, w_ms, limit);
        Err(IngestError::RateLimited {
            retry_after_seconds,
        })
    }

    /// Refuse a second delivery of the exact same signed request (channels with a
    /// replay window only; the signature covers the timestamp, and freshness refuses
    /// anything older than the window, so the marker need not outlive it).
    pub fn check_replay(&self, push: &VerifiedPush) -> Result<(), IngestError> {
        let (Some(_), Some(sig)) = (self.cfg.replay_window_seconds, &push.replay_key) else {
            return Ok(());
        };
        if self
            .store
            .increment(&format!("replay/{}/{}", self.cfg.id, sig), 1)?
            > 1
        {
            return Err(IngestError::Replayed);
        }
        Ok(())
    }

    /// The idempotency gate for a push's dedupe key. It never loses a push:
    ///
    /// - `idem/{key}/done` is incremented only by [`complete`](Self::complete), after
    ///   the push was fully processed; once set, redeliveries are acknowledged
    ///   without processing.
    /// - Otherwise the caller claims a lease: `idem/{key}/lease/{t / lease}` where the
    ///   key's last part is the current lease period. The first increment (1) wins
    ///   and processes; concurrent duplicates in the same period get
    ///   [`IngestError::InProgress`] (409 with Retry-After, which platforms retry).
    /// - If processing fails (or the process dies), `done` is never written, and the
    ///   next lease period is a fresh key: a redelivery then processes again. A
    ///   failing shell can also [`abandon`](Self::abandon) to let the very next
    ///   redelivery in.
    ///
    /// At a period boundary a duplicate may run alongside the first delivery; the
    /// order book is idempotent, so that costs work, never correctness.
    pub fn claim(&self, dedupe_key: &str, now: DateTime<Utc>) -> Result<Admission, IngestError> {
        let done_key = format!("idem/{dedupe_key}/done");
        if self.store.increment(&done_key, 0)? > 0 {
            return Ok(Admission::AlreadyDone);
        }
        let lease = i64::from(self.cfg.idempotency_lease_seconds.max(1));
        let t = now.timestamp();
        let lease_key = format!("idem/{dedupe_key}/lease/{}", t.div_euclid(lease));
        if self.store.increment(&lease_key, 1)? == 1 {
            return Ok(Admission::Proceed(Claim {
                done_key,
                lease_key,
            }));
        }
        let retry_after_seconds = u64::try_from(lease - t.rem_euclid(lease))
            .unwrap_or(1)
            .max(1);
        Err(IngestError::InProgress {
            retry_after_seconds,
        })
    }

    /// Mark the push processed. Call only after every effect of processing is stored.
    pub fn complete(&self, claim: Claim) -> Result<(), IngestError> {
        self.store.increment(&claim.done_key, 1)?;
        Ok(())
    }

    /// Give the lease back after a failed attempt so a redelivery need not wait for
    /// the next lease period.
    pub fn abandon(&self, claim: Claim) -> Result<(), IngestError> {
        self.store.increment(&claim.lease_key, -1)?;
        Ok(())
    }
}

/// Seconds (≥ 1) until the sliding estimate admits one more request, no other traffic
/// assumed. `cur` excludes the refused request.
fn retry_after(prev: i128, cur: i128, elapsed: i128, w_ms: i128, limit: i128) -> u64 {
    for s in 1..=(2 * w_ms / 1000 + 1) {
        let at = elapsed + s * 1000;
        let admits = if at < w_ms {
            prev * (w_ms - at) + (cur + 1) * w_ms <= limit * w_ms
        } else if at < 2 * w_ms {
            cur * (2 * w_ms - at) + w_ms <= limit * w_ms
        } else {
            limit >= 1
        };
        if admits {
            return u64::try_from(s).unwrap_or(1);
        }
    }
    u64::try_from(2 * w_ms / 1000 + 1).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::config::RateLimit;
    use crate::store::MemoryStore;

    fn cfg(limit: u32, window: u32) -> ChannelConfig {
        let mut c = ChannelConfig::builtin("app").unwrap();
        c.rate_limit = RateLimit {
            limit,
            window_seconds: window,
        };
        c
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn rate_limit_admits_the_limit_then_refuses_with_retry_after() {
        let store = MemoryStore::new();
        let c = cfg(5, 10);
        let gate = IngestGate::new(&store, &c);
        let t0 = 1_000_000_000_000; // window start
        for i in 0..5 {
            assert_eq!(gate.check_rate(at(t0 + i)), Ok(()), "request {i}");
        }
        let Err(IngestError::RateLimited {
            retry_after_seconds,
        }) = gate.check_rate(at(t0 + 5))
        else {
            panic!("sixth request should be limited")
        };
        assert!(
            (1..=20).contains(&retry_after_seconds),
            "{retry_after_seconds}"
        );
        // Refusals do not consume capacity, and after the advised wait one more gets in.
        assert!(gate.check_rate(at(t0 + 6)).is_err());
        assert_eq!(
            gate.check_rate(at(t0
                + 5
                + i64::try_from(retry_after_seconds).unwrap() * 1000)),
            Ok(())
        );
    }

    #[test]
    fn rate_limit_slides_over_the_window_boundary() {
        let store = MemoryStore::new();
        let c = cfg(10, 10);
        let gate = IngestGate::new(&store, &c);
        let t0 = 1_000_000_000_000;
        for i in 0..10 {
            gate.check_rate(at(t0 + 9_000 + i)).unwrap();
        }
        // At the boundary the previous window still weighs in full: nothing fits.
        assert!(gate.check_rate(at(t0 + 10_000)).is_err());
        // Half-way through, half the previous window's weight is gone.
        let admitted = (0..10)
            .filter(|i| gate.check_rate(at(t0 + 15_000 + i)).is_ok())
            .count();
        assert_eq!(admitted, 5);
    }

    /// The sliding-window rule as first written: always read the previous window.
    struct AlwaysReads {
        windows: std::collections::BTreeMap<i64, i64>,
    }

    impl AlwaysReads {
        fn admit(&mut self, now_ms: i64, limit: i64, w_ms: i64) -> bool {
            let index = now_ms.div_euclid(w_ms);
            let elapsed = now_ms - index * w_ms;
            let cur = self.windows.get(&index).copied().unwrap_or(0) + 1;
            let prev = self.windows.get(&(index - 1)).copied().unwrap_or(0);
            let admitted = prev * (w_ms - elapsed) + cur * w_ms <= limit * w_ms;
            if admitted {
                self.windows.insert(index, cur);
            }
            admitted
        }
    }

    proptest::proptest! {
        /// Skipping the previous window's read when it cannot matter changes no
        /// decision, whatever the traffic.
        #[test]
        fn skipping_the_previous_window_changes_no_decision(
            limit in 1u32..40,
            window in 1u32..5,
            gaps in proptest::collection::vec(0i64..400, 1..200),
        ) {
            let store = MemoryStore::new();
            let c = cfg(limit, window);
            let gate = IngestGate::new(&store, &c);
            let mut model = AlwaysReads { windows: Default::default() };
            let mut t = 1_000_000_000_000;
            for gap in gaps {
                t += gap;
                let expected = model.admit(t, i64::from(limit), i64::from(window) * 1000);
                proptest::prop_assert_eq!(gate.check_rate(at(t)).is_ok(), expected, "at {}", t);
            }
        }
    }

    #[test]
    fn below_the_limits_pace_the_previous_window_is_not_read() {
        let store = MemoryStore::new();
        let c = cfg(100, 10);
        let gate = IngestGate::new(&store, &c);
        let t0 = 1_000_000_000_000;
        // 5 requests a second against a limit of 10 a second.
        for i in 0..50 {
            gate.check_rate(at(t0 + 10_000 + 100 + i * 200)).unwrap();
        }
        let previous = format!("rl/{}/{}", c.id, t0 / 10_000);
        assert!(
            !store.exists(&previous).unwrap(),
            "the previous window was read"
        );
    }

    #[test]
    fn idempotency_claims_once_and_recovers_from_a_failed_first_attempt() {
        let store = MemoryStore::new();
        let c = ChannelConfig::builtin("meituan").unwrap();
        let gate = IngestGate::new(&store, &c);
        let t = at(1_000_000_000_000);
        let Admission::Proceed(first) = gate.claim("k", t).unwrap() else {
            panic!()
        };
        assert!(matches!(
            gate.claim("k", t),
            Err(IngestError::InProgress { .. })
        ));
        // The first attempt dies without completing: the next lease period processes again.
        let later = t + chrono::Duration::seconds(i64::from(c.idempotency_lease_seconds));
        let Admission::Proceed(second) = gate.claim("k", later).unwrap() else {
            panic!()
        };
        gate.complete(second).unwrap();
        assert_eq!(gate.claim("k", later), Ok(Admission::AlreadyDone));
        drop(first);
        // Abandon lets the very next redelivery in.
        let Admission::Proceed(c1) = gate.claim("j", t).unwrap() else {
            panic!()
        };
        gate.abandon(c1).unwrap();
        assert!(matches!(gate.claim("j", t), Ok(Admission::Proceed(_))));
    }
}

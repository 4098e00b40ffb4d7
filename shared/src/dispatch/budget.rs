//! How long improvement may run. The core never reads a clock itself: the Spin shell
//! hands it wasi clocks, benchmarks `Instant`, tests a fixed iteration count (which also
//! makes a run reproducible for a given seed).

pub trait Budget {
    /// Asked once per improvement step; `true` stops the search.
    fn exhausted(&mut self) -> bool;
}

/// Stop after a fixed number of improvement steps: deterministic.
#[derive(Debug, Clone, Copy)]
pub struct Iterations {
    left: u64,
}

impl Iterations {
    pub fn new(steps: u64) -> Self {
        Self { left: steps }
    }
}

impl Budget for Iterations {
    fn exhausted(&mut self) -> bool {
        if self.left == 0 {
            return true;
        }
        self.left -= 1;
        false
    }
}

/// Stop when a caller-provided clock passes a deadline.
pub struct Deadline<F: FnMut() -> u64> {
    now_micros: F,
    until_micros: u64,
}

impl<F: FnMut() -> u64> Deadline<F> {
    /// `now_micros` is any monotonic clock in microseconds.
    pub fn after_micros(mut now_micros: F, micros: u64) -> Self {
        let until_micros = now_micros().saturating_add(micros);
        Self {
            now_micros,
            until_micros,
        }
    }

    pub fn after_millis(now_micros: F, millis: u64) -> Self {
        Self::after_micros(now_micros, millis.saturating_mul(1000))
    }
}

impl<F: FnMut() -> u64> Budget for Deadline<F> {
    fn exhausted(&mut self) -> bool {
        (self.now_micros)() >= self.until_micros
    }
}

/// Any budget, counting the steps it allowed: how much search a run did, so runs on
/// different machines (native, wasm) can be compared by work as well as by result.
#[derive(Debug, Clone)]
pub struct Counted<B> {
    inner: B,
    steps: u64,
}

impl<B: Budget> Counted<B> {
    pub fn new(inner: B) -> Self {
        Self { inner, steps: 0 }
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }
}

impl<B: Budget> Budget for Counted<B> {
    fn exhausted(&mut self) -> bool {
        let done = self.inner.exhausted();
        if !done {
            self.steps += 1;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterations_count_down() {
        let mut b = Iterations::new(2);
        assert!(!b.exhausted());
        assert!(!b.exhausted());
        assert!(b.exhausted());
    }

    #[test]
    fn counted_counts_only_allowed_steps() {
        let mut b = Counted::new(Iterations::new(3));
        while !b.exhausted() {}
        assert!(b.exhausted());
        assert_eq!(b.steps(), 3);
    }

    #[test]
    fn deadline_follows_the_given_clock() {
        let mut t = 0u64;
        let mut b = Deadline::after_millis(
            move || {
                t += 600;
                t
            },
            1,
        );
        assert!(!b.exhausted());
        assert!(b.exhausted());
    }
}

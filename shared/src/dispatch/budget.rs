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

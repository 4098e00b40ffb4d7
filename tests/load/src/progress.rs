//! The live view: a progress bar on a terminal, a plain line every few seconds when
//! stderr is a file or a pipe (a CI log should not fill with redraws).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

/// What the view shows.
pub struct Snapshot {
    pub done: u64,
    pub acked: u64,
    pub not_acked: u64,
    pub backlog: u64,
    pub in_flight: u64,
    pub elapsed: Duration,
    /// The app's own backlog (`pipeline backlog N`), or empty when not polled.
    pub pipeline: String,
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:32.cyan/blue}] {pos}/{len} pushes  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            last_line: Instant::now(),
        }
    }

    pub fn update(&mut self, s: &Snapshot) {
        let mut msg = format!(
            "acked {} · not acked {} · backlog {} · in flight {}",
            s.acked, s.not_acked, s.backlog, s.in_flight
        );
        if !s.pipeline.is_empty() {
            msg = format!("{msg} · {}", s.pipeline);
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position(s.done);
                bar.set_message(msg);
            }
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                eprintln!(
                    "[{:>5.1}s] {} done · {msg}",
                    s.elapsed.as_secs_f64(),
                    s.done
                );
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

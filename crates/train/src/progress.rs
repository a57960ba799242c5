//! The progress bar of a training run: steps done, samples per second, the recent loss and
//! the time left. It draws only when standard error is a terminal, so logs stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar over a known number of steps.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    /// Prints nothing at all: the progress of ranks other than 0 of a distributed run, whose
    /// lines rank 0 already prints.
    silent: bool,
}

impl Progress {
    /// A bar for `total` steps with `done` already taken (when resuming); `silent` hides
    /// the bar and its lines.
    pub fn new(total: u64, done: u64, silent: bool) -> Self {
        let target = if std::io::stderr().is_terminal() && !silent {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template = "{bar:30} {pos}/{len} steps  {msg}  ETA {eta}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_position(done);
        bar.reset_eta();
        Self { bar, silent }
    }

    /// Advances one step and shows the throughput and the loss.
    pub fn step(&self, samples_per_s: f64, loss: f32) {
        self.bar.inc(1);
        self.bar
            .set_message(format!("{samples_per_s:.0} samples/s  loss {loss:.4}"));
    }

    /// Prints a line above the bar (or to standard error without one).
    pub fn println(&self, line: &str) {
        if self.silent {
            return;
        }
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

//! Progress on a terminal: one spinner line per component while pulls,
//! creations, boots and health waits run. Never drawn in a pipe, with -q,
//! --json or -v (whose command traces would tear the lines).

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::reconcile;

pub struct Progress {
    multi: Option<MultiProgress>,
}

/// One component's line; finishing it leaves the outcome on screen.
pub struct Line(Option<ProgressBar>);

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress {
            multi: enabled.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    pub fn line(&self, label: &str, message: &str) -> Line {
        let Some(multi) = &self.multi else {
            return Line(None);
        };
        let style = ProgressStyle::with_template("{spinner} {prefix:<24} {msg} {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = multi.add(ProgressBar::new_spinner().with_style(style));
        bar.set_prefix(label.to_string());
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Line(Some(bar))
    }
}

impl Line {
    pub fn finish(&self, outcome: &str) {
        if let Some(bar) = &self.0 {
            let style = ProgressStyle::with_template("  {prefix:<24} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.finish_with_message(format!("{} {outcome}", bar.message()));
        }
    }
}

impl reconcile::Step for Line {
    fn finish(&self, outcome: &str) {
        Line::finish(self, outcome);
    }
}

impl reconcile::Progress for Progress {
    fn step(&self, label: &str, message: &str) -> Box<dyn reconcile::Step + '_> {
        Box::new(self.line(label, message))
    }
}

//! What `apply` shows while actions run. On a terminal (stderr): a line
//! per action in flight naming it, with its elapsed time ("define domain
//! web-1… [12s elapsed]", as terraform's "Still creating…"), above a
//! counter of finished actions; each finished action leaves one line.
//! Without a terminal: one line when an action starts and one when it
//! ends, on stdout, so logs read in order. With `--output json`: nothing.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::apply::{Outcome, Status};
use crate::plan::{kind_noun, Action};

/// The apply's progress display; `start` and `done` are called from the
/// apply's worker threads.
pub enum Progress {
    Terminal {
        multi: MultiProgress,
        total: ProgressBar,
        running: Mutex<HashMap<String, ProgressBar>>,
    },
    Lines,
    Silent,
}

/// How an action is named while it runs: operation, kind, name.
fn in_flight(a: &Action) -> String {
    format!("{} {} {}", a.operation.as_str(), kind_noun(a.kind), a.name)
}

/// One line per finished action.
pub fn outcome_line(a: &Action, o: &Outcome) -> String {
    match &o.status {
        Status::Done => format!("  done     {} ({} ms)", a.id, o.millis),
        Status::Failed { error } => format!("  FAILED   {}: {error}", a.id),
        Status::Skipped { because } => format!("  skipped  {} (depends on {because})", a.id),
    }
}

/// One line on stdout. A reader gone (`apply | head`) must not panic a
/// worker thread mid-apply (as `println!` would): the apply goes on, and
/// its summary's write ends the command quietly.
fn line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

impl Progress {
    /// The display for `actions` actions: a terminal one when stderr is a
    /// terminal, lines otherwise, nothing with `json`.
    pub fn new(actions: usize, json: bool) -> Progress {
        if json {
            return Progress::Silent;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Lines;
        }
        let multi = MultiProgress::new();
        let total = multi.add(ProgressBar::new(actions as u64));
        total.set_style(
            ProgressStyle::with_template(
                "[{pos}/{len}] actions finished, {elapsed} elapsed {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        total.enable_steady_tick(Duration::from_millis(500));
        Progress::Terminal {
            multi,
            total,
            running: Mutex::new(HashMap::new()),
        }
    }

    pub fn start(&self, a: &Action) {
        match self {
            Progress::Terminal { multi, running, .. } => {
                // Above the counter: the counter stays the last line.
                let bar = multi.insert_from_back(1, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}… [{elapsed} elapsed]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(in_flight(a));
                bar.enable_steady_tick(Duration::from_millis(120));
                running.lock().expect("progress").insert(a.id.clone(), bar);
            }
            Progress::Lines => line(&format!("  started  {}", a.id)),
            Progress::Silent => {}
        }
    }

    pub fn done(&self, a: &Action, o: &Outcome) {
        let line = outcome_line(a, o);
        match self {
            Progress::Terminal {
                multi,
                total,
                running,
            } => {
                if let Some(bar) = running.lock().expect("progress").remove(&a.id) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                total.inc(1);
                let _ = multi.println(line);
            }
            Progress::Lines => self::line(&line),
            Progress::Silent => {}
        }
    }

    /// The bottom line of a terminal display, for what is not an action
    /// (an image's upload rate, the wait for a guest's address).
    pub fn bar(&self) -> Option<&ProgressBar> {
        match self {
            Progress::Terminal { total, .. } => Some(total),
            _ => None,
        }
    }

    /// Clear the display (the summary follows).
    pub fn finish(self) {
        if let Progress::Terminal { multi, total, .. } = self {
            total.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

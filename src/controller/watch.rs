//! Manifest file changes, as triggers. notify-debouncer-full turns an
//! editor's save (write a temporary file, rename it over the old one) or a
//! `git pull` touching many files into one batch; any batch touching a
//! file that is not an editor's or VCS's (swap, backup, hidden) asks for a
//! reload. A watcher error or overflow asks for one too: the reload reads
//! the whole directory anyway.

use std::path::Path;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};
use tokio::sync::mpsc::UnboundedSender;

use super::queue::Trigger;
use crate::manifest::scan::is_ignored_name;

/// The watcher; dropping it stops watching.
pub type Watcher = Debouncer<RecommendedWatcher, RecommendedCache>;

pub fn watch(
    dir: &Path,
    debounce: Duration,
    tx: UnboundedSender<Trigger>,
) -> notify::Result<Watcher> {
    // Only the part below the watched directory counts: the directory
    // itself may well live under a hidden one.
    let root = dir.to_path_buf();
    let mut d = new_debouncer(debounce, None, move |res: DebounceEventResult| {
        let reload = match res {
            Ok(events) => events.iter().any(|e| {
                e.event.need_rescan()
                    || (!matches!(e.event.kind, EventKind::Access(_))
                        && e.event.paths.iter().any(|p| {
                            !p.strip_prefix(&root)
                                .unwrap_or(p)
                                .components()
                                .any(|c| is_ignored_name(&c.as_os_str().to_string_lossy()))
                        }))
            }),
            Err(_) => true,
        };
        if reload {
            let _ = tx.send(Trigger::Manifests);
        }
    })?;
    d.watch(dir, RecursiveMode::Recursive)?;
    Ok(d)
}

//! A volume from an image, as one apply step: open the image, create the
//! volume in the image's format and size, stream the bytes through
//! libvirt, grow it to the manifest's capacity. The volume exists only
//! complete: every failure after the create deletes it again, and the
//! error names the image and what was wrong.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::backend::{Backend, BackendError, Created, Result};
use crate::model::ImageSource;

/// Told how an upload goes: the image, bytes so far, the total when
/// known, and when the upload started (for a rate).
pub type ProgressHook = Arc<dyn Fn(&str, u64, Option<u64>, Instant) + Send + Sync>;

/// The terminal's progress display, when a command has one. A process-wide
/// hook rather than a parameter: uploads run deep inside apply's workers,
/// and only the command layer knows whether a terminal is watching.
static PROGRESS: RwLock<Option<ProgressHook>> = RwLock::new(None);

/// Show upload progress through `hook` (or stop, with `None`).
pub fn set_progress(hook: Option<ProgressHook>) {
    *PROGRESS.write().expect("progress hook") = hook;
}

/// Create volume `name` in `pool` from `source`, at least `capacity`
/// bytes large when given.
pub fn create_from_image(
    b: &dyn Backend,
    pool: &str,
    name: &str,
    source: &ImageSource,
    capacity: Option<u64>,
) -> Result<Created> {
    let loc = source.location.clone();
    let fail = |message: String| BackendError::Call {
        call: "create volume from image",
        object: loc.clone(),
        message,
        code: 0,
    };
    let hook = PROGRESS.read().expect("progress hook").clone();
    let started = Instant::now();
    let progress: Box<dyn FnMut(u64, Option<u64>) + Send> = match hook {
        Some(h) => {
            let loc = loc.clone();
            Box::new(move |n, total| h(&loc, n, total, started))
        }
        None => Box::new(|_, _| {}),
    };
    let mut image = super::open(source, progress).map_err(|e| fail(e.to_string()))?;
    if let (Some(want), Some(size)) = (capacity, image.virtual_size) {
        if want < size {
            return Err(fail(format!(
                "the manifest's capacity {} is less than the image's size {}: raise it, or leave it out to take the image's",
                crate::units::format_size(want),
                crate::units::format_size(size)
            )));
        }
    }
    let xml = crate::render::storage::render_image_volume(name, image.format, image.virtual_size)
        .to_xml();
    let created = b.create_volume(pool, &xml, None)?;
    let filled = b
        .upload_volume(pool, name, &mut image.reader)
        .map_err(|e| match e {
            // The image's own failure (checksum, cut connection) is the
            // message; libvirt's is kept whole.
            BackendError::Call {
                message, code: 0, ..
            } => message,
            other => other.to_string(),
        })
        .and_then(|_| match (capacity, image.virtual_size) {
            (Some(want), Some(size)) if want > size => b
                .resize_volume(pool, name, want)
                .map_err(|e| format!("growing it to the manifest's capacity: {e}")),
            _ => Ok(()),
        });
    if let Err(message) = filled {
        let cleanup = match b.delete_volume(pool, name) {
            Ok(()) => format!("the unfinished volume {pool}/{name} was deleted"),
            Err(e) => format!(
                "deleting the unfinished volume {pool}/{name} failed too ({e}): delete it by hand (virsh vol-delete)"
            ),
        };
        return Err(fail(format!("{message}; {cleanup}")));
    }
    Ok(created)
}

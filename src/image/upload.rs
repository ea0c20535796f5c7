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
    fill_or_delete(b, pool, name, || {
        b.upload_volume(pool, name, &mut image.reader)
            .map_err(upload_message)?;
        match (capacity, image.virtual_size) {
            (Some(want), Some(size)) if want > size => b
                .resize_volume(pool, name, want)
                .map_err(|e| format!("growing it to the manifest's capacity: {e}")),
            _ => Ok(()),
        }
    })
    .map_err(fail)?;
    Ok(created)
}

/// Create the raw seed volume `name` in `pool` holding the NoCloud ISO of
/// `files`.
pub fn create_seed(
    b: &dyn Backend,
    pool: &str,
    name: &str,
    files: &crate::model::SeedFiles,
) -> Result<Created> {
    let fail = |message: String| BackendError::Call {
        call: "create cloud-init seed",
        object: format!("{pool}/{name}"),
        message,
        code: 0,
    };
    let iso = super::seed::build_iso(files).map_err(|e| fail(e.to_string()))?;
    let xml = crate::render::storage::render_image_volume(
        name,
        crate::model::VolumeFormat::Raw,
        Some(iso.len() as u64),
    )
    .to_xml();
    let created = b.create_volume(pool, &xml, None)?;
    fill_or_delete(b, pool, name, || {
        b.upload_volume(pool, name, &mut std::io::Cursor::new(&iso))
            .map(|_| ())
            .map_err(upload_message)
    })
    .map_err(fail)?;
    Ok(created)
}

/// An upload's failure as a message: the data's own (checksum, a cut
/// connection: no libvirt code) alone, libvirt's whole.
fn upload_message(e: BackendError) -> String {
    match e {
        BackendError::Call {
            message, code: 0, ..
        } => message,
        other => other.to_string(),
    }
}

/// Run `fill` on the just created volume; when it fails, delete the
/// volume again and say so (or say how to, when that fails too).
fn fill_or_delete(
    b: &dyn Backend,
    pool: &str,
    name: &str,
    fill: impl FnOnce() -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let Err(message) = fill() else {
        return Ok(());
    };
    let cleanup = match b.delete_volume(pool, name) {
        Ok(()) => format!("the unfinished volume {pool}/{name} was deleted"),
        Err(e) => format!(
            "deleting the unfinished volume {pool}/{name} failed too ({e}): delete it by hand (virsh vol-delete)"
        ),
    };
    Err(format!("{message}; {cleanup}"))
}

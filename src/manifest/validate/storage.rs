//! Checks of StoragePool and Volume specs, and their conversion to the model.
//!
//! A pool's type decides which `source` fields it needs and which it
//! refuses; its paths are absolute. A volume needs a capacity unless it is
//! external (an existing golden image, which takes only `spec.pool`), is
//! either an overlay (`backingStore`) or a copy (`cloneFrom`), and a raw
//! volume has no backing store. Which pool a volume is in, and whether the
//! volumes it refers to exist, are checked once the whole directory is
//! known, in [`super::unique`] and [`super::refs`]. A volume with a
//! `source` image takes its format and (unless set) its size from the
//! image, which only apply reads.

use super::super::types;
use super::fields::Ctx;
use crate::model::*;

/// A managed pool: an absolute target path and the source fields its type
/// needs, and no others.
pub(super) fn pool(cx: &mut Ctx, meta: Meta, s: &types::StoragePoolSpec) -> Pool {
    cx.abs_path("spec.path", &s.path);
    let src = s.source.clone().unwrap_or(types::PoolSourceSpec {
        host: None,
        dir: None,
        device: None,
        name: None,
        format: None,
    });
    // Which source fields each pool type uses; required ones first.
    let (required, optional): (&[&str], &[&str]) = match s.pool_type {
        PoolType::Dir => (&[], &[]),
        PoolType::Fs => (&["device"], &["format"]),
        PoolType::Netfs => (&["host", "dir"], &["format"]),
        PoolType::Logical => (&["name"], &["device"]),
    };
    let fields = [
        ("host", &src.host),
        ("dir", &src.dir),
        ("device", &src.device),
        ("name", &src.name),
        ("format", &src.format),
    ];
    let t = s.pool_type.as_str();
    for (f, v) in fields {
        let path = format!("spec.source.{f}");
        match (v.is_some(), required.contains(&f), optional.contains(&f)) {
            (false, true, _) => cx.err(&path, format!("a {t} pool needs `source.{f}`")),
            (true, false, false) => cx.err(&path, format!("a {t} pool does not use `source.{f}`")),
            _ => {}
        }
    }
    for (f, v) in [("dir", &src.dir), ("device", &src.device)] {
        if let Some(p) = v {
            cx.abs_path(&format!("spec.source.{f}"), p);
        }
    }
    Pool {
        meta,
        external: false,
        pool_type: Some(s.pool_type),
        path: Some(s.path.clone()),
        source: s.source.as_ref().map(|_| PoolSource {
            host: src.host.clone(),
            dir: src.dir.clone(),
            device: src.device.clone(),
            name: src.name.clone(),
            format: src.format.clone(),
        }),
        autostart: s.autostart,
        active: s.active.unwrap_or(true),
    }
}

/// A volume: a capacity unless external (then nothing but `spec.pool`),
/// an overlay or a copy but not both, never of itself.
pub(super) fn volume(cx: &mut Ctx, meta: Meta, s: &types::VolumeSpec, external: bool) -> Volume {
    cx.name_ref("spec.pool", &s.pool);
    if external {
        for (f, set) in [
            ("capacity", s.capacity.is_some()),
            ("format", s.format.is_some()),
            ("backingStore", s.backing_store.is_some()),
            ("cloneFrom", s.clone_from.is_some()),
            ("reclaimPolicy", s.reclaim_policy.is_some()),
            ("source", s.source.is_some()),
        ] {
            if set {
                cx.err(
                    &format!("spec.{f}"),
                    "an external volume takes only `spec.pool`: virtsync never changes it",
                );
            }
        }
    } else if s.capacity.is_none() && s.source.is_none() {
        cx.err(
            "spec",
            "a volume needs `capacity`, e.g. 20GiB (or a `source` image, whose size it then takes)",
        );
    }
    let capacity = s
        .capacity
        .as_ref()
        .and_then(|c| cx.size("spec.capacity", c));
    if s.backing_store.is_some() && s.clone_from.is_some() {
        cx.err(
            "spec.cloneFrom",
            "a volume is either an overlay (`backingStore`) or a copy (`cloneFrom`), not both",
        );
    }
    if s.backing_store.is_some() && s.format == Some(VolumeFormat::Raw) {
        cx.err(
            "spec.backingStore",
            "a raw volume cannot have a backing store; use format qcow2",
        );
    }
    let source_ref = |cx: &mut Ctx, f: &str, r: &Option<types::VolumeSourceRef>| {
        r.as_ref().map(|r| {
            let pool = r.pool.clone().unwrap_or_else(|| s.pool.clone());
            cx.name_ref(&format!("spec.{f}.pool"), &pool);
            cx.name_ref(&format!("spec.{f}.name"), &r.name);
            (pool, r.name.clone())
        })
    };
    let backing_store = source_ref(cx, "backingStore", &s.backing_store);
    let clone_from = source_ref(cx, "cloneFrom", &s.clone_from);
    if backing_store.as_ref().or(clone_from.as_ref()) == Some(&(s.pool.clone(), meta.name.clone()))
    {
        cx.err(
            "spec",
            "a volume cannot be its own backing store or clone source",
        );
    }
    let source = s.source.as_ref().and_then(|src| {
        for (f, set) in [
            ("backingStore", s.backing_store.is_some()),
            ("cloneFrom", s.clone_from.is_some()),
            ("format", s.format.is_some()),
        ] {
            if set {
                cx.err(
                    &format!("spec.{f}"),
                    "a volume with a `source` image takes its content and format from the image: not with `backingStore`, `cloneFrom` or `format`",
                );
            }
        }
        image_source(cx, src)
    });
    Volume {
        meta,
        external,
        pool: s.pool.clone(),
        capacity,
        format: s.format,
        backing_store,
        clone_from,
        source,
        seed: None,
        reclaim_policy: s.reclaim_policy.unwrap_or(ReclaimPolicy::Retain),
    }
}

/// An image source: a URL of a scheme virtsync fetches (`http`, `https`,
/// `file`) or an absolute path, and a well-formed checksum, required over
/// http(s): what comes over the network is verified, a local file is the
/// operator's own.
fn image_source(cx: &mut Ctx, s: &types::ImageSourceSpec) -> Option<ImageSource> {
    let location = match (&s.url, &s.path) {
        (Some(_), Some(_)) | (None, None) => {
            cx.err(
                "spec.source",
                "an image source takes exactly one of `url` and `path`",
            );
            return None;
        }
        (Some(url), None) => {
            let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            match scheme.as_deref() {
                Some("http" | "https") if s.sha256.is_none() => cx.err(
                    "spec.source",
                    "an image fetched over http(s) needs its `sha256` (the image's SHA-256, as the distribution publishes it)",
                ),
                Some("http" | "https") => {}
                Some("file") => {
                    cx.abs_path("spec.source.url", &url["file://".len()..])?;
                }
                Some(other) => {
                    cx.err(
                        "spec.source.url",
                        format!("unknown URL scheme `{other}`: virtsync fetches images over http, https and file"),
                    );
                    return None;
                }
                None => {
                    cx.err(
                        "spec.source.url",
                        "not a URL: expected http://, https:// or file://; use `path` for a local file",
                    );
                    return None;
                }
            }
            url.clone()
        }
        (None, Some(path)) => {
            cx.abs_path("spec.source.path", path)?;
            path.clone()
        }
    };
    let sha256 = match &s.sha256 {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(h.to_ascii_lowercase())
        }
        Some(_) => {
            cx.err("spec.source.sha256", "a SHA-256 checksum is 64 hex digits");
            return None;
        }
        None => None,
    };
    Some(ImageSource { location, sha256 })
}

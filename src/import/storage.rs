//! StoragePool and Volume manifests from existing pools and volumes: a
//! pool's type, target path, source, autostart and active state; a
//! volume's capacity and format. A pool of a type virtsync does not model
//! is declared external (used as it is, never changed).

use super::parse_word;
use crate::manifest::types::*;
use crate::render::storage::{read_pool, read_volume};
use crate::units::format_size;
use crate::xml::Element;

/// A pool read for a manifest: its spec, or why it can only be external.
#[derive(Debug, Clone)]
pub struct ImportedPool {
    pub name: String,
    pub spec: Result<StoragePoolSpec, String>,
}

pub fn pool_spec(root: &Element, active: bool, autostart: bool) -> ImportedPool {
    let f = read_pool(root);
    let name = root.child("name").map(|n| n.text()).unwrap_or_default();
    let spec = match parse_word::<PoolType>(&f.pool_type) {
        None => Err(format!("pool type `{}` is not modelled", f.pool_type)),
        Some(_) if !f.path.starts_with('/') => {
            Err(format!("target path `{}` is not absolute", f.path))
        }
        Some(pool_type) => {
            // Only the source fields the type uses (validation refuses others).
            let s = |v: &Option<String>, used: bool| v.clone().filter(|_| used);
            let (host, dir, device, vg) = match pool_type {
                PoolType::Dir => (false, false, false, false),
                PoolType::Fs => (false, false, true, false),
                PoolType::Netfs => (true, true, false, false),
                PoolType::Logical => (false, false, true, true),
            };
            let source = PoolSourceSpec {
                host: s(&f.source_host, host),
                dir: s(&f.source_dir, dir),
                device: s(&f.source_device, device),
                name: s(&f.source_name, vg),
                format: s(
                    &f.source_format,
                    pool_type != PoolType::Dir && pool_type != PoolType::Logical,
                ),
            };
            let empty = source
                == PoolSourceSpec {
                    host: None,
                    dir: None,
                    device: None,
                    name: None,
                    format: None,
                };
            Ok(StoragePoolSpec {
                pool_type,
                path: f.path.clone(),
                source: (!empty).then_some(source),
                autostart: Some(autostart),
                active: (!active).then_some(false),
            })
        }
    };
    ImportedPool { name, spec }
}

/// A volume of `pool` as a manifest writes it, or why it cannot be.
pub fn volume_spec(pool: &str, root: &Element) -> Result<VolumeSpec, String> {
    if root.attr("type") == Some("dir") {
        return Err("a directory, not an image".into());
    }
    let f = read_volume(root);
    if f.capacity == 0 {
        return Err("its capacity is 0".into());
    }
    Ok(VolumeSpec {
        pool: pool.to_string(),
        capacity: Some(SizeText(format_size(f.capacity))),
        // Another format (iso, vmdk, ...) is left unset: never compared.
        format: f.format.as_deref().and_then(parse_word),
        backing_store: None,
        clone_from: None,
        reclaim_policy: None,
        source: None,
    })
}

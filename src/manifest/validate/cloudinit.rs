//! A Domain's `cloudInit`, checked and turned into its NoCloud seed: the
//! final `user-data` (keys merged), `meta-data` (instance-id and
//! local-hostname filled in) and `network-config`, the seed volume's name
//! (the domain's, and a hash of the files: changed data is a new volume),
//! and the read-only CD-ROM that attaches it, appended to the domain's
//! disks. The seed volume itself joins the desired state in
//! [`super::unique`]. Reading `userDataFile` is the one file read here:
//! the loader reads manifests anyway, and the planner stays file-free.

use sha2::{Digest, Sha256};

use super::super::types;
use super::fields::Ctx;
use crate::model::*;

/// The seed of a domain named `name` with `machine` and `disks` (the CD-ROM
/// is appended to them); `None` after reporting what is wrong.
pub(super) fn seed(
    cx: &mut Ctx,
    name: &str,
    s: &types::CloudInitSpec,
    machine: Option<&str>,
    disks: &mut Option<Vec<Disk>>,
) -> Option<SeedRef> {
    let user_data = user_data(cx, s)?;
    let keys = s.ssh_authorized_keys.clone().unwrap_or_default();
    for (i, k) in keys.iter().enumerate() {
        if let Err(why) = check_key(k) {
            cx.err(&format!("spec.cloudInit.sshAuthorizedKeys[{i}]"), why);
        }
    }
    let user_data = if keys.is_empty() {
        user_data
    } else if user_data.starts_with("#!") {
        cx.err(
            "spec.cloudInit.sshAuthorizedKeys",
            "keys are merged into `#cloud-config` user-data; a script (#!) installs its own",
        );
        return None;
    } else {
        merge_keys(&user_data, &keys)
    };
    let network_config = s.network_config.as_ref().map(yaml);
    let meta = s.meta_data.clone().unwrap_or_default();
    // The instance-id follows the content: a change makes cloud-init run
    // again on the next boot.
    let mut h = Sha256::new();
    for part in [
        user_data.as_str(),
        network_config.as_deref().unwrap_or(""),
        &yaml(&meta),
        name,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let hash: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut meta = meta;
    meta.entry("instance-id")
        .or_insert_with(|| format!("iid-{name}-{hash}").into());
    meta.entry("local-hostname")
        .or_insert_with(|| name.to_string().into());
    let files = SeedFiles {
        user_data,
        meta_data: yaml(&meta),
        network_config,
    };
    let pool = s.pool.clone().or_else(|| {
        disks.iter().flatten().find_map(|d| match &d.source {
            DiskSource::Volume { pool, .. } => Some(pool.clone()),
            _ => None,
        })
    });
    let Some(pool) = pool else {
        cx.err(
            "spec.cloudInit",
            "the seed volume needs a pool: set `cloudInit.pool` (the domain has no volume disk to take it from)",
        );
        return None;
    };
    let Some(list) = disks.as_mut() else {
        cx.err(
            "spec.cloudInit",
            "cloudInit attaches a CD-ROM, which needs the domain's `disks` list (an omitted list is unmanaged)",
        );
        return None;
    };
    let volume = format!("{name}-cidata-{}.iso", &hash[..12]);
    // q35 has no IDE controller; the other x86 machines' CD-ROMs are IDE.
    let bus = if machine.is_some_and(|m| m.contains("q35")) {
        DiskBus::Sata
    } else {
        DiskBus::Ide
    };
    list.push(Disk {
        source: DiskSource::Volume {
            pool: pool.clone(),
            name: volume.clone(),
        },
        device: DiskDevice::Cdrom,
        bus: Some(bus),
        target: None,
        readonly: Some(true),
    });
    Some(SeedRef {
        pool,
        volume,
        files,
    })
}

/// The user-data, inline or from its file, checked: `#cloud-config` YAML
/// that parses, or a `#!` script.
fn user_data(cx: &mut Ctx, s: &types::CloudInitSpec) -> Option<String> {
    let (field, text) = match (&s.user_data, &s.user_data_file) {
        (Some(t), None) => ("spec.cloudInit.userData", t.clone()),
        (None, Some(f)) => {
            let base = cx
                .doc
                .file
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default();
            let path = base.join(f);
            match std::fs::read_to_string(&path) {
                Ok(t) => ("spec.cloudInit.userDataFile", t),
                Err(e) => {
                    cx.err(
                        "spec.cloudInit.userDataFile",
                        format!("cannot read {}: {e}", path.display()),
                    );
                    return None;
                }
            }
        }
        _ => {
            cx.err(
                "spec.cloudInit",
                "cloudInit takes exactly one of `userData` and `userDataFile`",
            );
            return None;
        }
    };
    if text.starts_with("#!") {
        return Some(text);
    }
    if !text.starts_with("#cloud-config") {
        cx.err(
            field,
            "user-data must start with `#cloud-config` (YAML) or `#!` (a script), on its first line",
        );
        return None;
    }
    match serde_yaml::from_str::<serde_yaml::Value>(&text) {
        Ok(serde_yaml::Value::Mapping(_) | serde_yaml::Value::Null) => Some(text),
        Ok(_) => {
            cx.err(field, "#cloud-config user-data must be a YAML mapping");
            None
        }
        Err(e) => {
            cx.err(
                field,
                format!("#cloud-config user-data is not valid YAML: {e}"),
            );
            None
        }
    }
}

/// `#cloud-config` user-data with `keys` appended to its
/// `ssh_authorized_keys` (re-written as YAML: a merge cannot keep the
/// original text).
fn merge_keys(user_data: &str, keys: &[String]) -> String {
    let mut v: serde_yaml::Mapping = serde_yaml::from_str(user_data).unwrap_or_default();
    let entry = v
        .entry("ssh_authorized_keys".into())
        .or_insert_with(|| serde_yaml::Value::Sequence(vec![]));
    if let serde_yaml::Value::Sequence(list) = entry {
        list.extend(keys.iter().map(|k| serde_yaml::Value::String(k.clone())));
    }
    format!(
        "#cloud-config\n{}",
        serde_yaml::to_string(&v).unwrap_or_default()
    )
}

fn yaml(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_yaml::to_string(map).unwrap_or_default()
}

/// One authorized_keys line: optional options, a key type, the key's
/// base64, an optional comment.
fn check_key(line: &str) -> Result<(), String> {
    const TYPES: &[&str] = &[
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    if line.contains(['\n', '\r']) {
        return Err("an authorized_keys entry is one line".into());
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(i) = words.iter().position(|w| TYPES.contains(w)) else {
        return Err(format!(
            "not an authorized_keys line: no key type ({}) found",
            TYPES[..3].join(", ")
        ));
    };
    let b64 = words.get(i + 1).copied().unwrap_or("");
    let ok = b64.len() >= 16
        && b64.starts_with("AAAA")
        && b64
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if !ok {
        return Err(format!(
            "the {} key's base64 after the type is missing or malformed",
            words[i]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_authorized_keys_lines() {
        assert!(check_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop").is_ok());
        assert!(check_key("from=\"10.0.0.1\" ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB x").is_ok());
        assert!(check_key("ssh-ed25519 not-base64!").is_err());
        assert!(check_key("hello world").is_err());
    }

    #[test]
    fn keys_are_appended_to_the_cloud_config() {
        let out = merge_keys(
            "#cloud-config\nssh_authorized_keys: [a]\nusers: [{name: ops}]\n",
            &["b".into()],
        );
        assert!(out.starts_with("#cloud-config\n"), "{out}");
        let v: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(v["ssh_authorized_keys"][1], "b");
        assert_eq!(v["users"][0]["name"], "ops");
    }
}

//! The NoCloud seed ISO: an ISO 9660 image with Joliet and Rock Ridge
//! names (cloud-init reads `user-data`, lower case with a dash, which
//! plain ISO 9660 cannot spell), volume label `cidata`, built in memory —
//! a few KiB, no tool run.

use std::io::Cursor;
use std::sync::Arc;

use hadris_iso::joliet::JolietLevel;
use hadris_iso::read::PathSeparator;
use hadris_iso::write::options::{CreationFeatures, IsoFormatOptions};
use hadris_iso::write::{File as IsoFile, InputFiles, IsoImageWriter};

use super::ImageError;
use crate::model::SeedFiles;

/// The label cloud-init's NoCloud data source looks for.
pub const LABEL: &str = "cidata";

/// The ISO of `files`: `user-data`, `meta-data` and, when given,
/// `network-config` in its root.
pub fn build_iso(files: &SeedFiles) -> Result<Vec<u8>, ImageError> {
    let mut entries = vec![
        ("user-data", files.user_data.as_bytes()),
        ("meta-data", files.meta_data.as_bytes()),
    ];
    if let Some(n) = &files.network_config {
        entries.push(("network-config", n.as_bytes()));
    }
    let input = InputFiles {
        path_separator: PathSeparator::ForwardSlash,
        files: entries
            .into_iter()
            .map(|(name, contents)| IsoFile::File {
                name: Arc::new(name.to_string()),
                contents: contents.to_vec(),
            })
            .collect(),
    };
    let mut features = CreationFeatures::extensions();
    features.joliet = Some(JolietLevel::Level3);
    let options = IsoFormatOptions {
        volume_name: LABEL.to_string(),
        system_id: None,
        volume_set_id: None,
        publisher_id: None,
        preparer_id: None,
        application_id: Some("virtsync".into()),
        sector_size: 2048,
        path_separator: PathSeparator::ForwardSlash,
        features,
        // Keep the label lower case, as cloud-init and genisoimage write it.
        strict_charset: false,
    };
    let mut out = Cursor::new(Vec::new());
    IsoImageWriter::create(&mut out, input, options)
        .map_err(|e| ImageError::Format(format!("building the seed ISO failed: {e:?}")))?;
    Ok(out.into_inner())
}

/// What a guest reads from a seed ISO: its volume label and its root's
/// files by their Rock Ridge names, for tests and for checking a seed
/// volume by hand.
pub fn read_iso(
    bytes: &[u8],
) -> Result<(String, std::collections::BTreeMap<String, Vec<u8>>), ImageError> {
    let bad = |what: String| ImageError::Format(format!("not a readable seed ISO: {what}"));
    // The primary volume descriptor is sector 16; its label at byte 40.
    let label = bytes
        .get(16 * 2048 + 40..16 * 2048 + 72)
        .map(|b| String::from_utf8_lossy(b).trim_end().to_string())
        .ok_or_else(|| bad("too short".into()))?;
    let image =
        hadris_iso::read::IsoImage::open(Cursor::new(bytes)).map_err(|e| bad(format!("{e:?}")))?;
    let root = image.root_dir();
    let mut files = std::collections::BTreeMap::new();
    for entry in root.iter(&image).entries() {
        let entry = entry.map_err(|e| bad(format!("{e:?}")))?;
        if !entry.is_file() {
            continue;
        }
        let start = entry.header().extent.read() as usize * 2048;
        let len = entry.header().data_len.read() as usize;
        let data = bytes
            .get(start..start + len)
            .ok_or_else(|| bad("a file beyond the image's end".into()))?;
        files.insert(entry.display_name().into_owned(), data.to_vec());
    }
    Ok((label, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_has_the_cidata_label_and_lower_case_file_names() {
        let files = SeedFiles {
            user_data: "#cloud-config\nusers: [{name: ops}]\n".into(),
            meta_data: "instance-id: iid-1\nlocal-hostname: vm\n".into(),
            network_config: Some("version: 2\n".into()),
        };
        let iso = build_iso(&files).unwrap();
        let (label, got) = read_iso(&iso).unwrap();
        assert_eq!(label, "cidata");
        let names: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(names, ["meta-data", "network-config", "user-data"]);
        assert_eq!(got["user-data"], files.user_data.as_bytes());
        assert_eq!(got["meta-data"], files.meta_data.as_bytes());
    }
}

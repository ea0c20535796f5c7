//! Images that fill new volumes: fetched from `http(s)://`, `file://` or a
//! local path, checked against their SHA-256 while they stream, and
//! recognised by their first bytes (qcow2 or raw).
//!
//! This is apply's side of a volume's `source`: the planner reads no file
//! and no network, so the image's format and size are learnt here, where
//! its bytes are, and [`upload`] turns them into a create, an upload
//! through libvirt and a resize, deleting the half volume on any failure.

mod format;
pub mod seed;
pub mod upload;

use std::io::Read;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::model::{ImageSource, VolumeFormat};

pub use format::{detect, Detected};

/// Fetching or reading an image failed; the message names what was wrong,
/// the caller names the image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Fetch(String),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Format(String),
}

/// An image opened for streaming: its format and sizes, known from its
/// first bytes (and the server's or file's length), and the bytes
/// themselves, whose checksum is verified when they end.
pub struct Image {
    pub format: VolumeFormat,
    /// What the guest sees: a qcow2's virtual size from its header, a raw
    /// image's length (`None` when the server did not say).
    pub virtual_size: Option<u64>,
    pub reader: Verified,
}

/// How long to wait for a server to answer or send more: an image server
/// that stalls fails the apply instead of hanging it.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Open `source` for reading: connect, check the answer, read the first
/// bytes to learn the format. `progress` is told the bytes read so far.
pub fn open(
    source: &ImageSource,
    progress: Box<dyn FnMut(u64, Option<u64>) + Send>,
) -> Result<Image, ImageError> {
    let loc = source.location.as_str();
    let (raw, length): (Box<dyn Read + Send>, Option<u64>) =
        if loc.starts_with("http://") || loc.starts_with("https://") {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_connect(Some(TIMEOUT))
                .timeout_recv_response(Some(TIMEOUT))
                .timeout_recv_body(None)
                .build()
                .into();
            let resp = agent.get(loc).call().map_err(|e| match e {
                ureq::Error::StatusCode(code) => ImageError::Fetch(format!(
                    "the server answered HTTP {code}{}",
                    if code == 404 {
                        " (not found: check the URL)"
                    } else {
                        ""
                    }
                )),
                other => ImageError::Fetch(other.to_string()),
            })?;
            let body = resp.into_body();
            let length = body.content_length();
            (Box::new(body.into_reader()), length)
        } else {
            let path = loc.strip_prefix("file://").unwrap_or(loc);
            let f = std::fs::File::open(path).map_err(|source| ImageError::File {
                path: path.into(),
                source,
            })?;
            let length = f.metadata().ok().map(|m| m.len());
            (Box::new(f), length)
        };
    let mut raw = raw;
    let mut head = Vec::with_capacity(format::HEAD);
    (&mut raw)
        .take(format::HEAD as u64)
        .read_to_end(&mut head)
        .map_err(|e| ImageError::Fetch(format!("reading the image failed: {e}")))?;
    let d = format::detect(&head, length)?;
    Ok(Image {
        format: d.format,
        virtual_size: d.virtual_size,
        reader: Verified {
            inner: Box::new(std::io::Cursor::new(head).chain(raw)),
            hasher: Sha256::new(),
            want: source.sha256.clone(),
            read: 0,
            length,
            progress,
        },
    })
}

/// The image's bytes, hashed and counted as they pass; at their end, a
/// checksum other than the manifest's (or fewer bytes than announced) is
/// a read error, so the upload fails instead of finishing.
pub struct Verified {
    inner: Box<dyn Read + Send>,
    hasher: Sha256,
    want: Option<String>,
    read: u64,
    length: Option<u64>,
    progress: Box<dyn FnMut(u64, Option<u64>) + Send>,
}

impl Read for Verified {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            let of = self.length.map(|l| format!(" of {l}")).unwrap_or_default();
            std::io::Error::new(
                e.kind(),
                format!("the image broke off after {}{of} bytes: {e}", self.read),
            )
        })?;
        if n > 0 {
            self.hasher.update(&buf[..n]);
            self.read += n as u64;
            (self.progress)(self.read, self.length);
            return Ok(n);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(len) = self.length.filter(|l| *l != self.read) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the image ended after {} of {len} bytes (the connection was cut?)",
                    self.read
                ),
            ));
        }
        if let Some(want) = &self.want {
            let got = hex(&self.hasher.clone().finalize());
            if &got != want {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("sha256 mismatch: the image's is {got}, the manifest says {want}"),
                ));
            }
        }
        Ok(0)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(path: &std::path::Path, sha256: Option<String>) -> ImageSource {
        ImageSource {
            location: format!("file://{}", path.display()),
            sha256,
        }
    }

    fn read_all(s: &ImageSource) -> Result<(Image, Vec<u8>), String> {
        let mut image = open(s, Box::new(|_, _| {})).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        image
            .reader
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        Ok((image, out))
    }

    #[test]
    fn a_file_streams_whole_with_its_checksum_verified_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        let bytes: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let sum = hex(&Sha256::digest(&bytes));
        let (image, got) = read_all(&source(&path, Some(sum))).unwrap();
        assert_eq!(got, bytes);
        assert_eq!(image.format, VolumeFormat::Raw);
        assert_eq!(image.virtual_size, Some(3000));

        let e = read_all(&source(&path, Some("0".repeat(64))))
            .err()
            .unwrap();
        assert!(e.contains("sha256 mismatch"), "{e}");
        let e = read_all(&source(&dir.path().join("gone.img"), None))
            .err()
            .unwrap();
        assert!(e.contains("cannot read"), "{e}");
    }
}

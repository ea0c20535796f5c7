//! What an image is, from its first bytes: qcow2 (magic `QFI\xfb`, the
//! virtual size in its header) or raw; formats libvirt would store under
//! the wrong name (vmdk, vhd, vdi) and compressed files are refused with
//! what to do instead.

use super::ImageError;
use crate::model::VolumeFormat;

/// How many leading bytes [`detect`] needs.
pub const HEAD: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    pub format: VolumeFormat,
    /// A qcow2's virtual size, a raw image's length when known.
    pub virtual_size: Option<u64>,
}

/// The format of an image starting with `head` (up to [`HEAD`] bytes) and
/// `length` bytes long when known.
pub fn detect(head: &[u8], length: Option<u64>) -> Result<Detected, ImageError> {
    if head.starts_with(b"QFI\xfb") {
        let size = head
            .get(24..32)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| ImageError::Format("a qcow2 header cut short".into()))?;
        return Ok(Detected {
            format: VolumeFormat::Qcow2,
            virtual_size: Some(size),
        });
    }
    let refused: &[(&[u8], &str)] = &[
        (b"\x1f\x8b", "gzip-compressed: give the uncompressed image"),
        (
            b"\xfd7zXZ\x00",
            "xz-compressed: give the uncompressed image",
        ),
        (
            b"\x28\xb5\x2f\xfd",
            "zstd-compressed: give the uncompressed image",
        ),
        (b"BZh", "bzip2-compressed: give the uncompressed image"),
        (
            b"KDMV",
            "a vmdk image: convert it (qemu-img convert -O qcow2)",
        ),
        (
            b"conectix",
            "a vhd image: convert it (qemu-img convert -O qcow2)",
        ),
        (
            b"vhdxfile",
            "a vhdx image: convert it (qemu-img convert -O qcow2)",
        ),
    ];
    if let Some((_, what)) = refused.iter().find(|(m, _)| head.starts_with(m)) {
        return Err(ImageError::Format(format!("the image is {what}")));
    }
    if head.get(64..68) == Some(b"\x7f\x10\xda\xbe") {
        return Err(ImageError::Format(
            "the image is a vdi image: convert it (qemu-img convert -O qcow2)".into(),
        ));
    }
    if head.is_empty() {
        return Err(ImageError::Format("the image is empty".into()));
    }
    Ok(Detected {
        format: VolumeFormat::Raw,
        virtual_size: length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qcow2_gives_its_virtual_size_raw_its_length() {
        let mut h = vec![0u8; HEAD];
        h[..4].copy_from_slice(b"QFI\xfb");
        h[24..32].copy_from_slice(&(10u64 << 30).to_be_bytes());
        let d = detect(&h, Some(196_608)).unwrap();
        assert_eq!(d.format, VolumeFormat::Qcow2);
        assert_eq!(d.virtual_size, Some(10 << 30));
        let d = detect(&[0u8; HEAD], Some(1 << 20)).unwrap();
        assert_eq!(
            (d.format, d.virtual_size),
            (VolumeFormat::Raw, Some(1 << 20))
        );
    }

    #[test]
    fn compressed_and_foreign_images_are_refused_saying_what_to_do() {
        let e = detect(b"\xfd7zXZ\x00rest", None).unwrap_err().to_string();
        assert!(e.contains("xz-compressed"), "{e}");
        let e = detect(b"KDMV....", None).unwrap_err().to_string();
        assert!(e.contains("qemu-img convert"), "{e}");
        assert!(detect(b"", Some(0)).is_err());
    }
}

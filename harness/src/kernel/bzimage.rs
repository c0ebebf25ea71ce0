//! Reading the release string from an x86 bzImage's setup header.
//!
//! See the kernel's `Documentation/arch/x86/boot.rst`: the header magic
//! `HdrS` sits at 0x202, and the little-endian u16 `kernel_version` at 0x20E
//! points (relative to 0x200) at a NUL-terminated string such as
//! `6.1.0-50-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP ...`.

use super::KernelError;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

const MAGIC_OFFSET: usize = 0x202;
const MAGIC: &[u8; 4] = b"HdrS";
const VERSION_PTR_OFFSET: usize = 0x20E;
const HEADER_LEN: usize = VERSION_PTR_OFFSET + 2;
/// Longest version string we read; real ones are well under 200 bytes.
const MAX_VERSION_LEN: usize = 512;

/// Reads the kernel release (first word of the embedded version string, e.g.
/// `6.1.0-50-cloud-amd64`) from the x86 bzImage at `path`.
///
/// Errors: [`KernelError::Missing`] if the file does not exist,
/// [`KernelError::NotAKernel`] if it lacks the `HdrS` magic (including files
/// too short to hold it), [`KernelError::BadHeader`] if the version pointer is
/// zero or points past the end of the file.
pub fn read_release(path: &Path) -> Result<String, KernelError> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => KernelError::Missing { path: path.to_path_buf() },
        _ => KernelError::io(path, e),
    })?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    (&mut file).take(HEADER_LEN as u64).read_to_end(&mut header).map_err(|e| KernelError::io(path, e))?;
    if header.len() < MAGIC_OFFSET + 4 || &header[MAGIC_OFFSET..MAGIC_OFFSET + 4] != MAGIC {
        return Err(KernelError::NotAKernel { path: path.to_path_buf() });
    }
    let bad = |reason: String| KernelError::BadHeader { path: path.to_path_buf(), reason };
    if header.len() < HEADER_LEN {
        return Err(bad(format!("file is only {} bytes, too short for the kernel_version field at 0x{VERSION_PTR_OFFSET:x}", header.len())));
    }
    let ptr = u16::from_le_bytes([header[VERSION_PTR_OFFSET], header[VERSION_PTR_OFFSET + 1]]);
    if ptr == 0 {
        return Err(bad("kernel_version field is 0 (image carries no version string)".into()));
    }
    let offset = u64::from(ptr) + 0x200;
    file.seek(SeekFrom::Start(offset)).map_err(|e| KernelError::io(path, e))?;
    let mut raw = Vec::with_capacity(MAX_VERSION_LEN);
    file.take(MAX_VERSION_LEN as u64).read_to_end(&mut raw).map_err(|e| KernelError::io(path, e))?;
    if raw.is_empty() {
        return Err(bad(format!("version string offset 0x{offset:x} is past the end of the file")));
    }
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let text = String::from_utf8_lossy(&raw[..end]);
    match text.split_whitespace().next() {
        Some(release) => Ok(release.to_string()),
        None => Err(bad(format!("version string at offset 0x{offset:x} is empty"))),
    }
}

/// Builds a minimal synthetic bzImage header carrying `version` (test helper).
#[cfg(test)]
pub(crate) fn synthetic_bzimage(version: &str) -> Vec<u8> {
    let mut bytes = vec![0u8; 0x400];
    bytes[MAGIC_OFFSET..MAGIC_OFFSET + 4].copy_from_slice(MAGIC);
    let ptr: u16 = 0x100; // string lives at 0x300
    bytes[VERSION_PTR_OFFSET..HEADER_LEN].copy_from_slice(&ptr.to_le_bytes());
    bytes[0x300..0x300 + version.len()].copy_from_slice(version.as_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vmlinuz");
        std::fs::write(&p, bytes).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_release_from_valid_header() {
        let img = synthetic_bzimage("6.1.0-50-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP");
        let (_d, p) = write(&img);
        assert_eq!(read_release(&p).unwrap(), "6.1.0-50-cloud-amd64");
    }

    #[test]
    fn rejects_file_without_magic() {
        let mut img = synthetic_bzimage("6.1.0");
        img[MAGIC_OFFSET] = b'X';
        let (_d, p) = write(&img);
        let err = read_release(&p).unwrap_err();
        assert!(matches!(err, KernelError::NotAKernel { .. }), "{err}");
        assert!(err.to_string().contains("not an x86 bzImage"));
        assert!(err.to_string().contains(&p.display().to_string()));
    }

    #[test]
    fn rejects_short_file_as_not_a_kernel() {
        let (_d, p) = write(b"hello");
        assert!(matches!(read_release(&p), Err(KernelError::NotAKernel { .. })));
    }

    #[test]
    fn truncated_before_version_string_is_bad_header() {
        let img = synthetic_bzimage("6.1.0-x");
        let (_d, p) = write(&img[..0x280]);
        let err = read_release(&p).unwrap_err();
        assert!(matches!(err, KernelError::BadHeader { .. }), "{err}");
        assert!(err.to_string().contains("past the end"), "{err}");
    }

    #[test]
    fn truncated_inside_header_is_bad_header() {
        let img = synthetic_bzimage("6.1.0-x");
        let (_d, p) = write(&img[..0x208]);
        assert!(matches!(read_release(&p), Err(KernelError::BadHeader { .. })));
    }

    #[test]
    fn zero_version_pointer_is_bad_header() {
        let mut img = synthetic_bzimage("6.1.0-x");
        img[VERSION_PTR_OFFSET] = 0;
        img[VERSION_PTR_OFFSET + 1] = 0;
        let (_d, p) = write(&img);
        assert!(matches!(read_release(&p), Err(KernelError::BadHeader { .. })));
    }

    #[test]
    fn missing_file_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope");
        let err = read_release(&p).unwrap_err();
        assert!(matches!(err, KernelError::Missing { .. }));
        assert!(err.to_string().contains("nope"));
    }
}

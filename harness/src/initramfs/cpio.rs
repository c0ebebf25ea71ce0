//! A writer for the "newc" cpio format the kernel unpacks as an initramfs
//! (Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Output is reproducible: the caller gives entries in a fixed order, every
//! mtime is 0, owners are root, inode numbers count up from 1.

/// One file, directory or device node in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { path: String, mode: u32 },
    File { path: String, mode: u32, data: Vec<u8> },
    CharDev { path: String, mode: u32, major: u32, minor: u32 },
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;
const TRAILER: &str = "TRAILER!!!";

/// Serializes `entries` in the given order, followed by the trailer.
pub fn write_newc(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let ino = i as u32 + 1;
        match entry {
            Entry::Dir { path, mode } => push_entry(&mut out, ino, S_IFDIR | mode, 2, (0, 0), path, &[]),
            Entry::File { path, mode, data } => push_entry(&mut out, ino, S_IFREG | mode, 1, (0, 0), path, data),
            Entry::CharDev { path, mode, major, minor } => push_entry(&mut out, ino, S_IFCHR | mode, 1, (*major, *minor), path, &[]),
        }
    }
    push_entry(&mut out, 0, 0, 1, (0, 0), TRAILER, &[]);
    out
}

fn push_entry(out: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, rdev: (u32, u32), name: &str, data: &[u8]) {
    let name = name.trim_start_matches('/');
    let namesize = name.len() as u32 + 1; // with the NUL
    let fields = [ino, mode, 0, 0, nlink, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, namesize, 0];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_archive_has_the_exact_newc_bytes() {
        let bytes = write_newc(&[Entry::File { path: "/init".into(), mode: 0o755, data: b"hi".to_vec() }]);
        let mut expected = String::new();
        // magic, ino 1, mode 0100755, uid, gid, nlink 1, mtime 0, size 2, dev 0:0, rdev 0:0, namesize 5, check
        expected.push_str("070701");
        for f in [1u32, 0o100755, 0, 0, 1, 0, 2, 0, 0, 0, 0, 5, 0] {
            expected.push_str(&format!("{f:08x}"));
        }
        let mut want = expected.into_bytes();
        want.extend_from_slice(b"init\0"); // 110 + 5 = 115 -> pad to 116
        want.push(0);
        want.extend_from_slice(b"hi\0\0");
        assert_eq!(&bytes[..want.len()], &want[..]);
        let trailer = &bytes[want.len()..];
        assert!(trailer.starts_with(b"070701"));
        assert_eq!(&trailer[110..120], b"TRAILER!!!");
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn same_entries_give_the_same_bytes() {
        let entries = vec![
            Entry::Dir { path: "dev".into(), mode: 0o755 },
            Entry::CharDev { path: "dev/console".into(), mode: 0o600, major: 5, minor: 1 },
            Entry::File { path: "init".into(), mode: 0o755, data: vec![1, 2, 3] },
        ];
        assert_eq!(write_newc(&entries), write_newc(&entries.clone()));
        let text = String::from_utf8_lossy(&write_newc(&entries)).into_owned();
        // The console node carries its device numbers in rdevmajor/rdevminor.
        assert!(text.contains(&format!("{:08x}{:08x}{:08x}", 0, 5, 1)));
    }
}

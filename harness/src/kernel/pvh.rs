//! Booting a bzImage's kernel through its PVH entry point.
//!
//! A bzImage boots through SeaBIOS's Linux loader, real-mode setup code and
//! the kernel's own decompressor; under TCG that was 0.68-1.13 s from QEMU's
//! start to the kernel's first line here, against 0.31-0.38 s for the same
//! kernel, uncompressed, started at its PVH entry (QEMU loads an ELF kernel
//! with the Xen PVH note itself and enters it in 32-bit protected mode; five
//! boots each, alternating; the kernel's own boot was no slower). The clock
//! hardware and the kernel's view of it are the same: the tsc, hpet and
//! acpi_pm lines of the two boots' logs differ only in the TSC calibration,
//! which differs from boot to boot anyway. What differs: no KASLR (the
//! decompressor applies it) and the firmware's e820 map merges two reserved
//! ranges below 1 MiB.
//!
//! The uncompressed kernel is unpacked from the bzImage's payload (its
//! setup header's `payload_offset`/`payload_length`, boot protocol 2.08+)
//! and kept in a cache by the bzImage's SHA-256: 47-62 MB per kernel.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How a guest's kernel is entered (`guest.boot`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BootChoice {
    /// The PVH entry where the kernel has one, else the bzImage (and the
    /// manifest says why).
    #[default]
    Auto,
    /// The PVH entry, or the run does not start.
    Pvh,
    /// The bzImage through the firmware and the kernel's decompressor.
    Bzimage,
}

impl BootChoice {
    pub fn is_default(&self) -> bool {
        *self == BootChoice::Auto
    }
}

/// How a kernel was entered, for the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BootEntry {
    Pvh,
    Bzimage,
}

impl BootEntry {
    pub fn as_str(self) -> &'static str {
        match self {
            BootEntry::Pvh => "pvh",
            BootEntry::Bzimage => "bzimage",
        }
    }
}

/// What QEMU's `-kernel` gets, and why when it is not the choice's first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootImage {
    pub entry: BootEntry,
    pub path: PathBuf,
    /// Why `auto` fell back to the bzImage.
    pub note: Option<String>,
}

/// `XEN_ELFNOTE_PHYS32_ENTRY`: the 32-bit entry point QEMU's PVH loader uses.
const PHYS32_ENTRY: u32 = 18;
const PT_NOTE: u32 = 4;
/// LZ4's legacy frame (`lz4 -l`, what the kernel's build uses).
const LZ4_LEGACY_MAGIC: [u8; 4] = [0x02, 0x21, 0x4c, 0x18];
/// The legacy frame's blocks decompress to at most 8 MiB each.
const LZ4_LEGACY_BLOCK: usize = 8 << 20;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap_or_default()))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes(s.try_into().unwrap_or_default()))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap_or_default()))
}

/// The bzImage's payload: the compressed kernel and, as the kernel's build
/// appends it, its uncompressed length in the last four bytes.
fn payload(bz: &[u8]) -> Result<(&[u8], usize), String> {
    let version = le16(bz, 0x206).ok_or("too short for a setup header")?;
    if version < 0x208 {
        return Err(format!("boot protocol {}.{:02} has no payload fields (2.08 and later do)", version >> 8, version & 0xff));
    }
    let setup_sects = match bz.get(0x1f1).copied().ok_or("too short for a setup header")? {
        0 => 4,
        n => n as usize,
    };
    let offset = le32(bz, 0x248).ok_or("no payload_offset")? as usize;
    let length = le32(bz, 0x24c).ok_or("no payload_length")? as usize;
    let start = (setup_sects + 1) * 512 + offset;
    let all = bz
        .get(start..start + length)
        .ok_or_else(|| format!("the payload ({length} bytes at {start}) runs past the file's end"))?;
    if length < 8 {
        return Err(format!("a payload of {length} bytes"));
    }
    let (data, size) = all.split_at(length - 4);
    Ok((data, le32(size, 0).unwrap_or(0) as usize))
}

/// The uncompressed kernel (an ELF file) inside a bzImage.
pub fn unpack(bz: &[u8]) -> Result<Vec<u8>, String> {
    let (data, size) = payload(bz)?;
    let out = match data.get(..4) {
        Some(m) if m == LZ4_LEGACY_MAGIC => lz4_legacy(data, size)?,
        Some(m) if m == ZSTD_MAGIC => zstd(data, size)?,
        Some(m) if m[..2] == [0x1f, 0x8b] => return Err("a gzip payload (not unpacked here: LZ4 and zstd are)".into()),
        Some(m) if m == [0xfd, 0x37, 0x7a, 0x58] => return Err("an xz payload (not unpacked here: LZ4 and zstd are)".into()),
        Some(m) if m == b"\x7fELF" => data.to_vec(),
        Some(m) => return Err(format!("a payload of unknown compression (magic {m:02x?})")),
        None => return Err("an empty payload".into()),
    };
    if out.len() != size {
        return Err(format!("the payload unpacked to {} bytes, its header says {size}", out.len()));
    }
    Ok(out)
}

fn lz4_legacy(data: &[u8], size: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(size);
    let mut at = 4;
    while at < data.len() {
        let len = le32(data, at).ok_or("a truncated LZ4 block header")? as usize;
        at += 4;
        if len == u32::from_le_bytes(LZ4_LEGACY_MAGIC) as usize {
            continue; // a concatenated stream starts
        }
        let block = data.get(at..at + len).ok_or_else(|| format!("an LZ4 block of {len} bytes runs past the payload"))?;
        let start = out.len();
        out.resize(start + LZ4_LEGACY_BLOCK, 0);
        let n = lz4_flex::block::decompress_into(block, &mut out[start..]).map_err(|e| format!("LZ4 block at {at}: {e}"))?;
        out.truncate(start + n);
        at += len;
    }
    Ok(out)
}

fn zstd(data: &[u8], size: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut src = data;
    let mut dec = ruzstd::StreamingDecoder::new(&mut src).map_err(|e| format!("zstd frame: {e}"))?;
    let mut out = Vec::with_capacity(size);
    dec.read_to_end(&mut out).map_err(|e| format!("zstd: {e}"))?;
    Ok(out)
}

/// Whether `elf` is a 64-bit ELF kernel with a PVH entry note.
pub fn check_pvh_entry(elf: &[u8]) -> Result<(), String> {
    if elf.get(..5) != Some(b"\x7fELF\x02") {
        return Err("the unpacked kernel is not a 64-bit ELF file".into());
    }
    let phoff = le64(elf, 0x20).ok_or("a truncated ELF header")? as usize;
    let phentsize = le16(elf, 0x36).ok_or("a truncated ELF header")? as usize;
    let phnum = le16(elf, 0x38).ok_or("a truncated ELF header")? as usize;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if le32(elf, ph) != Some(PT_NOTE) {
            continue;
        }
        let (off, len) = (le64(elf, ph + 8).unwrap_or(0) as usize, le64(elf, ph + 0x20).unwrap_or(0) as usize);
        let notes = elf.get(off..off + len).ok_or("a note segment past the file's end")?;
        if has_phys32_entry(notes) {
            return Ok(());
        }
    }
    Err("the kernel has no PVH entry (no Xen PHYS32_ENTRY note: built without CONFIG_PVH)".into())
}

fn has_phys32_entry(mut notes: &[u8]) -> bool {
    let pad = |n: usize| n.div_ceil(4) * 4;
    while let (Some(namesz), Some(descsz), Some(kind)) = (le32(notes, 0), le32(notes, 4), le32(notes, 8)) {
        let (namesz, descsz) = (namesz as usize, descsz as usize);
        let name = notes.get(12..12 + namesz).unwrap_or_default();
        if kind == PHYS32_ENTRY && name == b"Xen\0" && descsz >= 4 {
            return true;
        }
        let next = 12 + pad(namesz) + pad(descsz);
        let Some(rest) = notes.get(next..) else { return false };
        notes = rest;
    }
    false
}

/// The kernel of the bzImage at `bzimage` (SHA-256 `sha256`) unpacked and
/// checked for a PVH entry, kept as `<cache_dir>/<sha256>.vmlinux`; the
/// cached file is used as it is when present.
pub fn prepare(bzimage: &Path, sha256: &str, cache_dir: &Path) -> Result<PathBuf, String> {
    let cached = cache_dir.join(format!("{sha256}.vmlinux"));
    if cached.is_file() {
        return Ok(cached);
    }
    let bz = std::fs::read(bzimage).map_err(|e| format!("reading {}: {e}", bzimage.display()))?;
    let elf = unpack(&bz).map_err(|e| format!("{}: {e}", bzimage.display()))?;
    check_pvh_entry(&elf).map_err(|e| format!("{}: {e}", bzimage.display()))?;
    std::fs::create_dir_all(cache_dir).map_err(|e| format!("creating {}: {e}", cache_dir.display()))?;
    // Written beside its final name and renamed: a run that stops halfway
    // leaves no half-written kernel for the next to boot.
    let mut tmp = tempfile::NamedTempFile::new_in(cache_dir).map_err(|e| format!("a temporary file in {}: {e}", cache_dir.display()))?;
    std::io::Write::write_all(&mut tmp, &elf).map_err(|e| format!("writing {}: {e}", tmp.path().display()))?;
    tmp.persist(&cached).map_err(|e| format!("storing {}: {e}", cached.display()))?;
    Ok(cached)
}

/// What `choice` boots of `bzimage`: the unpacked kernel's PVH entry, or the
/// bzImage itself; `Err` only when `pvh` was asked for and cannot be had.
pub fn boot_image(choice: BootChoice, bzimage: &Path, sha256: &str, cache_dir: &Path) -> Result<BootImage, String> {
    let bz = |note| BootImage { entry: BootEntry::Bzimage, path: bzimage.to_path_buf(), note };
    match choice {
        BootChoice::Bzimage => Ok(bz(None)),
        BootChoice::Pvh | BootChoice::Auto => match prepare(bzimage, sha256, cache_dir) {
            Ok(path) => Ok(BootImage { entry: BootEntry::Pvh, path, note: None }),
            Err(e) if choice == BootChoice::Auto => Ok(bz(Some(format!("booted as a bzImage: no PVH entry to use ({e})")))),
            Err(e) => Err(e),
        },
    }
}

#[cfg(test)]
mod tests;

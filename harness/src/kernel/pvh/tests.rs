use super::*;

/// A 64-bit ELF header and one PT_NOTE segment holding `notes` (name, type).
fn elf_with_notes(notes: &[(&[u8], u32)]) -> Vec<u8> {
    let mut seg = Vec::new();
    for (name, kind) in notes {
        let desc = [0x50u8, 0x08, 0, 1, 0, 0, 0, 0];
        seg.extend((name.len() as u32).to_le_bytes());
        seg.extend((desc.len() as u32).to_le_bytes());
        seg.extend(kind.to_le_bytes());
        seg.extend(*name);
        seg.resize(seg.len().div_ceil(4) * 4, 0);
        seg.extend(desc);
    }
    let mut elf = vec![0u8; 0x40 + 0x38];
    elf[..5].copy_from_slice(b"\x7fELF\x02");
    elf[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes()); // e_phoff
    elf[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes()); // e_phentsize
    elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf[0x40..0x44].copy_from_slice(&PT_NOTE.to_le_bytes());
    elf[0x48..0x50].copy_from_slice(&((0x40 + 0x38) as u64).to_le_bytes()); // p_offset
    elf[0x60..0x68].copy_from_slice(&(seg.len() as u64).to_le_bytes()); // p_filesz
    elf.extend(seg);
    elf
}

fn pvh_elf() -> Vec<u8> {
    elf_with_notes(&[(b"Xen\0", 6), (b"GNU\0", PHYS32_ENTRY), (b"Xen\0", PHYS32_ENTRY)])
}

/// A bzImage (boot protocol 2.15, one setup sector) around `compressed`,
/// with the uncompressed size appended as the kernel's build does.
fn bzimage(compressed: &[u8], uncompressed_len: usize) -> Vec<u8> {
    let mut bz = vec![0u8; 1024 + 16];
    bz[0x1f1] = 1;
    bz[0x202..0x206].copy_from_slice(b"HdrS");
    bz[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    bz[0x248..0x24c].copy_from_slice(&16u32.to_le_bytes());
    bz[0x24c..0x250].copy_from_slice(&((compressed.len() + 4) as u32).to_le_bytes());
    bz.extend(compressed);
    bz.extend((uncompressed_len as u32).to_le_bytes());
    bz.extend([0xaa; 32]); // what follows the payload in a real image
    bz
}

fn lz4_legacy_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = LZ4_LEGACY_MAGIC.to_vec();
    for p in parts {
        let block = lz4_flex::block::compress(p);
        out.extend((block.len() as u32).to_le_bytes());
        out.extend(block);
    }
    out
}

/// A zstd frame of one raw block (no compression, which the format allows).
fn zstd_raw_of(data: &[u8]) -> Vec<u8> {
    assert!(data.len() < 256);
    let mut out = ZSTD_MAGIC.to_vec();
    out.push(0x20); // single segment, one-byte content size, no checksum
    out.push(data.len() as u8);
    let header = ((data.len() as u32) << 3) | 1; // raw, last block
    out.extend(&header.to_le_bytes()[..3]);
    out.extend(data);
    out
}

#[test]
fn the_pvh_note_is_found_among_others_and_its_absence_named() {
    assert_eq!(check_pvh_entry(&pvh_elf()), Ok(()));
    let none = elf_with_notes(&[(b"Xen\0", 6), (b"GNU\0", PHYS32_ENTRY)]);
    assert!(check_pvh_entry(&none).unwrap_err().contains("CONFIG_PVH"));
    assert!(check_pvh_entry(b"MZ not an elf").unwrap_err().contains("not a 64-bit ELF"));
}

#[test]
fn an_lz4_payload_in_legacy_blocks_unpacks_to_the_kernel() {
    let elf = pvh_elf();
    let (a, b) = elf.split_at(40);
    let bz = bzimage(&lz4_legacy_of(&[a, b]), elf.len());
    assert_eq!(unpack(&bz).unwrap(), elf);
}

#[test]
fn a_zstd_payload_unpacks_to_the_kernel() {
    let elf = pvh_elf();
    assert_eq!(unpack(&bzimage(&zstd_raw_of(&elf), elf.len())).unwrap(), elf);
}

#[test]
fn payloads_it_cannot_unpack_say_what_they_are() {
    let elf = pvh_elf();
    assert!(unpack(&bzimage(&[0x1f, 0x8b, 8, 0, 0, 0], 10)).unwrap_err().contains("gzip"));
    assert!(unpack(&bzimage(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0], 10)).unwrap_err().contains("xz"));
    let wrong_size = unpack(&bzimage(&lz4_legacy_of(&[&elf]), elf.len() + 1)).unwrap_err();
    assert!(wrong_size.contains("header says"), "{wrong_size}");
    let mut old = bzimage(&lz4_legacy_of(&[&elf]), elf.len());
    old[0x206..0x208].copy_from_slice(&0x0207u16.to_le_bytes());
    assert!(unpack(&old).unwrap_err().contains("2.07"));
    let mut short = bzimage(&lz4_legacy_of(&[&elf]), elf.len());
    short.truncate(1100);
    assert!(unpack(&short).unwrap_err().contains("past the file's end"));
}

#[test]
fn the_unpacked_kernel_is_cached_by_hash_and_auto_falls_back_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let elf = pvh_elf();
    let bz_path = dir.path().join("vmlinuz");
    std::fs::write(&bz_path, bzimage(&lz4_legacy_of(&[&elf]), elf.len())).unwrap();
    let cache = dir.path().join("pvh");
    let got = boot_image(BootChoice::Auto, &bz_path, "abc", &cache).unwrap();
    assert_eq!((got.entry, got.path.clone(), got.note), (BootEntry::Pvh, cache.join("abc.vmlinux"), None));
    assert_eq!(std::fs::read(&got.path).unwrap(), elf);
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1, "no temporary file left beside it");
    // Cached: the bzImage is not read again.
    std::fs::remove_file(&bz_path).unwrap();
    assert_eq!(boot_image(BootChoice::Pvh, &bz_path, "abc", &cache).unwrap().path, cache.join("abc.vmlinux"));

    // A kernel without the note: auto boots the bzImage and says why; pvh refuses.
    let plain = elf_with_notes(&[(b"GNU\0", 3)]);
    std::fs::write(&bz_path, bzimage(&lz4_legacy_of(&[&plain]), plain.len())).unwrap();
    let auto = boot_image(BootChoice::Auto, &bz_path, "def", &cache).unwrap();
    assert_eq!((auto.entry, auto.path.as_path()), (BootEntry::Bzimage, bz_path.as_path()));
    assert!(auto.note.unwrap().contains("no PVH entry"));
    assert!(boot_image(BootChoice::Pvh, &bz_path, "def", &cache).unwrap_err().contains("CONFIG_PVH"));
    assert!(!cache.join("def.vmlinux").exists());
    // bzimage reads nothing.
    let missing = dir.path().join("absent");
    assert_eq!(boot_image(BootChoice::Bzimage, &missing, "x", &cache).unwrap().entry, BootEntry::Bzimage);
}

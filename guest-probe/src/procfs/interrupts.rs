//! Parser for `/proc/interrupts`.
//!
//! The file starts with a header naming one column per *online* CPU
//! (`CPU0 CPU1 ...`; with CPUs offline it can read `CPU0 CPU2`), followed by
//! one row per interrupt source:
//!
//! ```text
//!            CPU0       CPU1
//!  24:          1          0  IO-APIC   5-edge      ACPI:Ged
//! LOC:     146447     154191   Local timer interrupts
//! ERR:          0
//! ```
//!
//! A row is `NAME:` followed by up to one count per header column, then free
//! text (chip name, hwirq, handler or a description) that may itself contain
//! colons and numbers. Summary rows such as `ERR:` and `MIS:` carry a single
//! system-wide count. The parsers below only read the leading numeric tokens
//! of the requested row, capped at the number of header columns, so the
//! description can never be mistaken for a count.
//!
//! Everything here is pure and never panics; malformed input yields `None`.

/// Number of CPU columns announced by the header line (`CPU0 CPU1 ...`).
///
/// The header is the first non-blank line; every token on it must start with
/// `CPU`. Returns `None` if there is no such header or it names no CPU.
/// The count is of *online* CPUs at read time, so the `i`-th column is not
/// necessarily CPU `i` (see [`cpu_ids`]).
pub fn cpu_columns(text: &str) -> Option<usize> {
    let header = header_line(text)?;
    let mut n = 0usize;
    for tok in header.split_ascii_whitespace() {
        if !tok.starts_with("CPU") {
            return None;
        }
        n += 1;
    }
    (n > 0).then_some(n)
}

/// CPU ids of the header columns, in order (`CPU0 CPU2` gives `[0, 2]`).
///
/// Returns `None` if the header is missing or a column is not `CPU<number>`.
pub fn cpu_ids(text: &str) -> Option<Vec<u32>> {
    let header = header_line(text)?;
    let mut ids = Vec::new();
    for tok in header.split_ascii_whitespace() {
        ids.push(tok.strip_prefix("CPU")?.parse::<u32>().ok()?);
    }
    (!ids.is_empty()).then_some(ids)
}

/// Per-CPU counts of the `LOC:` row ("Local timer interrupts"), one entry
/// per header column.
///
/// Returns `None` if the header or the `LOC:` row is missing, or if the row
/// does not carry exactly one count per header column (a truncated row would
/// otherwise silently shift CPUs). `LOC` exists on x86; arm64 kernels have no
/// such row (their timer ticks show up as a numbered `arch_timer` IRQ).
pub fn local_timer_interrupts(text: &str) -> Option<Vec<u64>> {
    let ncpu = cpu_columns(text)?;
    let counts = row(text, "LOC")?;
    (counts.len() == ncpu).then_some(counts)
}

/// Counts of the row called `name` (`"LOC"`, `"RES"`, `"CAL"`, `"TLB"`,
/// `"ERR"`, a numeric IRQ such as `"0"`, ...; a trailing `:` is accepted).
///
/// Returns the leading counts of the row, at most one per header column.
/// Per-CPU rows give one count per CPU column; summary rows such as `ERR:`
/// and `MIS:` give a single system-wide count. Returns `None` if the header
/// is missing, no row has that name, or the row starts with no count.
/// Only the first row with that name is used.
pub fn row(text: &str, name: &str) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    row_into(text, name, &mut out).then_some(out)
}

/// Like [`row`], but writes into `out` (cleared first) so that a caller
/// sampling at a fixed rate can reuse one allocation. Returns `true` if the
/// row was found and has at least one count; on `false`, `out` is empty.
pub fn row_into(text: &str, name: &str, out: &mut Vec<u64>) -> bool {
    out.clear();
    let Some(ncpu) = cpu_columns(text) else {
        return false;
    };
    let name = name.trim();
    let name = name.strip_suffix(':').unwrap_or(name);
    if name.is_empty() {
        return false;
    }
    for line in text.lines() {
        let Some((label, rest)) = line.split_once(':') else {
            continue;
        };
        if label.trim() != name {
            continue;
        }
        for tok in rest.split_ascii_whitespace().take(ncpu) {
            match tok.parse::<u64>() {
                Ok(v) => out.push(v),
                Err(_) => break,
            }
        }
        return !out.is_empty();
    }
    false
}

/// The header: the first line that is not blank.
fn header_line(text: &str) -> Option<&str> {
    text.lines().find(|l| !l.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's /proc/interrupts (x86_64 KVM guest, 2 vCPUs, 6.18).
    const HOST_2CPU: &str = include_str!("../../tests/fixtures/procfs/host-2cpu-interrupts.txt");
    /// Hand-written single-CPU guest in Linux 6.1's layout.
    const GUEST_1CPU: &str = include_str!("../../tests/fixtures/procfs/guest-1cpu-interrupts.txt");

    /// (fixture, row name, expected counts); expected values read back with
    /// the awk command in the comment, run on the same fixture file.
    #[allow(clippy::type_complexity)]
    const ROWS: &[(&str, &str, Option<&[u64]>)] = &[
        // awk '$1=="LOC:"{print $2,$3}' host-2cpu-interrupts.txt -> 146495 154244
        (HOST_2CPU, "LOC", Some(&[146495, 154244])),
        // awk '$1=="RES:"{print $2,$3}' host-2cpu-interrupts.txt -> 19932 17160
        (HOST_2CPU, "RES", Some(&[19932, 17160])),
        // awk '$1=="CAL:"{print $2,$3}' host-2cpu-interrupts.txt -> 164345 162107
        (HOST_2CPU, "CAL:", Some(&[164345, 162107])),
        // awk '$1=="TLB:"{print $2,$3}' host-2cpu-interrupts.txt -> 67730 68479
        (HOST_2CPU, "TLB", Some(&[67730, 68479])),
        // awk '$1=="36:"{print $2,$3}' host-2cpu-interrupts.txt -> 0 62684
        (HOST_2CPU, "36", Some(&[0, 62684])),
        // awk '$1=="28:"{print $2,$3}' host-2cpu-interrupts.txt -> 0 0  (chip "PCI-MSIX-0000:00:01.0" has colons)
        (HOST_2CPU, "28", Some(&[0, 0])),
        // awk '$1=="ERR:"{print NF-1, $2}' host-2cpu-interrupts.txt -> 1 0  (one system-wide count)
        (HOST_2CPU, "ERR", Some(&[0])),
        // awk '$1=="MIS:"{print NF-1, $2}' host-2cpu-interrupts.txt -> 1 0
        (HOST_2CPU, "MIS", Some(&[0])),
        // grep -c '^ *0:' host-2cpu-interrupts.txt -> 0 (no IRQ 0 on this machine)
        (HOST_2CPU, "0", None),
        (HOST_2CPU, "NOPE", None),
        (HOST_2CPU, "", None),
        // awk '$1=="LOC:"{print $2}' guest-1cpu-interrupts.txt -> 12345
        (GUEST_1CPU, "LOC", Some(&[12345])),
        // awk '$1=="0:"{print $2}' guest-1cpu-interrupts.txt -> 39
        (GUEST_1CPU, "0", Some(&[39])),
        // awk '$1=="11:"{print $2}' guest-1cpu-interrupts.txt -> 57  ("11-fasteoi" is not a count)
        (GUEST_1CPU, "11", Some(&[57])),
        // awk '$1=="MCP:"{print $2}' guest-1cpu-interrupts.txt -> 3
        (GUEST_1CPU, "MCP", Some(&[3])),
        // awk '$1=="ERR:"{print $2}' guest-1cpu-interrupts.txt -> 0
        (GUEST_1CPU, "ERR", Some(&[0])),
    ];

    #[test]
    fn rows_from_fixtures() {
        for (i, (text, name, want)) in ROWS.iter().enumerate() {
            assert_eq!(row(text, name).as_deref(), *want, "case {i}: row {name:?}");
        }
    }

    #[test]
    fn local_timer_from_fixtures() {
        // awk 'NR==1{print NF}' host-2cpu-interrupts.txt -> 2
        assert_eq!(cpu_columns(HOST_2CPU), Some(2));
        assert_eq!(cpu_ids(HOST_2CPU), Some(vec![0, 1]));
        assert_eq!(local_timer_interrupts(HOST_2CPU), Some(vec![146495, 154244]));
        // awk 'NR==1{print NF}' guest-1cpu-interrupts.txt -> 1
        assert_eq!(cpu_columns(GUEST_1CPU), Some(1));
        assert_eq!(local_timer_interrupts(GUEST_1CPU), Some(vec![12345]));
    }

    #[test]
    fn numeric_description_is_not_a_count() {
        // 4.x-era MSI rows put a bare number in the description.
        let text = "      CPU0  CPU1\n 24:   5   6   PCI-MSI 65536 edge nvme\n";
        assert_eq!(row(text, "24"), Some(vec![5, 6]));
    }

    #[test]
    fn offline_cpu_columns() {
        let text = "           CPU0       CPU2\nLOC:   10   20   Local timer interrupts\n";
        assert_eq!(cpu_ids(text), Some(vec![0, 2]));
        assert_eq!(local_timer_interrupts(text), Some(vec![10, 20]));
    }

    #[test]
    fn truncated_loc_row_is_rejected() {
        let text = "   CPU0 CPU1\nLOC:   10\n";
        assert_eq!(row(text, "LOC"), Some(vec![10]));
        assert_eq!(local_timer_interrupts(text), None);
    }

    #[test]
    fn malformed_inputs_do_not_panic() {
        let cases = [
            "",
            "\n\n",
            "LOC: 1 2 3\n",                         // no header
            "   CPU0\nLOC:\n",                      // empty row
            "   CPU0\nLOC: x 1\n",                  // non-numeric first
            "   CPU0\nLOC: 99999999999999999999\n", // overflow
            "   CPUX CPU\n",
            "   CPU0\n:::\n: 1\n",
            "\u{feff}\u{0}CPU0\nLOC: 1",
        ];
        for c in cases {
            let _ = local_timer_interrupts(c);
            let _ = row(c, "LOC");
            let _ = row(c, ":");
            let _ = cpu_ids(c);
        }
        assert_eq!(local_timer_interrupts("   CPU0\nLOC: 99999999999999999999\n"), None);
        assert_eq!(row("   CPU0\n: 1\n", ""), None);
        // no trailing newline is fine
        assert_eq!(local_timer_interrupts("  CPU0\nLOC: 7"), Some(vec![7]));
    }

    #[test]
    fn row_into_reuses_buffer() {
        let mut buf = vec![1, 2, 3, 4, 5];
        assert!(row_into(HOST_2CPU, "LOC", &mut buf));
        assert_eq!(buf, [146495, 154244]);
        assert!(!row_into(HOST_2CPU, "NOPE", &mut buf));
        assert!(buf.is_empty());
    }
}

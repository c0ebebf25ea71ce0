//! The few fields of `/proc/<pid>/stat` the guardian and the leftovers sweep
//! need. The command name (field 2) may hold spaces and parentheses, so the
//! fields are counted from the last `)`.

use std::path::Path;

/// State, parent and start time of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `T`, `Z`, `X`, ...
    pub state: char,
    /// Field 4.
    pub ppid: u32,
    /// Field 22, in clock ticks since boot: with the pid, names one process.
    pub start_time: u64,
}

impl ProcStat {
    /// A zombie or a dead task holds no memory and runs nothing; its parent
    /// only has to reap it.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the text of a `stat` file.
pub fn parse(stat: &str) -> Option<ProcStat> {
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat { state: fields.first()?.chars().next()?, ppid: fields.get(1)?.parse().ok()?, start_time: fields.get(19)?.parse().ok()? })
}

/// `<proc_root>/<pid>/stat`, or None when there is no such process.
pub fn read(proc_root: &Path, pid: u32) -> Option<ProcStat> {
    parse(&std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_from_the_last_parenthesis() {
        let stat = "4242 (qemu (x) y) Z 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 3 0 987654 0 0";
        assert_eq!(parse(stat), Some(ProcStat { state: 'Z', ppid: 1, start_time: 987654 }));
        assert!(parse(stat).unwrap().is_dead());
    }

    #[test]
    fn this_process_reads_as_alive() {
        let me = read(Path::new("/proc"), std::process::id()).unwrap();
        assert!(!me.is_dead());
        assert!(me.start_time > 0);
        assert_eq!(read(Path::new("/proc"), u32::MAX), None);
    }

    #[test]
    fn truncated_text_is_none() {
        assert_eq!(parse("12 (a) S 1 2"), None);
        assert_eq!(parse("garbage"), None);
    }
}

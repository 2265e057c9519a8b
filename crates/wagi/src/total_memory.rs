//! How much linear memory all instances may have together: `--max-total-memory`, or by default
//! a share of the memory this process may use, read from its cgroup or the machine; and the
//! startup line that says which.

use std::path::{Path, PathBuf};

/// The share of the memory the process may use that instances may have by default; the rest is
/// for compiled code, request and response buffers, outbound bodies and the server itself.
const DEFAULT_TOTAL_MEMORY_PERCENT: u64 = 75;

/// The bound on the linear memory of all instances together, and where it came from.
pub(crate) enum TotalMemory {
    /// `--max-total-memory`.
    Flag(u64),
    /// The default share of what the process may use, `of` bytes as read from `source`.
    Share { of: u64, source: &'static str },
    /// Neither a flag nor a readable limit: no bound.
    Unknown,
}

impl TotalMemory {
    pub(crate) fn new(flag: Option<u64>) -> Self {
        match (flag, memory_available()) {
            (Some(bytes), _) => Self::Flag(bytes),
            (None, Some((of, source))) => Self::Share { of, source },
            (None, None) => Self::Unknown,
        }
    }

    pub(crate) fn bytes(&self) -> u64 {
        match self {
            Self::Flag(bytes) => *bytes,
            Self::Share { of, .. } => of / 100 * DEFAULT_TOTAL_MEMORY_PERCENT,
            Self::Unknown => u64::MAX,
        }
    }
}

impl std::fmt::Display for TotalMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = mebibytes(self.bytes());
        match self {
            Self::Flag(_) => {
                write!(f, "Memory: instances may use {total} of linear memory together (--max-total-memory)")
            }
            Self::Share { of, source } => write!(
                f,
                "Memory: instances may use {total} of linear memory together ({DEFAULT_TOTAL_MEMORY_PERCENT}% of {source}, {}; set --max-total-memory to change it)",
                mebibytes(*of)
            ),
            Self::Unknown => write!(
                f,
                "Memory: no bound on the linear memory of all instances together (the memory available cannot be read; set --max-total-memory)"
            ),
        }
    }
}

fn mebibytes(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}

/// The memory this process may use, and what says so: its cgroup's limit when that is below
/// the machine's memory (cgroup v1 writes a huge number for "no limit"), else the machine's.
fn memory_available() -> Option<(u64, &'static str)> {
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| parse_mem_total(&text));
    let own_cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    // The first limit file that exists decides, even when it says there is no limit.
    let cgroup = cgroup_limit_files(&own_cgroups)
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| parse_cgroup_limit(&text));
    match (cgroup, machine) {
        (Some(limit), Some(machine)) if limit < machine => Some((limit, "the cgroup's memory limit")),
        (_, Some(machine)) => Some((machine, "the machine's memory")),
        (Some(limit), None) => Some((limit, "the cgroup's memory limit")),
        (None, None) => None,
    }
}

/// Where the memory limit of this process's cgroup may be, most specific first: its own cgroup
/// (as `/proc/self/cgroup` names it, v2 then v1), then the root of the mount, which is the
/// container's own cgroup in a container.
fn cgroup_limit_files(own_cgroups: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for line in own_cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else { continue };
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            files.insert(0, Path::new("/sys/fs/cgroup").join(path).join("memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            files.push(Path::new("/sys/fs/cgroup/memory").join(path).join("memory.limit_in_bytes"));
        }
    }
    files.push(PathBuf::from("/sys/fs/cgroup/memory.max"));
    files.push(PathBuf::from("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
    files
}

/// A cgroup memory limit file: bytes, or `max` for none.
fn parse_cgroup_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let kib = meminfo.lines().find_map(|line| line.strip_prefix("MemTotal:"))?;
    kib.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cgroup_limits_and_machine_memory() {
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("1073741824\n"), Some(1 << 30));
        let meminfo = "MemTotal:       24683792 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_mem_total(meminfo), Some(24_683_792 * 1024));
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn looks_in_the_own_cgroup_first() {
        let v2 = cgroup_limit_files("0::/system.slice/wagi.service\n");
        assert_eq!(v2[0], Path::new("/sys/fs/cgroup/system.slice/wagi.service/memory.max"));
        let v1 = cgroup_limit_files("5:devices:/\n4:memory:/docker/abc\n0::/\n");
        assert_eq!(v1[0], Path::new("/sys/fs/cgroup/memory.max"), "v2 first");
        assert_eq!(v1[1], Path::new("/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"));
        assert_eq!(v1.last().map(PathBuf::as_path), Some(Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes")));
    }

    #[test]
    fn the_default_is_a_share_of_the_memory_available() {
        let share = TotalMemory::Share { of: 1000 << 20, source: "the machine's memory" };
        assert_eq!(share.bytes(), (1000 << 20) / 100 * 75);
        assert_eq!(
            TotalMemory::Flag(64 << 20).to_string(),
            "Memory: instances may use 64 MiB of linear memory together (--max-total-memory)"
        );
        assert_eq!(TotalMemory::Unknown.bytes(), u64::MAX);
    }
}

//! A process's memory as Linux reports it in `/proc/PID/status`, for tests that prove the
//! daemon's memory stays bounded under abuse.
//!
//! `VmHWM` is the peak resident set since the process started: comparing it before and after a
//! fault shows whether the daemon ever held the flood in memory, even if it freed it again.

/// The value of `field` (e.g. `"VmRSS"`, `"VmHWM"`) in `/proc/PID/status`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .and_then(|rest| rest.strip_prefix(':'))
        })
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {path}"))
}

/// Resident memory now, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// Peak resident memory since the process started, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let (now, peak) = (super::rss_kib(me), super::peak_rss_kib(me));
        assert!(now > 0 && peak >= now, "VmRSS {now} KiB, VmHWM {peak} KiB");
    }
}

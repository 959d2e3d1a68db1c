//! Models that exist to measure the engine: PHOLD and its plain-heap baseline.

pub mod phold;
pub mod topology;

/// The process's peak resident memory in bytes (Linux `VmHWM`), if the platform reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

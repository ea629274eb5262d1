//! Helpers shared by the privileged integration tests.
#![allow(dead_code)]

/// Number of open descriptors of this process. Tests in one binary run in parallel, so compare
/// only within a test that holds [`serial`].
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Serialise the tests of one binary that count descriptors or need quiet interfaces.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

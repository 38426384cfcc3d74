//! What the embedded store reports about its file through the `metrics` facade: when the last
//! durable commit returned, and the space left on the file system that holds the file. A
//! stalled disk shows as a commit time that stops moving while writes arrive; a full one fails
//! every write, so the space left is worth an alert before it reaches zero.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use metrics::gauge;

/// Unix time, in seconds, of the last durable commit.
pub const LAST_COMMIT: &str = "session_store_last_commit_timestamp_seconds";
/// Bytes an unprivileged process may still write on the file system of the database file.
pub const DISK_AVAILABLE: &str = "session_store_disk_available_bytes";
/// Size in bytes of the file system of the database file.
pub const DISK_SIZE: &str = "session_store_disk_size_bytes";

/// Reports for the database file at `file` (`None` for an in-memory store, which has no disk).
#[derive(Debug)]
pub(super) struct Gauges {
    file: Option<PathBuf>,
}

impl Gauges {
    pub(super) fn new(file: Option<PathBuf>) -> Self {
        Self { file }
    }

    /// Records a durable commit that has just returned, and the disk space it left.
    pub(super) fn committed(&self) {
        let Some(file) = &self.file else { return };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        gauge!(LAST_COMMIT, "backend" => "embedded").set(now);
        // statvfs asks the file system, never the disk: cheap beside the sync just done. A
        // failure leaves the last figures in place; the next commit tries again.
        if let (Ok(available), Ok(size)) = (fs4::available_space(file), fs4::total_space(file)) {
            gauge!(DISK_AVAILABLE, "backend" => "embedded").set(available as f64);
            gauge!(DISK_SIZE, "backend" => "embedded").set(size as f64);
        }
    }
}

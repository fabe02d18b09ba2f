//! Pacing of the container/TTL sweep (ZooKeeper's `ContainerManager`): the
//! sweep deletes at most `znode.container.maxPerMinute` nodes a minute, so a
//! mass expiry does not flood the log. As in ZooKeeper, each deletion is
//! followed by a pause of one minute / maxPerMinute, less the time the
//! deletion itself took. Pure arithmetic; the sweep task in `server` sleeps.

use std::time::Duration;

/// The least time between two sweep deletions.
pub fn deletion_spacing(max_per_minute: u32) -> Duration {
    Duration::from_millis(60_000 / u64::from(max_per_minute.max(1)))
}

/// How long to pause after a deletion that took `elapsed`.
pub fn pause_after(spacing: Duration, elapsed: Duration) -> Duration {
    spacing.saturating_sub(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletions_are_spaced_by_max_per_minute() {
        let config = |max: &str| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("zoo.cfg");
            std::fs::write(
                &path,
                format!("dataDir=/d\nznode.container.maxPerMinute={max}\n"),
            )
            .unwrap();
            crate::config::load_with_jvm_flags(Some(&path), None, None)
                .unwrap()
                .0
        };
        let spacing = deletion_spacing(config("600").tuning.container_max_per_minute);
        assert_eq!(spacing, Duration::from_millis(100));
        // Ten deletions of 30 ms each take at least a second in all: the
        // pauses fill each slot up to the spacing.
        let per_delete = Duration::from_millis(30);
        let total: Duration = (0..10)
            .map(|_| per_delete + pause_after(spacing, per_delete))
            .sum();
        assert_eq!(total, Duration::from_secs(1));
        // ZooKeeper's default, 10000 a minute: 6 ms apart.
        let default = config("10000").tuning.container_max_per_minute;
        assert_eq!(deletion_spacing(default), Duration::from_millis(6));
        // A slow deletion is not followed by a pause.
        assert_eq!(
            pause_after(spacing, Duration::from_millis(150)),
            Duration::ZERO
        );
    }
}

//! A learner whose syncs keep failing backs off: bounded exponential waits
//! with jitter from the machine's seeded PRNG, reset by a finished sync.
use super::fixture_tests::{messages, notification, packet_at_front};
use super::*;
use crate::zab::{Member, Notification};

const CONN_BASE: ConnId = 100;

/// Server 3 of three, following server 2 once told the recorded settled
/// votes (1 FOLLOWING 2, 2 LEADING).
fn follower(seed: u64) -> (Zab, Vec<Notification>) {
    let all = messages("snap");
    let settled: Vec<Notification> = all
        .iter()
        .filter(|(name, _)| name.contains("settled"))
        .map(|(_, bytes)| notification(bytes))
        .collect();
    let config_text = settled[0].config.clone().unwrap();
    let members = (1..=3)
        .map(|sid| Member {
            sid,
            observer: false,
        })
        .collect();
    let mut config = ZabConfig::new(3, members, 2000, 10, 5, config_text);
    config.seed = seed;
    let mut zab = Zab::new(config, Durable::default());
    zab.step(Input::Tick { now_ms: 0 });
    (zab, settled)
}

fn connects(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::ConnectToLeader { sid: 2 }))
        .count()
}

/// Tells the machine the settled votes; returns whether it connected at once.
fn elect(zab: &mut Zab, settled: &[Notification]) -> bool {
    let mut connected = 0;
    for (from, n) in [1, 2].into_iter().zip(settled) {
        connected += connects(&zab.step(Input::Notification { from, n: n.clone() }));
    }
    assert_eq!(zab.role(), Role::Following, "the votes make it follow 2");
    connected == 1
}

/// The recorded LEADERINFO: the leader answered, the sync has begun.
fn leader_info() -> QuorumPacket {
    let all = messages("snap");
    let (_, bytes) = all.iter().find(|(n, _)| n.contains("LEADERINFO")).unwrap();
    packet_at_front(bytes).0
}

/// Connects and starts a sync (LEADERINFO answered).
fn begin_sync(zab: &mut Zab, conn: ConnId) {
    zab.step(Input::QuorumConnected(conn));
    zab.step(Input::Packet {
        conn,
        packet: leader_info(),
    });
}

/// Closes the learner's connection before its sync finished: back to
/// LOOKING, and following 2 again (at once, from the votes it remembers,
/// or once told them again). Returns whether it connected at once.
fn fail_and_follow_again(zab: &mut Zab, settled: &[Notification], conn: ConnId) -> bool {
    let actions = zab.step(Input::QuorumClosed(conn));
    if zab.role() == Role::Following {
        return connects(&actions) > 0;
    }
    assert_eq!(zab.role(), Role::Looking);
    elect(zab, settled) || connects(&actions) > 0
}

/// Runs `failures` failed syncs (connected, then closed before any sync)
/// and returns the wait taken before each reconnect.
fn failing_syncs(seed: u64, failures: u32) -> Vec<u64> {
    let (mut zab, settled) = follower(seed);
    let mut now = 0;
    let mut waits = Vec::new();
    assert!(elect(&mut zab, &settled), "the first connect is immediate");
    assert!(zab.sync_backoff().is_none());
    for i in 0..failures {
        let conn = CONN_BASE + ConnId::from(i);
        begin_sync(&mut zab, conn);
        assert!(
            !fail_and_follow_again(&mut zab, &settled, conn),
            "failure {}: no immediate connect",
            i + 1
        );
        let backoff = zab.sync_backoff().expect("backing off").clone();
        assert_eq!(backoff.failures, i + 1);
        assert_eq!(backoff.leader, 2);
        assert!(!backoff.reason.is_empty(), "the reason is kept for the log");
        // Nothing before the wait is over, one connect when it is.
        let due = now + backoff.delay_ms;
        assert_eq!(connects(&zab.step(Input::Tick { now_ms: due - 1 })), 0);
        assert_eq!(connects(&zab.step(Input::Tick { now_ms: due })), 1);
        now = due;
        waits.push(backoff.delay_ms);
    }
    waits
}

#[test]
fn failed_syncs_back_off_exponentially_with_jitter_up_to_a_bound() {
    let waits = failing_syncs(42, 12);
    for (i, &wait) in waits.iter().enumerate() {
        let full = (100u64 << i).min(5_000);
        assert!(
            (full / 2..=full).contains(&wait),
            "failure {}: waited {wait} ms, expected {}..={full}",
            i + 1,
            full / 2
        );
    }
    assert!(waits[11] >= 2_500, "the bound is reached: {waits:?}");
}

#[test]
fn the_jitter_comes_from_the_seed() {
    assert_eq!(
        failing_syncs(7, 8),
        failing_syncs(7, 8),
        "same seed, same waits"
    );
    let others: Vec<Vec<u64>> = (0..4).map(|seed| failing_syncs(seed, 8)).collect();
    assert!(
        others.windows(2).any(|w| w[0] != w[1]),
        "different seeds draw different waits: {others:?}"
    );
}

#[test]
fn the_backoff_never_outlasts_half_the_init_limit() {
    // tickTime 100 ms, initLimit 10: a wait of 5 s would look like a dead
    // leader; it is bounded by 500 ms instead.
    let (mut zab, settled) = follower(1);
    zab.core.cfg.tick_ms = 100;
    assert!(elect(&mut zab, &settled));
    for i in 0..10 {
        let conn = CONN_BASE + ConnId::from(i as u32);
        begin_sync(&mut zab, conn);
        fail_and_follow_again(&mut zab, &settled, conn);
        let wait = zab.sync_backoff().unwrap().delay_ms;
        assert!(wait <= 500, "failure {}: {wait} ms", i + 1);
        let now = zab.core.now_ms + wait;
        zab.step(Input::Tick { now_ms: now });
    }
}

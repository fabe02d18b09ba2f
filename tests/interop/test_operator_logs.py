"""Operator log lines: start-up and recovery lines, and the slow-fsync
warning in ZooKeeper's words, one per count in mntr's
zk_fsync_threshold_exceed_count (paddock only: the wording is checked
against FileTxnLog's format, not a live ZooKeeper log)."""
import re
import time

import pytest

from conftest import is_zookeeper, four_letter
from opshelp import Servers

FSYNC_WARNING = re.compile(
    r"fsync-ing the write ahead log in \S+ took (\d+)ms which will adversely effect "
    r"operation latency\.File size is (\d+) bytes\. See the ZooKeeper troubleshooting guide")


@pytest.fixture
def servers():
    s = Servers()
    yield s
    s.cleanup()


@pytest.mark.skipif(is_zookeeper(), reason="paddock's own log")
def test_state_changes_and_the_fsync_warning_are_logged(servers):
    # Threshold 0: any flush of 1ms or more is "slow" (ZooKeeper compares
    # whole milliseconds with >), so the counter and the lines can be compared.
    # Writes go on (20 small ones, then batches of 512 KiB values that make
    # a flush take a millisecond even on a fast disk) until at least one
    # flush has counted: comparing 0 lines with a count of 0 proves nothing.
    server = servers({"fsync.warningthresholdms": "0"})
    from kazoo.client import KazooClient

    def slow_flushes():
        mntr = four_letter(server.port, "mntr")
        return int(re.search(r"zk_fsync_threshold_exceed_count\t(\d+)", mntr).group(1))
    client = KazooClient(hosts=server.hosts, timeout=10)
    client.start(timeout=15)
    try:
        for i in range(20):
            client.create("/fsync-%d" % i, b"x")
        big = 0
        deadline = time.monotonic() + 60
        while slow_flushes() == 0 and time.monotonic() < deadline and big < 128:
            for r in [client.create_async("/fsync-big-%d" % (big + j), b"b" * (512 * 1024))
                      for j in range(8)]:
                r.get(timeout=30)
            big += 8
    finally:
        client.stop()
        client.close()
    count = slow_flushes()
    server.stop()
    assert count > 0, ("no flush took 1 ms or more (%d large writes): this dataLogDir's "
                       "disk syncs too fast to show the warning" % big)
    text = server.log_text()
    for line in ("starting: config", "recovered to zxid", "paddock serving", "stopped"):
        assert line in text, (line, text[-2000:])
    warnings = FSYNC_WARNING.findall(text)
    print("slow flushes counted: %d" % count)
    assert len(warnings) == count, text[-3000:]
    for elapsed_ms, file_bytes in warnings:
        assert int(elapsed_ms) >= 1
        assert int(file_bytes) > 0

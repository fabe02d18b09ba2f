"""kill -9 during a stream of acknowledged writes loses none of them."""
import random
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, KazooException
from kazoo.retry import KazooRetry


def _writer(hosts, prefix, acked, sent, stop):
    # no retries: a create whose answer is lost is "sent" but not "acked"
    c = KazooClient(hosts=hosts, timeout=10,
                    connection_retry=KazooRetry(max_tries=0))
    c.start(timeout=15)
    try:
        i = 0
        while not stop.is_set():
            path = "%s/n-%d" % (prefix, i)
            sent.add(path)
            try:
                c.create(path, b"%d" % i)
            except (ConnectionLoss, KazooException):
                return
            except Exception:  # noqa: BLE001 - socket errors while dying
                return
            acked.append(path)
            i += 1
    finally:
        stop.set()
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.mark.timeout(120)
def test_acknowledged_writes_survive_kill9(server, fresh_zk_factory):
    rng = random.Random()
    admin = fresh_zk_factory()
    admin.ensure_path("/crash")
    admin.stop()
    all_acked, all_sent = set(), set()
    for rnd in range(3):
        prefix = "/crash/r%d" % rnd
        setup = fresh_zk_factory()
        setup.create(prefix)
        setup.stop()
        acked, sent, stop = [], set(), threading.Event()
        t = threading.Thread(target=_writer,
                             args=(server.hosts, prefix, acked, sent, stop))
        t.start()
        time.sleep(rng.uniform(1.0, 2.0))
        server.kill9()
        t.join(30)
        stop.set()
        assert not t.is_alive()
        assert len(acked) > 10, "writer made almost no progress"
        all_acked.update(acked)
        all_sent.update(sent)
        server.start()
        check = fresh_zk_factory()
        present = set()
        for r in check.get_children("/crash"):
            present.update("/crash/%s/%s" % (r, n)
                           for n in check.get_children("/crash/" + r))
        missing = all_acked - present
        assert not missing, "acknowledged writes lost: %s" % sorted(missing)[:10]
        phantom = present - all_sent
        assert not phantom, "znodes never sent: %s" % sorted(phantom)[:10]
        # at most the one in-flight create may exist without an ack
        assert len(present - all_acked) <= rnd + 1
        for p in rng.sample(sorted(all_acked), 5):
            assert check.get(p)[0] == p.rsplit("-", 1)[1].encode()
        check.stop()

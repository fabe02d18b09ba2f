"""paddock as server 3 of an Apache ZooKeeper 3.8 ensemble (the Debian
package as servers 1 and 2): it follows the ZooKeeper leader, and writes made
through either side are read on the other.

With PADDOCK_SERVER=zookeeper all three are ZooKeeper (the test then
validates the harness only).
"""
import pytest

from ensemble import (assert_everywhere, create_many, default_kind, ensembles,  # noqa: F401
                      stat_key, wait_until)

KINDS = ["zookeeper", "zookeeper", default_kind()]


def _start_zk_first(e):
    # ZooKeeper 1 and 2 form the quorum and elect their leader first; server
    # 3 then joins the running ensemble (FastLeaderElection makes a newcomer
    # follow an established leader whatever its own id and zxid)
    leader = e.start(ids=[1, 2])
    e[3].start()
    assert e.wait_for_leader() == leader
    return leader


@pytest.mark.timeout(240)
def test_paddock_follows_a_zookeeper_leader(ensembles):
    e = ensembles(n=3, kinds=KINDS)
    leader = _start_zk_first(e)
    assert leader in (1, 2)
    assert e.mode(3) == "follower", e[3].srvr()
    other_zk = 3 - leader
    assert e.mode(other_zk) == "follower"

    zk = e[other_zk].client()
    pd = e[3].client()
    zk.create("/mixed")
    zk.create("/mixed/from-zk", b"zk")
    pd.create("/mixed/from-paddock", b"paddock")
    create_many(zk, ["/mixed/zk-%d" % i for i in range(100)])
    create_many(pd, ["/mixed/pd-%d" % i for i in range(100)])
    pd.set("/mixed/from-zk", b"changed by paddock")
    zk.set("/mixed/from-paddock", b"changed by zookeeper")
    seq_zk = zk.create("/mixed/seq-", sequence=True)
    seq_pd = pd.create("/mixed/seq-", sequence=True)
    assert seq_zk != seq_pd
    eph = pd.create("/mixed/eph-pd", ephemeral=True)

    expected = ({"/mixed/zk-%d" % i for i in range(100)} | {"/mixed/pd-%d" % i for i in range(100)}
                | {"/mixed/from-zk", "/mixed/from-paddock", seq_zk, seq_pd, eph})
    assert_everywhere(e, "/mixed", expected)
    for sid in e.ids():
        assert e.get_alone(sid, "/mixed/from-zk") == b"changed by paddock"
        assert e.get_alone(sid, "/mixed/from-paddock") == b"changed by zookeeper"

    def stats(k):
        k.sync("/mixed")
        return {p: stat_key(k.exists(p)) for p in sorted(expected)[::20] + [eph, "/mixed"]}
    ref = e.read_alone(leader, stats)
    assert e.read_alone(3, stats) == ref
    assert e.read_alone(other_zk, stats) == ref
    assert ref[eph][7] == pd.client_id[0]  # ephemeralOwner: paddock's session
    pd.stop()
    for sid in e.ids():
        assert e.read_alone(sid, lambda k: (k.sync("/mixed"), k.exists(eph))[1]) is None


@pytest.mark.timeout(300)
def test_paddock_catches_up_in_a_zookeeper_ensemble(ensembles):
    """paddock restarted after missing writes (DIFF, then a long absence:
    SNAP from the ZooKeeper leader) and the ZooKeeper leader killed with
    paddock still in the ensemble: whoever leads next, both sides agree."""
    e = ensembles(n=3, kinds=KINDS)
    leader = _start_zk_first(e)
    zk = e[leader].client()
    zk.create("/cu")
    for rnd, count in enumerate((50, 1500)):
        e.kill9(3)
        create_many(zk, ["/cu/r%d-%d" % (rnd, i) for i in range(count)])
        e[3].start()
        e.wait_mode(3, ["follower"])
        expected = {"/cu/r%d-%d" % (r, i) for r, c in enumerate((50, 1500)[:rnd + 1])
                    for i in range(c)}
        assert_everywhere(e, "/cu", expected, sids=[3])
    # the ZooKeeper leader dies: the other ZooKeeper and paddock elect one of
    # themselves (paddock, with the highest id and the same zxid, may lead)
    e.kill9(leader)
    survivors = [s for s in e.ids() if s != leader]
    new = e.wait_for_leader(ids=survivors)
    assert new in survivors
    c = e.client(e.connect_string(survivors))
    c.create("/cu/after-failover", b"x")
    for s in survivors:
        assert e.get_alone(s, "/cu/after-failover") == b"x"
    e[leader].start()
    e.wait_for_leader()
    assert e.get_alone(leader, "/cu/after-failover") == b"x"

"""The orders a client sees are ZooKeeper's.

ZooKeeper 3.8 lists a node's children in the iteration order of its
``HashSet<String>``, and clients act on that order: kazoo's recursive delete
stops at the first child it may not delete. The expected lists below are what
Apache ZooKeeper 3.8.0 answered (``PADDOCK_SERVER=zookeeper`` runs this file
against it unchanged).
"""
import pytest
import rawzk
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Permissions, ANYONE_ID_UNSAFE

# The dozen-children case: created in this order, on a fresh server.
DOZEN = ["a", "b", "c", "d", "e", "app", "node1", "node2", "x10", "config"]


def test_tutorial_root_children(fresh_zk_factory):
    zk = fresh_zk_factory()
    zk.create("/abc", b"hello")
    assert zk.get_children("/") == ["abc", "zookeeper"]
    assert zk.get_children("/zookeeper") == ["config", "quota"]
    for name in DOZEN:
        zk.create("/" + name)
    assert zk.get_children("/") == [
        "app", "a", "b", "node2", "abc", "c", "zookeeper", "d", "e", "x10",
        "node1", "config"]
    children, stat = zk.get_children("/", include_data=True)
    assert children == zk.get_children("/")
    assert stat.numChildren == 12


def _names(count):
    return ["n%d-%s" % (i, "xyz"[i % 3] * (i % 5)) for i in range(count)]


def test_order_after_deletes_and_restart(fresh_zk_factory):
    zk = fresh_zk_factory()
    server = fresh_zk_factory.default_server
    zk.create("/r")
    for name in _names(40):
        zk.create("/r/" + name)
    for name in _names(40)[::3]:
        zk.delete("/r/" + name)
    expected = [
        "n7-yy", "n5-", "n2-zz", "n22-yy", "n8-zzz", "n17-zz", "n16-y",
        "n32-zz", "n1-y", "n11-z", "n19-yyyy", "n31-y", "n38-zzz", "n37-yy",
        "n29-zzzz", "n28-yyy", "n25-", "n35-", "n34-yyyy", "n10-", "n13-yyy",
        "n20-", "n23-zzz", "n26-z", "n4-yyyy", "n14-zzzz"]
    assert zk.get_children("/r") == expected
    zk.stop()
    zk.close()
    server.restart()
    zk = fresh_zk_factory()
    # The log replays onto the startup snapshot: the same sets, the same order.
    assert zk.get_children("/r") == expected
    for name in ["late-1", "late-2", "n0-"]:
        zk.create("/r/" + name)
    zk.delete("/r/n5-")
    # New names join their bins' ends; a deleted one leaves the others put.
    assert zk.get_children("/r") == [
        "n7-yy", "n2-zz", "n22-yy", "late-1", "late-2", "n8-zzz", "n17-zz",
        "n16-y", "n32-zz", "n1-y", "n11-z", "n19-yyyy", "n31-y", "n38-zzz",
        "n37-yy", "n29-zzzz", "n0-", "n28-yyy", "n25-", "n35-", "n34-yyyy",
        "n10-", "n13-yyy", "n20-", "n23-zzz", "n26-z", "n4-yyyy", "n14-zzzz"]


def test_recursive_delete_stops_where_zookeeper_stops(fresh_zk_factory):
    """kazoo deletes children in get_children order and stops at the first
    it may not delete; what survives depends on the server's order."""
    zk = fresh_zk_factory()
    zk.create("/t")
    names = ["job-%02d" % i for i in range(14)]
    no_delete = [ACL(Permissions.ALL & ~Permissions.DELETE, ANYONE_ID_UNSAFE)]
    for name in names:
        if name == "job-06":
            zk.create("/t/" + name, acl=no_delete)
            zk.create("/t/job-06/inner")
        else:
            zk.create("/t/" + name)
    order = zk.get_children("/t")
    assert order == [
        "job-10", "job-09", "job-08", "job-03", "job-02", "job-13", "job-01",
        "job-12", "job-00", "job-11", "job-07", "job-06", "job-05", "job-04"]
    with pytest.raises(NoAuthError):
        zk.delete("/t", recursive=True)
    survivors = zk.get_children("/t")
    assert survivors == order[order.index("job-06"):]
    assert sorted(survivors) == ["job-04", "job-05", "job-06"]
    assert zk.get_children("/t/job-06") == ["inner"]


def _get_ephemerals(raw, prefix):
    rep = raw.request(rawzk.GET_EPHEMERALS, rawzk.Writer().string(prefix).bytes())
    assert rep.err == 0
    r = rawzk.Reader(rep.body)
    return [r.string() for _ in range(r.int())]


def test_get_ephemerals_in_zookeepers_order(fresh_zk_factory):
    """getEphemerals answers from a clone of the session's HashSet, whose
    table is sized afresh: 25 paths grow the session's set to 64 bins; the
    clone of the 12 left after deletes has 32, and lists them in its order."""
    server = fresh_zk_factory.default_server
    zk = fresh_zk_factory()
    zk.create("/eph")
    raw = rawzk.RawZK(server.port)
    try:
        raw.connect()
        for i in range(25):
            assert raw.create("/eph/e%d" % i, flags=1).err == 0
        for i in range(0, 25, 2):
            assert raw.delete("/eph/e%d" % i).err == 0
        assert _get_ephemerals(raw, "/") == [
            "/eph/e5", "/eph/e7", "/eph/e9", "/eph/e17", "/eph/e15", "/eph/e1",
            "/eph/e19", "/eph/e3", "/eph/e21", "/eph/e13", "/eph/e23",
            "/eph/e11"]
        assert _get_ephemerals(raw, "/eph/e1") == [
            "/eph/e17", "/eph/e15", "/eph/e1", "/eph/e19", "/eph/e13",
            "/eph/e11"]
    finally:
        raw.close()

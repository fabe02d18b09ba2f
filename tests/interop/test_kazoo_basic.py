"""Basic znode operations through kazoo, checked against ZooKeeper semantics."""
import time

import pytest
from kazoo.exceptions import (BadArgumentsError, BadVersionError,
                              ConnectionLoss, InvalidACLError,
                              NoChildrenForEphemeralsError, NoAuthError,
                              NodeExistsError, NoNodeError, NotEmptyError,
                              RolledBackError, RuntimeInconsistency)
from kazoo.security import (OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, make_acl,
                            make_digest_acl)


def test_create_returns_path_and_makepath(zk, root):
    assert zk.create(root + "/a/b/c", b"v", makepath=True) == root + "/a/b/c"
    assert zk.get(root + "/a/b/c")[0] == b"v"
    assert zk.get(root + "/a")[0] == b""
    zk.ensure_path(root + "/x/y/z")
    assert zk.exists(root + "/x/y/z") is not None
    zk.ensure_path(root + "/x/y/z")  # idempotent
    with pytest.raises(NoNodeError):
        zk.create(root + "/missing/child")
    with pytest.raises(NodeExistsError):
        zk.create(root + "/a")


def test_stat_fields_after_create_and_set(zk, root):
    path = root + "/n"
    before = time.time() * 1000
    zk.create(path, b"hello")
    data, st = zk.get(path)
    assert data == b"hello"
    assert st.czxid == st.mzxid == st.pzxid > 0
    assert st.ctime == st.mtime
    assert before - 5000 <= st.ctime <= time.time() * 1000 + 5000
    assert (st.version, st.cversion, st.aversion) == (0, 0, 0)
    assert st.ephemeralOwner == 0
    assert st.dataLength == 5
    assert st.numChildren == 0

    st2 = zk.set(path, b"hello world")
    assert st2.version == 1
    assert st2.mzxid > st2.czxid == st.czxid
    assert st2.ctime == st.ctime
    assert st2.mtime >= st.mtime
    assert st2.pzxid == st.pzxid
    assert st2.dataLength == 11
    assert zk.get(path)[1] == st2
    assert zk.exists(path) == st2

    st3 = zk.set(path, b"")
    assert st3.version == 2 and st3.dataLength == 0 and st3.mzxid > st2.mzxid


def test_parent_stat_follows_children(zk, root):
    parent = root + "/p"
    zk.create(parent)
    p0 = zk.exists(parent)
    zk.create(parent + "/c1")
    c1 = zk.exists(parent + "/c1")
    p1 = zk.exists(parent)
    assert p1.cversion == p0.cversion + 1
    assert p1.numChildren == 1
    assert p1.pzxid == c1.czxid
    assert p1.mzxid == p0.mzxid and p1.version == p0.version  # data untouched
    zk.create(parent + "/c2")
    p2 = zk.exists(parent)
    assert (p2.cversion, p2.numChildren) == (2, 2)
    # setting a child's data does not touch the parent
    zk.set(parent + "/c1", b"x")
    assert zk.exists(parent) == p2
    zk.delete(parent + "/c1")
    p3 = zk.exists(parent)
    assert (p3.cversion, p3.numChildren) == (3, 1)
    assert p3.pzxid > p2.pzxid
    # the delete's zxid is below the next write's zxid
    zk.create(root + "/after")
    assert zk.exists(root + "/after").czxid > p3.pzxid


def test_get_children_and_include_data(zk, root):
    for name in ["b", "a", "c"]:
        zk.create(root + "/" + name, name.encode())
    assert sorted(zk.get_children(root)) == ["a", "b", "c"]
    children, st = zk.get_children(root, include_data=True)
    assert sorted(children) == ["a", "b", "c"]
    assert st.numChildren == 3 and st.cversion == 3
    assert st == zk.exists(root)
    with pytest.raises(NoNodeError):
        zk.get_children(root + "/nope")
    assert zk.get_children(root + "/a") == []


def test_set_with_version(zk, root):
    path = root + "/v"
    zk.create(path, b"0")
    with pytest.raises(BadVersionError):
        zk.set(path, b"x", version=5)
    assert zk.set(path, b"1", version=0).version == 1
    assert zk.set(path, b"2", version=1).version == 2
    with pytest.raises(BadVersionError):
        zk.set(path, b"x", version=1)
    assert zk.set(path, b"3", version=-1).version == 3
    with pytest.raises(NoNodeError):
        zk.set(root + "/nope", b"x")
    assert zk.get(path)[0] == b"3"


def test_delete(zk, root):
    zk.create(root + "/d/e/f", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete(root + "/d")
    with pytest.raises(BadVersionError):
        zk.delete(root + "/d/e/f", version=3)
    zk.delete(root + "/d/e/f", version=0)
    assert zk.exists(root + "/d/e/f") is None
    zk.create(root + "/d/e/g")
    zk.create(root + "/d/h")
    zk.delete(root + "/d", recursive=True)
    assert zk.exists(root + "/d") is None
    with pytest.raises(NoNodeError):
        zk.delete(root + "/d")


def test_exists(zk, root):
    assert zk.exists(root + "/nope") is None
    zk.create(root + "/yes")
    st = zk.exists(root + "/yes")
    assert st is not None and st.numChildren == 0


def test_sequence_nodes(zk, root):
    seq = root + "/seq"
    zk.create(seq)
    p1 = zk.create(seq + "/n-", sequence=True)
    p2 = zk.create(seq + "/n-", sequence=True)
    assert p1 == seq + "/n-0000000000"
    assert p2 == seq + "/n-0000000001"
    # ZooKeeper's sequence counter is the parent's *internal* cversion, which
    # counts child creates only.  The cversion reported in Stat is
    # 2*creates - numChildren (DataNode.copyStat), i.e. it counts creates and
    # deletes.  So a delete bumps the reported cversion but not the counter.
    zk.create(seq + "/plain")
    zk.delete(seq + "/plain")
    st = zk.exists(seq)
    assert (st.cversion, st.numChildren) == (4, 2)
    p3 = zk.create(seq + "/n-", sequence=True)
    assert p3 == seq + "/n-%010d" % ((st.cversion + st.numChildren) // 2)
    assert p3 == seq + "/n-0000000003"
    zk.delete(p1)
    zk.delete(p2)
    st = zk.exists(seq)
    assert (st.cversion, st.numChildren) == (7, 1)
    p4 = zk.create(seq + "/x", sequence=True, ephemeral=True)
    assert p4 == seq + "/x0000000004"
    # empty prefix: the name is just the counter
    assert zk.create(seq + "/", sequence=True) == seq + "/0000000005"
    assert sorted(zk.get_children(seq)) == ["0000000005", "n-0000000003",
                                            "x0000000004"]
    # the counter is per parent
    assert zk.create(root + "/other-", sequence=True) == root + "/other-0000000001"


def test_zookeeper_node_cversion_formula(zk):
    # /zookeeper is built without "creates", so its reported cversion is
    # 0*2 - numChildren (e.g. -2 with quota and config)
    st = zk.exists("/zookeeper")
    assert st.cversion == -st.numChildren


def test_ephemeral_nodes(zk_factory, root):
    a = zk_factory()
    path = a.create(root + "/eph", b"e", ephemeral=True)
    st = a.exists(path)
    assert st.ephemeralOwner == a.client_id[0] != 0
    with pytest.raises(NoChildrenForEphemeralsError):
        a.create(path + "/child")
    b = zk_factory()
    assert b.exists(path).ephemeralOwner == a.client_id[0]
    a.stop()
    a.close()
    assert b.exists(path) is None


def test_create2_include_data(zk, root):
    path, st = zk.create(root + "/c2", b"abc", include_data=True)
    assert path == root + "/c2"
    assert st == zk.exists(path)
    assert st.dataLength == 3 and st.version == 0
    path2, st2 = zk.create(root + "/c2-", sequence=True, include_data=True)
    assert path2 == root + "/c2-0000000001"
    assert st2.czxid > st.czxid


def test_acls_digest(zk_factory, root):
    owner = zk_factory(auth_data=[("digest", "alice:secret")])
    acl = make_digest_acl("alice", "secret", all=True)
    path = owner.create(root + "/secure", b"s", acl=[acl])
    assert owner.get(path)[0] == b"s"

    other = zk_factory()
    for op in (lambda: other.get(path),
               lambda: other.set(path, b"x"),
               lambda: other.get_children(path),
               lambda: other.create(path + "/c"),
               lambda: other.get_acls(path) and other.set_acls(path, OPEN_ACL_UNSAFE)):
        with pytest.raises(NoAuthError):
            op()
    # exists needs no permission; getACL needs none either in 3.8 for
    # non-ADMIN... but it does hide nothing: we only check exists here
    assert other.exists(path) is not None

    wrong = zk_factory(auth_data=[("digest", "alice:wrong")])
    with pytest.raises(NoAuthError):
        wrong.get(path)

    other.add_auth("digest", "alice:secret")
    assert other.get(path)[0] == b"s"

    acls, st = owner.get_acls(path)
    assert len(acls) == 1
    assert acls[0].perms == 31 and acls[0].id.scheme == "digest"
    assert acls[0].id.id == acl.id.id
    assert st.aversion == 0
    with pytest.raises(BadVersionError):
        owner.set_acls(path, READ_ACL_UNSAFE, version=3)
    st2 = owner.set_acls(path, READ_ACL_UNSAFE, version=0)
    assert st2.aversion == 1 and st2.version == 0
    acls, _ = owner.get_acls(path)
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(1, "world", "anyone")]
    fresh = zk_factory()
    assert fresh.get(path)[0] == b"s"
    with pytest.raises(NoAuthError):
        fresh.set(path, b"x")


def test_invalid_acls(zk, root):
    # "auth" scheme without any authenticated identity
    with pytest.raises(InvalidACLError):
        zk.create(root + "/a1", acl=[make_acl("auth", "", all=True)])
    # digest id without ':'
    with pytest.raises(InvalidACLError):
        zk.create(root + "/a2", acl=[make_acl("digest", "nocolon", all=True)])
    # unknown scheme
    with pytest.raises(InvalidACLError):
        zk.create(root + "/a3", acl=[make_acl("bogus", "x", all=True)])
    assert zk.get_children(root) == []


def test_auth_scheme_acl(zk_factory, root):
    c = zk_factory(auth_data=[("digest", "bob:pw")])
    path = c.create(root + "/bobs", acl=[make_acl("auth", "", all=True)])
    acls, _ = c.get_acls(path)
    assert [a.id.scheme for a in acls] == ["digest"]
    assert acls[0].id.id == make_digest_acl("bob", "pw").id.id
    with pytest.raises(NoAuthError):
        zk_factory().get(path)


def test_transaction_success(zk, root):
    zk.create(root + "/a", b"1")
    t = zk.transaction()
    t.create(root + "/b", b"x")
    t.set_data(root + "/a", b"2")
    t.check(root + "/a", 1)
    t.delete(root + "/b")
    res = t.commit()
    assert res[0] == root + "/b"
    assert res[1].version == 1 and res[1].dataLength == 1
    assert res[2] is True and res[3] is True
    assert zk.get(root + "/a")[0] == b"2"
    assert zk.exists(root + "/b") is None
    # all ops of one multi share one zxid
    t = zk.transaction()
    t.create(root + "/m1")
    t.create(root + "/m2")
    t.commit()
    assert zk.exists(root + "/m1").czxid == zk.exists(root + "/m2").czxid


def test_transaction_failure_rolls_back(zk, root):
    zk.create(root + "/a", b"1")
    before = zk.exists(root)
    t = zk.transaction()
    t.create(root + "/c", b"x")
    t.set_data(root + "/a", b"3")
    t.check(root + "/a", 7)
    t.delete(root + "/zz")
    res = t.commit()
    assert [type(r) for r in res] == [RolledBackError, RolledBackError,
                                      BadVersionError, RuntimeInconsistency]
    assert zk.exists(root + "/c") is None
    assert zk.get(root + "/a")[0] == b"1"
    assert zk.exists(root + "/a").version == 0
    assert zk.exists(root) == before

    t = zk.transaction()
    t.create(root + "/c", b"x")
    t.delete(root + "/nope")
    t.set_data(root + "/a", b"3")
    res = t.commit()
    from kazoo.exceptions import NoNodeError as NNE
    assert [type(r) for r in res] == [RolledBackError, NNE, RuntimeInconsistency]
    assert zk.exists(root + "/c") is None

    t = zk.transaction()
    t.create(root + "/a")
    res = t.commit()
    assert [type(r) for r in res] == [NodeExistsError]


def test_sync(zk, root):
    assert zk.sync(root) == root
    assert zk.sync("/") == "/"


def test_zookeeper_node(zk):
    st = zk.exists("/zookeeper")
    assert st is not None and st.czxid == 0
    assert {"quota", "config"} <= set(zk.get_children("/zookeeper"))
    for p in ("/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        with pytest.raises(BadArgumentsError):
            zk.delete(p)
    with pytest.raises(BadArgumentsError):
        zk.delete("/")
    assert zk.exists("/zookeeper/quota") is not None


def test_server_version(zk):
    v = zk.server_version()
    assert isinstance(v, tuple) and len(v) >= 3
    assert v[0] == 3 and v >= (3, 6, 0)


def test_large_data(zk, root):
    big = bytes(range(256)) * 3906 + b"x" * 64  # 1,000,000 bytes
    assert len(big) == 1_000_000
    zk.create(root + "/big", big)
    data, st = zk.get(root + "/big")
    assert data == big and st.dataLength == 1_000_000
    # a frame longer than jute.maxbuffer (1,048,575) closes the connection:
    # the request fails with ConnectionLoss and the client reconnects
    # (same session) and keeps working.
    sid = zk.client_id[0]
    with pytest.raises(ConnectionLoss):
        zk.create(root + "/toobig", b"y" * 1_048_576)
    deadline = time.monotonic() + 20
    while True:
        try:
            assert zk.exists(root + "/toobig") is None
            break
        except ConnectionLoss:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert zk.client_id[0] == sid
    assert zk.get(root + "/big")[0] == big


def test_session_survives_quick_restart(server, fresh_zk_factory):
    c = fresh_zk_factory(timeout=15)
    sid = c.client_id
    c.create("/eph", b"e", ephemeral=True)
    c.create("/pers", b"p")
    server.restart()
    deadline = time.monotonic() + 30
    while True:
        try:
            st = c.exists("/eph")
            break
        except ConnectionLoss:
            assert time.monotonic() < deadline, "client did not reconnect"
            time.sleep(0.2)
    assert c.client_id == sid
    assert st is not None and st.ephemeralOwner == sid[0]
    assert c.get("/pers")[0] == b"p"
    c.stop()
    other = fresh_zk_factory()
    assert other.exists("/eph") is None

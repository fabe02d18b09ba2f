"""Real-process ensembles on loopback (3 or 5 servers, an observer), driven
with kazoo and zkCli.sh: election, replication, leader and follower crashes,
catch-up after short and long absences, observers, clients moving between
servers, sequential nodes, zkCli against a follower, 5 servers losing 2.

Every test gets a fresh ensemble (ensemble.Ensemble, ports leased from their
own range). "Asked alone" = a fresh client of that one server, after
``sync``. The server kind follows PADDOCK_SERVER as in the rest of the suite.
"""
import os
import subprocess
import threading
import time

import pytest
from kazoo.exceptions import ConnectionLoss, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState
from kazoo.security import make_digest_acl

import rawzk
from conftest import ZKCLI
from ensemble import (Writer, assert_everywhere, connected_peer, create_many,  # noqa: F401
                      ensembles, stat_key, wait_until)


@pytest.mark.timeout(150)
def test_three_servers_elect_one_leader(ensembles):
    e = ensembles(n=3)
    leader = e.start()
    modes = e.modes()
    assert sorted(modes.values()) == ["follower", "follower", "leader"], modes
    assert modes[leader] == "leader"
    # the Mode line of `stat` agrees with `srvr`, and every server names the
    # same epoch in its zxid
    for m in e.all():
        assert "Mode: %s" % modes[m.sid] in m.flw("stat")
    # after a write has reached every server, all name the same new epoch
    e[leader].client().create("/epoch")
    for sid in e.ids():
        e.get_alone(sid, "/epoch")
    epochs = {m.zxid() >> 32 for m in e.all()}
    assert len(epochs) == 1 and epochs != {0}, epochs
    # the leader's own numbers: its uptime, and the sizes of its proposals
    # (stat and mntr agree; at least the create above was proposed)
    mntr = dict(line.split("\t", 1) for line in e[leader].flw("mntr").splitlines() if "\t" in line)
    assert int(mntr["zk_leader_uptime"]) > 0, mntr.get("zk_leader_uptime")
    sizes = [int(mntr["zk_%s_proposal_size" % k]) for k in ("last", "min", "max")]
    assert 0 < sizes[1] <= sizes[0] <= sizes[2], sizes
    assert "Proposal sizes last/min/max: " in e[leader].flw("stat")
    for sid in e.ids():
        if sid != leader:
            assert "zk_leader_uptime" not in e[sid].flw("mntr")


@pytest.mark.timeout(150)
def test_write_through_each_server_read_on_every_server(ensembles):
    e = ensembles(n=3)
    e.start()
    for sid in e.ids():
        c = e[sid].client()
        c.create("/via-%d" % sid, b"written through %d" % sid)
        c.set("/via-%d" % sid, b"set through %d" % sid)
    for reader in e.ids():
        for writer in e.ids():
            assert e.get_alone(reader, "/via-%d" % writer) == b"set through %d" % writer
    # the same stat everywhere (zxids, times and versions are the leader's)
    stats = {sid: e.read_alone(sid, lambda c: (c.sync("/via-1"), stat_key(c.exists("/via-1")))[1])
             for sid in e.ids()}
    assert len(set(stats.values())) == 1, stats


@pytest.mark.timeout(240)
def test_kill9_leader_during_writes_through_follower(ensembles):
    e = ensembles(n=3)
    leader = e.start()
    follower = e.followers()[0]
    e[follower].client().create("/kl")
    w = Writer(e, e.hosts(follower), "/kl", max_count=4000, max_secs=120)
    w.start()
    wait_until(lambda: len(w.acked) >= 100 or not w.is_alive(), 60, "100 writes before the kill")
    killed_at = time.monotonic()
    e.kill9(leader)
    # the writer goes on through the same follower once a new leader serves
    wait_until(lambda: len(w.acked_after(killed_at)) >= 100 or not w.is_alive(), 90,
               "100 acknowledged writes after the leader's kill")
    w.finish()
    assert len(w.acked_after(killed_at)) >= 100, "writes did not resume: %s" % w.failures[-3:]
    survivors = [s for s in e.ids() if s != leader]
    new_leader = e.wait_for_leader(ids=survivors)
    assert new_leader != leader
    acked = w.acked_paths()
    assert_everywhere(e, "/kl", acked, sids=survivors, allowed_extra=w.sent)
    # the old leader comes back as a follower and has every acknowledged write
    e[leader].start()
    assert e.wait_for_leader() == new_leader
    assert e.mode(leader) == "follower"
    assert_everywhere(e, "/kl", acked, allowed_extra=w.sent)
    for p in sorted(acked)[::500]:
        assert e.get_alone(leader, p) == p.encode()


def _absence(e, count):
    """Kill -9 a follower, make ``count`` writes (and a few of every kind)
    without it, restart it: everything is readable on it alone, with the
    leader's stats."""
    leader = e.start()
    absent = e.followers()[0]
    c = e[leader].client()
    c.create("/ab")
    c.create("/ab/changed", b"before")
    c.create("/ab/deleted")
    e.kill9(absent)
    paths = ["/ab/n-%05d" % i for i in range(count)]
    create_many(c, paths, data=b"y" * 16)
    c.set("/ab/changed", b"after")
    c.delete("/ab/deleted")
    c.create("/ab/acl", b"a", acl=[make_digest_acl("u", "p", all=True)])
    c.create("/ab/eph", b"e", ephemeral=True)
    seq = c.create("/ab/seq-", b"s", sequence=True)
    e[absent].start()
    e.wait_mode(absent, ["follower"])
    expected = set(paths) | {"/ab/changed", "/ab/acl", "/ab/eph", seq}
    assert_everywhere(e, "/ab", expected, sids=[absent])

    def check(k):
        k.add_auth("digest", "u:p")  # getACL needs READ or ADMIN
        k.sync("/ab")
        assert k.get("/ab/changed")[0] == b"after"
        assert k.exists("/ab/deleted") is None
        assert k.exists("/ab/eph").ephemeralOwner == c.client_id[0]
        acl, _ = k.get_acls("/ab/acl")
        assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == \
            [(31, "digest", make_digest_acl("u", "p", all=True).id.id)]
        return {p: stat_key(k.exists(p)) for p in
                ["/ab", "/ab/changed", "/ab/acl", "/ab/eph", paths[0], paths[-1]]}

    assert e.read_alone(absent, check) == e.read_alone(leader, check)
    # and it takes part again: a write through it is read on the others
    e[absent].client().create("/ab/after-return", b"r")
    for sid in e.ids():
        assert e.get_alone(sid, "/ab/after-return") == b"r"


@pytest.mark.timeout(200)
def test_follower_restart_catches_up(ensembles):
    """A short absence (DIFF on ZooKeeper: within its commitLogCount=500)."""
    _absence(ensembles(n=3), 200)


@pytest.mark.timeout(300)
def test_follower_long_absence_catches_up(ensembles):
    """More writes than ZooKeeper's in-memory commit log (commitLogCount=500)
    holds: the leader must send a snapshot (or a diff from its log on disk)."""
    _absence(ensembles(n=3), 1500)


@pytest.mark.timeout(200)
def test_observer_serves_reads_and_forwards_writes(ensembles):
    e = ensembles(n=3, observers=1)
    leader = e.start()
    assert e.mode(4) == "observer"
    assert sorted(e.modes().values()) == ["follower", "follower", "leader", "observer"]
    oc = e[4].client()
    oc.create("/obs", b"via observer")
    for sid in e.ids():
        assert e.get_alone(sid, "/obs") == b"via observer"
    e[leader].client().set("/obs", b"via leader")
    oc.sync("/obs")
    assert oc.get("/obs")[0] == b"via leader"
    # the observer does not vote: losing it leaves the quorum intact
    e.kill9(4)
    e[leader].client().create("/obs/while-away")
    e[4].start()
    e.wait_mode(4, ["observer"])
    assert e.children_alone(4, "/obs") == {"while-away"}
    # ... and it cannot make a quorum: with two voters down no write is acked
    # on it (it stops serving or the write fails)
    for s in e.followers():
        e.kill9(s)
    # not acknowledged: the connection is lost, or no answer comes; an error
    # answer (NoNode, ...) would be a different failure
    with pytest.raises((ConnectionLoss, SessionExpiredError, KazooTimeoutError)):
        oc.create_async("/obs/no-quorum").get(timeout=15)


SET_WATCHES, SET_WATCHES2, SET_WATCHES_XID = 101, 105, -8
ADD_WATCH_PERSISTENT = 0
EV_CHANGED, EV_CHILDREN = 3, 4


def _set_watches(rz, op, data=(), exist=(), child=(), persistent=(), recursive=()):
    """What the Java client sends right after a reconnect (ClientCnxn
    primeConnection): SetWatches, or SetWatches2 when it has persistent watches."""
    w = rawzk.Writer().long(rz.last_zxid)
    lists = [data, exist, child] + ([persistent, recursive] if op == SET_WATCHES2 else [])
    for paths in lists:
        w.int(len(paths))
        for p in paths:
            w.string(p)
    return rz.request(op, w.bytes(), xid=SET_WATCHES_XID)


def _raw_reconnect(e, sids, rz_old, deadline):
    """Reconnect rz_old's session to one of ``sids`` (the first that takes it)."""
    last = None
    while time.monotonic() < deadline:
        for sid in sids:
            try:
                rz = rawzk.RawZK(e[sid].port)
            except OSError as ex:
                last = ex
                continue
            try:
                info = rz.connect(timeout_ms=rz_old.negotiated_timeout, session_id=rz_old.session_id,
                                  passwd=rz_old.passwd, last_zxid=rz_old.last_zxid)
                assert info["timeOut"] > 0, "session expired on the move (server %d)" % sid
                assert info["sessionId"] == rz_old.session_id
                rz.last_zxid = rz_old.last_zxid
                return rz, sid
            except (rawzk.Closed, TimeoutError, OSError) as ex:  # not serving yet
                last = ex
                rz.close()
        time.sleep(0.1)
    raise TimeoutError("session 0x%x could not reconnect to %s: %r" % (rz_old.session_id, sids, last))


@pytest.mark.timeout(200)
@pytest.mark.parametrize("victim", ["follower", "leader"])
def test_client_moves_keeping_session_ephemeral_and_watches(ensembles, victim):
    """kazoo for the session and its ephemeral (kazoo itself forgets its
    one-shot watches on a disconnect); raw sessions for the watches, doing
    what the Java client does on a reconnect (SetWatches / SetWatches2)."""
    e = ensembles(n=3)
    leader = e.start()
    dying = leader if victim == "leader" else e.followers()[0]
    others = [s for s in e.ids() if s != dying]
    setup = e[others[0]].client()
    setup.create("/mv")
    setup.create("/mv/w", b"0")
    setup.create("/mv/p", b"0")
    c = e.client(e.connect_string([dying] + others), randomize_hosts=False, timeout=4.0)
    assert connected_peer(c) == ("127.0.0.1", e[dying].port)
    sid = c.client_id[0]
    c.create("/mv/eph", b"mine", ephemeral=True)
    states = []
    c.add_listener(states.append)
    # raw session 1: data + child watch (SetWatches); 2: persistent + data (SetWatches2)
    r1, r2 = rawzk.RawZK(e[dying].port), rawzk.RawZK(e[dying].port)
    for r in (r1, r2):
        r.connect(timeout_ms=10000)
        assert r.get_data("/mv/w", watch=True).err == 0
    assert r1.get_children("/mv", watch=True).err == 0
    assert r2.add_watch("/mv/p", ADD_WATCH_PERSISTENT).err == 0

    e.kill9(dying)
    deadline = time.monotonic() + 90
    n1, s1 = _raw_reconnect(e, others, r1, deadline)
    assert _set_watches(n1, SET_WATCHES, data=["/mv/w"], child=["/mv"]).err == 0
    n2, s2 = _raw_reconnect(e, others, r2, deadline)
    assert _set_watches(n2, SET_WATCHES2, data=["/mv/w"], persistent=["/mv/p"]).err == 0
    wait_until(lambda: c.state == KazooState.CONNECTED and connected_peer(c) is not None
               and connected_peer(c)[1] != e[dying].port, 90,
               "the kazoo client to reconnect to another server")
    assert KazooState.SUSPENDED in states and KazooState.LOST not in states, states
    assert c.client_id[0] == sid, "the session changed on the move"
    # its ephemeral is still there, seen from each other server alone
    for s in others:
        st = e.read_alone(s, lambda k: (k.sync("/mv"), k.exists("/mv/eph"))[1])
        assert st is not None and st.ephemeralOwner == sid
    # the watches moved with the sessions: changes made elsewhere fire them
    writer = e[others[-1]].client()
    writer.set("/mv/w", b"1")
    writer.create("/mv/new")
    writer.set("/mv/p", b"1")
    writer.set("/mv/p", b"2")
    ev1 = sorted(x.key() for x in n1.wait_events(2, timeout=30))
    assert ev1 == [(EV_CHANGED, "/mv/w"), (EV_CHILDREN, "/mv")], ev1
    ev2 = [x.key() for x in n2.wait_events(3, timeout=30)]
    assert sorted(ev2) == [(EV_CHANGED, "/mv/p"), (EV_CHANGED, "/mv/p"), (EV_CHANGED, "/mv/w")], ev2
    # the new server keeps the session alive past its 4 s timeout
    for _ in range(9):
        time.sleep(1)
        n1.ping()
    assert c.state == KazooState.CONNECTED and c.client_id[0] == sid
    st = e.read_alone(others[0], lambda k: (k.sync("/mv"), k.exists("/mv/eph"))[1])
    assert st is not None and st.ephemeralOwner == sid
    # and closing it removes the ephemeral everywhere
    c.stop()
    for s in others:
        assert e.read_alone(s, lambda k: (k.sync("/mv"), k.exists("/mv/eph"))[1]) is None
    for r in (r1, r2, n1, n2):
        r.close()


@pytest.mark.timeout(200)
def test_sequential_nodes_through_different_servers(ensembles):
    e = ensembles(n=3)
    e.start()
    clients = {sid: e[sid].client() for sid in e.ids()}
    clients[1].create("/seq")
    per = 40
    got = {sid: [] for sid in e.ids()}
    errors = []

    def run(sid):
        try:
            for _ in range(per):
                got[sid].append(clients[sid].create("/seq/n-", b"%d" % sid, sequence=True))
        except Exception as ex:  # noqa: BLE001
            errors.append(ex)

    threads = [threading.Thread(target=run, args=(sid,)) for sid in e.ids()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and not any(t.is_alive() for t in threads), errors
    every = [p for sid in e.ids() for p in got[sid]]
    assert len(set(every)) == len(every) == 3 * per, "duplicate sequence numbers"
    for sid in e.ids():  # each session's own creates are in order
        nums = [int(p[-10:]) for p in got[sid]]
        assert nums == sorted(nums), (sid, nums)
    assert sorted(int(p[-10:]) for p in every) == list(range(3 * per))
    names = {p.rsplit("/", 1)[1] for p in every}
    for sid in e.ids():
        assert e.children_alone(sid, "/seq") == names
    # the data says who made each one; every server agrees
    sample = sorted(every)[::17]
    by = {p: e.get_alone(2, p) for p in sample}
    for p in sample:
        assert by[p] == e.get_alone(3, p)
        assert p in got[int(by[p])]


def _zkcli(hosts, args=(), stdin=None, timeout=90):
    env = dict(os.environ, CLIENT_JVMFLAGS="-Xmx256m")
    p = subprocess.run([ZKCLI, "-server", hosts] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.timeout(240)
@pytest.mark.skipif(not os.path.exists(ZKCLI), reason="zkCli.sh not installed")
def test_zkcli_against_a_follower(ensembles):
    e = ensembles(n=3)
    e.start()
    f = e.followers()[0]
    script = "\n".join([
        "create /zc hello",
        "get /zc",
        "set /zc world",
        "get /zc",
        "create -s /zc/s- x",
        "create -e /zc/e y",
        "ls /zc",
        "ls /",
        "delete /zc/s-0000000000",
        "stat /zc",
        "quit",
    ]) + "\n"
    rc, out, err = _zkcli(e.hosts(f), stdin=script)
    assert rc == 0, (rc, out[-2000:], err[-2000:])
    lines = out.splitlines() + err.splitlines()  # "Created ..." goes to stderr
    for want in ["Created /zc", "hello", "world", "Created /zc/s-0000000000",
                 "Created /zc/e", "[e, s-0000000000]", "[zc, zookeeper]", "numChildren = 1"]:
        assert want in lines, "%r not in zkCli output:\n%s" % (want, out[-3000:])
    for sid in e.ids():
        assert e.get_alone(sid, "/zc") == b"world"
        assert e.children_alone(sid, "/zc") == set()  # the ephemeral went with zkCli's session
    # one-shot commands, against a follower alone and against the whole ensemble
    rc, out, err = _zkcli(e.hosts(f), ["get", "/zc"])
    assert rc == 0 and out.splitlines()[-1] == "world", (out, err)
    rc, out, err = _zkcli(e.connect_string(), ["create", "/zc2", "v"])
    assert rc == 0, (out, err)
    rc, out, err = _zkcli(e.hosts(f), ["get", "/zc2"])
    assert rc == 0 and out.splitlines()[-1] == "v", (out, err)


@pytest.mark.timeout(300)
def test_five_servers_survive_losing_two(ensembles):
    e = ensembles(n=5)
    leader = e.start()
    setup = e[leader].client()
    setup.create("/five")
    create_many(setup, ["/five/a-%d" % i for i in range(50)])
    gone = [leader, e.followers()[0]]
    for s in gone:
        e.kill9(s)
    survivors = [s for s in e.ids() if s not in gone]
    new_leader = e.wait_for_leader(ids=survivors)
    assert new_leader not in gone
    written = {"/five/a-%d" % i for i in range(50)}
    for s in survivors:
        c = e[s].client()
        p = "/five/b-%d" % s
        c.create(p, b"x")
        written.add(p)
    assert_everywhere(e, "/five", written, sids=survivors)
    # a third loss leaves 2 of 5: no quorum, writes are no longer acknowledged
    third = [s for s in survivors if s != new_leader][0]
    last = [s for s in survivors if s != third]
    w = Writer(e, e.hosts(last[0]), "/five", max_count=2000, max_secs=90, op_timeout=5)
    w.start()
    wait_until(lambda: len(w.acked) >= 20 or not w.is_alive(), 60, "writes before the third loss")
    e.kill9(third)
    wait_until(lambda: len(w.failures) >= 3 or not w.is_alive(), 90,
               "writes to fail without a quorum")
    w.finish()
    assert len(w.failures) >= 3
    # everything comes back; every acknowledged write is on all five
    for s in gone + [third]:
        e[s].start()
    e.wait_for_leader()
    written |= w.acked_paths()
    assert_everywhere(e, "/five", written, allowed_extra=written | w.sent)


@pytest.mark.timeout(150)
def test_four_letter_words_of_a_server_without_a_quorum(ensembles):
    """A server left alone looks for a leader and serves no client; as
    ZooKeeper's (its commands that need no running server): ruok, envi,
    isro ("null") and gtmk answer, the others say it is not serving."""
    e = ensembles(n=3)
    leader = e.start()
    alone = e.followers()[0]
    for sid in e.ids():
        if sid != alone:
            e.kill9(sid)
    assert leader != alone
    not_serving = "This ZooKeeper instance is not currently serving requests\n"
    wait_until(lambda: e[alone].flw("srvr") == not_serving, 30,
               what="the server left alone to stop serving")
    m = e[alone]
    assert m.flw("ruok") == "imok"
    assert m.flw("isro") == "null"
    assert m.flw("envi").startswith("Environment:\nzookeeper.version=")
    assert int(m.flw("gtmk")) >= 0
    for word in ("stat", "mntr", "cons", "conf", "dump", "wchs"):
        assert m.flw(word) == not_serving, word

"""Four-letter words on the client port."""
import re

import pytest


def parse_mntr(text):
    out = {}
    for line in text.splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            out[k] = v
    return out


def test_ruok(shared_server):
    assert shared_server.flw("ruok") == "imok"


def test_srvr(shared_server):
    out = shared_server.flw("srvr")
    assert out.startswith("Zookeeper version: 3.")
    assert "Mode: standalone\n" in out
    assert re.search(r"^Zxid: 0x[0-9a-f]+$", out, re.M)
    assert re.search(r"^Latency min/avg/max: \d+/[\d.]+/\d+$", out, re.M)
    assert re.search(r"^Node count: \d+$", out, re.M)
    assert re.search(r"^Connections: \d+$", out, re.M)


def test_stat_lists_clients(shared_server, zk):
    out = shared_server.flw("stat")
    assert "Clients:\n" in out and "Mode: standalone" in out
    assert re.search(r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+", out, re.M)


def test_mntr(shared_server, zk, root):
    zk.create(root + "/e", b"12345", ephemeral=True)
    zk.get(root + "/e", watch=lambda e: None)
    m = parse_mntr(shared_server.flw("mntr"))
    assert m["zk_server_state"] == "standalone"
    assert m["zk_version"].startswith("3.")
    for key in ("zk_znode_count", "zk_watch_count", "zk_ephemerals_count",
                "zk_approximate_data_size", "zk_num_alive_connections",
                "zk_outstanding_requests", "zk_packets_received",
                "zk_packets_sent", "zk_max_latency", "zk_min_latency",
                "zk_open_file_descriptor_count", "zk_max_file_descriptor_count"):
        assert key in m, key
        int(m[key])
    float(m["zk_avg_latency"])
    assert int(m["zk_znode_count"]) >= 5  # / /zookeeper quota config + ours
    assert int(m["zk_ephemerals_count"]) >= 1
    assert int(m["zk_watch_count"]) >= 1
    assert int(m["zk_approximate_data_size"]) >= 5
    assert int(m["zk_num_alive_connections"]) >= 2  # kazoo + this 4lw


def test_mntr_counts_exact(server, fresh_zk_factory):
    zk = fresh_zk_factory()
    base = parse_mntr(server.flw("mntr"))
    zk.create("/a", b"xyz")
    zk.create("/a/e", b"", ephemeral=True)
    zk.exists("/a", watch=lambda e: None)
    m = parse_mntr(server.flw("mntr"))
    assert int(m["zk_znode_count"]) == int(base["zk_znode_count"]) + 2
    assert int(m["zk_ephemerals_count"]) == 1
    assert int(m["zk_watch_count"]) == 1
    # approximate data size = sum(len(path) + len(data)) over nodes
    assert int(m["zk_approximate_data_size"]) == (
        int(base["zk_approximate_data_size"]) + len("/a") + 3 + len("/a/e"))


def test_conf(shared_server):
    out = shared_server.flw("conf")
    assert "clientPort=%d\n" % shared_server.port in out
    assert "tickTime=2000\n" in out
    assert "minSessionTimeout=4000\n" in out
    assert "maxSessionTimeout=40000\n" in out
    assert "dataDir=" in out and "maxClientCnxns=60\n" in out


def test_cons(shared_server, zk):
    out = shared_server.flw("cons")
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) >= 2
    assert all(l.startswith(" /127.0.0.1:") for l in lines)
    assert any("sid=0x%x" % zk.client_id[0] in l for l in lines)


def test_envi(shared_server):
    out = shared_server.flw("envi")
    assert out.startswith("Environment:\n")
    assert re.search(r"^zookeeper\.version=3\.\d+\.\d+", out, re.M)
    assert "host.name=" in out and "os.name=" in out


def test_wchs(server, fresh_zk_factory):
    assert server.flw("wchs") == "0 connections watching 0 paths\nTotal watches:0\n"
    zk = fresh_zk_factory()
    zk.create("/w1")
    zk.create("/w2")
    zk.exists("/w1", watch=lambda e: None)
    zk.get("/w2", watch=lambda e: None)
    assert server.flw("wchs") == "1 connections watching 2 paths\nTotal watches:2\n"
    # ZooKeeper 3.8's wchs summarises the *data* watch table only (exists and
    # getData watches); child watches are not counted (mntr's
    # zk_watch_count counts both)
    zk.create("/w3")
    zk.get_children("/w2", watch=lambda e: None)
    zk.get_children("/w3", watch=lambda e: None)
    assert server.flw("wchs") == "1 connections watching 2 paths\nTotal watches:2\n"
    assert parse_mntr(server.flw("mntr"))["zk_watch_count"] == "4"


def test_isro(shared_server):
    assert shared_server.flw("isro") == "rw"


def test_whitelist(server_factory):
    s = server_factory(whitelist="srvr")
    assert "Mode: standalone" in s.flw("srvr")
    for word in ("ruok", "mntr", "conf", "envi"):
        assert s.flw(word) == "%s is not executed because it is not in the whitelist.\n" % word


def test_unknown_word_closes(shared_server):
    # four unknown bytes are read as a length prefix (0x78787878 > jute.maxbuffer)
    assert shared_server.flw("xxxx") == ""
    assert shared_server.flw("ruok") == "imok"


# ---- counters and dump, as ZooKeeper 3.8 keeps them -------------------------
# (fixtures: tests/fixtures/four_letter/zk-3.8.0/, capture_sessions.py)

import struct
import time as _time

from rawzk import RawZK


def cons_fields(text, session_id):
    """The key=value fields of the cons line of ``session_id``."""
    for line in text.splitlines():
        if ",sid=0x%x," % session_id in line:
            inner = line.split("](", 1)[1].rstrip(")")
            return dict(f.split("=", 1) for f in inner.split(","))
    raise AssertionError("no cons line for 0x%x in:\n%s" % (session_id, text))


def elapsed_ms():
    # Java's Time.currentElapsedTime() is System.nanoTime() = CLOCK_MONOTONIC,
    # the clock of Python's time.monotonic() on Linux.
    return int(_time.monotonic() * 1000)


def test_cons_counts_connect_writes_reads_and_pings(server):
    a = RawZK(server.port)
    before = int(_time.time() * 1000)
    a.connect(timeout_ms=10000)
    f = cons_fields(server.flw("cons"), a.session_id)
    # createSession is answered like a request: lop=SESS, cxid 0, its zxid.
    assert (f["lop"], f["lcxid"], f["lzxid"]) == ("SESS", "0x0", "0x1")
    assert (f["queued"], f["recved"], f["sent"], f["to"]) == ("0", "1", "1", "10000")
    assert before - 1000 <= int(f["est"]) <= int(_time.time() * 1000) + 1000
    created = a.create("/c", b"x")
    assert created.err == 0
    f = cons_fields(server.flw("cons"), a.session_id)
    assert (f["lop"], f["lcxid"], f["lzxid"]) == ("CREA", "0x1", "0x%x" % created.zxid)
    assert (f["recved"], f["sent"]) == ("2", "2")
    # A write of another session moves the tree on; a read reports the
    # tree's last zxid, as its reply header does.
    b = RawZK(server.port)
    b.connect(timeout_ms=12000)
    assert b.create("/c/e", b"", flags=1).err == 0
    start = elapsed_ms()
    read = a.get_data("/c")
    end = elapsed_ms()
    assert read.err == 0 and read.zxid > created.zxid
    f = cons_fields(server.flw("cons"), a.session_id)
    assert (f["lop"], f["lcxid"], f["lzxid"]) == ("GETD", "0x2", "0x%x" % read.zxid)
    assert (f["recved"], f["sent"]) == ("3", "3")
    assert start - 5 <= int(f["lresp"]) <= end + 5
    a.ping()
    f = cons_fields(server.flw("cons"), a.session_id)
    assert (f["lop"], f["lcxid"], f["recved"], f["sent"]) == ("PING", "0x2", "4", "4")
    assert int(f["llat"]) <= int(f["maxlat"])
    assert int(f["minlat"]) <= int(f["avglat"]) <= int(f["maxlat"])
    # The asking connection: one packet in, interest ops 0, no session.
    assert re.search(r"^ /127\.0\.0\.1:\d+\[0\]\(queued=0,recved=1,sent=0\)$",
                     server.flw("cons"), re.M)
    a.close()
    b.close()


def test_crst_and_reconnect_values(server):
    a = RawZK(server.port)
    a.connect(timeout_ms=10000)
    assert a.create("/r", b"").err == 0
    assert server.flw("crst") == "Connection stats reset.\n"
    f = cons_fields(server.flw("cons"), a.session_id)
    assert "lcxid" not in f
    assert (f["lop"], f["lzxid"], f["lresp"], f["recved"], f["sent"]) == (
        "NA", "0xffffffffffffffff", "0", "0", "0")
    # A reconnect is not answered as a request: Java's field defaults show.
    again = RawZK(server.port)
    again.connect(timeout_ms=10000, session_id=a.session_id, passwd=a.passwd)
    f = cons_fields(server.flw("cons"), a.session_id)
    assert (f["lop"], f["lcxid"], f["lzxid"], f["recved"], f["sent"]) == (
        "null", "0x0", "0x0", "1", "1")
    again.close()


def test_stmk_sets_the_mask_gtmk_reads(server):
    assert server.flw("gtmk") == "306"
    assert server.flw(b"stmk" + struct.pack(">q", 0x1ff)) == "511"
    assert server.flw("gtmk") == "511"
    assert server.flw(b"stmk" + struct.pack(">q", -2)) == "-2"
    assert server.flw("gtmk") == "-2"
    # srst resets statistics, not the trace mask.
    server.flw("srst")
    assert server.flw("gtmk") == "-2"


def test_client_response_sizes(server):
    m = parse_mntr(server.flw("mntr"))
    sizes = lambda m: tuple(int(m["zk_%s_client_response_size" % k])
                            for k in ("last", "min", "max"))
    assert sizes(m) == (-1, -1, -1)
    a = RawZK(server.port)
    a.connect(timeout_ms=10000)
    # The ConnectResponse is not a "client response".
    assert sizes(parse_mntr(server.flw("mntr"))) == (-1, -1, -1)
    assert a.create("/s", b"0123456789").err == 0   # header 16 + path "/s" 4+2
    assert sizes(parse_mntr(server.flw("mntr"))) == (22, 22, 22)
    a.ping()                                        # header only
    assert sizes(parse_mntr(server.flw("mntr"))) == (16, 16, 22)
    assert a.get_data("/s").err == 0                # 16 + 4+10 + stat 68
    assert sizes(parse_mntr(server.flw("mntr"))) == (98, 16, 98)
    server.flw("srst")
    assert sizes(parse_mntr(server.flw("mntr"))) == (-1, -1, -1)
    a.close()


def test_packet_counts_after_srst(server):
    assert server.flw("srst") == "Server stats reset.\n"
    # The srst reply went out after the reset; srvr counts itself in.
    out = server.flw("srvr")
    assert "\nReceived: 1\nSent: 1\n" in out, out
    assert "Latency min/avg/max: 0/0.0/0\n" in out
    a = RawZK(server.port)
    a.connect(timeout_ms=10000)  # one packet each way
    a.ping()                     # one more each way
    out = server.flw("srvr")
    assert "\nReceived: 4\nSent: 4\n" in out, out
    a.close()


def java_long_map_order(ids):
    """ConcurrentHashMap<Long, _> iteration order (16 bins, doubled at 3/4)."""
    bins = 16
    while len(ids) >= bins - bins // 4:
        bins *= 2

    def bin_of(v):
        v &= (1 << 64) - 1
        h = (v ^ (v >> 32)) & 0xffffffff
        return ((h ^ (h >> 16)) & 0x7fffffff) & (bins - 1)
    return sorted(ids, key=lambda v: (bin_of(v), v))


def parse_dump(text):
    sections = {}
    lines = text.splitlines()
    assert lines[0] == "SessionTracker dump:", text
    i = lines.index("ephemeral nodes dump:")
    j = lines.index("Connections dump:")
    sections["sessions"] = lines[1:i]
    sections["ephemerals"] = lines[i + 1:j]
    sections["connections"] = lines[j + 1:]
    return sections


def test_dump_lists_sessions_and_live_ephemerals(server):
    a = RawZK(server.port)
    a.connect(timeout_ms=10000)
    b = RawZK(server.port)
    b.connect(timeout_ms=12000)
    assert a.create("/d", b"").err == 0
    for path in ("/d/e1", "/d/e2"):
        assert a.create(path, b"", flags=1).err == 0
    assert b.create("/d/f1", b"", flags=1).err == 0
    d = parse_dump(server.flw("dump"))
    # Session sets: ExpiryQueue.dump with "Session " in front.
    assert re.match(r"^Session Sets \(\d+\)/\(2\):$", d["sessions"][0]), d
    listed = [l for l in d["sessions"][1:] if l.startswith("\t")]
    assert sorted(listed) == sorted(["\t0x%x" % a.session_id, "\t0x%x" % b.session_id])
    for line in d["sessions"][1:]:
        if not line.startswith("\t"):
            assert re.match(r"^\d+ expire at \w{3} \w{3} \d\d \d\d:\d\d:\d\d \w+ \d{4}:$", line), line
    # Ephemerals: sessions in the map's hash order, paths tab-indented.
    e = d["ephemerals"]
    assert e[0] == "Sessions with Ephemerals (2):"
    heads = [l for l in e[1:] if not l.startswith("\t")]
    assert heads == ["0x%x:" % s for s in java_long_map_order([a.session_id, b.session_id])]
    paths = {}
    for line in e[1:]:
        if line.startswith("\t"):
            paths[current].add(line[1:])
        else:
            current = line
            paths[current] = set()
    assert paths == {"0x%x:" % a.session_id: {"/d/e1", "/d/e2"},
                     "0x%x:" % b.session_id: {"/d/f1"}}
    # Connections: both sessions' sockets and the asking one (0x0).
    c = d["connections"]
    assert re.match(r"^Connections Sets \(\d+\)/\(3\):$", c[0]), c
    members = [l for l in c[1:] if l.startswith("\t")]
    assert sorted(l.split("sessionId: ")[1] for l in members) == sorted(
        ["0x0", "0x%x" % a.session_id, "0x%x" % b.session_id])
    assert all(re.match(r"^\tip: /127\.0\.0\.1:\d+ sessionId: 0x[0-9a-f]+$", l) for l in members)
    a.close()
    b.close()


def test_version_line_carries_the_build_date(shared_server):
    version = re.match(r"^Zookeeper version: (.*)$", shared_server.flw("srvr"), re.M).group(1)
    assert re.match(r"^3\.8\.0-.*, built on \d{4}-\d\d-\d\d \d\d:\d\d UTC$", version), version
    assert "Zookeeper version: %s\n" % version in shared_server.flw("stat")
    assert "zookeeper.version=%s\n" % version in shared_server.flw("envi")
    assert parse_mntr(shared_server.flw("mntr"))["zk_version"] == version

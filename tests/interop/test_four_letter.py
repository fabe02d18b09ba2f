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

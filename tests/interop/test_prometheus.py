"""Prometheus metrics (``metricsProvider.className=...PrometheusMetricsProvider``,
``http://host:metricsProvider.httpPort/metrics``), parsed with the Prometheus
Python client's own parser.

paddock only: Debian's ZooKeeper 3.8.0 does not ship the Prometheus provider's
jars.  Needs the ``prometheus-client`` Python package.
"""
import urllib.error
import urllib.request

import pytest
from kazoo.client import KazooClient

from prometheus_client import parser  # a missing package is a collection error, not a skip

from conftest import free_port, is_zookeeper, wait_until

pytestmark = pytest.mark.skipif(
    is_zookeeper(), reason="Debian's ZooKeeper has no Prometheus provider jars")

PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def value(families, name, suffix="", labels=None):
    for sample in families[name].samples:
        if sample.name == name + suffix and (labels is None or sample.labels == labels):
            return sample.value
    raise KeyError(name + suffix)


@pytest.fixture
def metrics_server(server_factory):
    port = free_port()
    server = server_factory(extra_cfg={
        "metricsProvider.className": PROVIDER,
        "metricsProvider.httpHost": "127.0.0.1",
        "metricsProvider.httpPort": str(port),
    })

    def up():
        try:
            scrape(port)
            return True
        except OSError:
            return False
    wait_until(up, timeout=30, what="/metrics on %d" % port)
    server.metrics_port = port
    return server


def test_zookeeper_names_and_types(metrics_server):
    zk = KazooClient(hosts=metrics_server.hosts, timeout=10)
    zk.start(timeout=20)
    try:
        zk.create("/m", b"12345")
        zk.create("/m/e", b"x", ephemeral=True)
        zk.get("/m", watch=lambda e: None)
        families = scrape(metrics_server.metrics_port)
    finally:
        zk.stop()
        zk.close()
    for name in ["znode_count", "watch_count", "ephemerals_count",
                 "num_alive_connections", "outstanding_requests",
                 "packets_received", "packets_sent", "approximate_data_size",
                 "global_sessions", "avg_latency", "max_latency", "min_latency",
                 "uptime", "open_file_descriptor_count", "max_file_descriptor_count"]:
        assert families[name].type == "gauge", name
    assert families["fsynctime"].type == "summary"
    assert value(families, "fsynctime", "_count") >= 2  # two creates, fsync'd
    assert value(families, "ephemerals_count") == 1
    assert value(families, "watch_count") >= 1
    assert value(families, "num_alive_connections") >= 1
    assert value(families, "global_sessions") >= 1
    assert value(families, "znode_count") >= 3
    # Nothing paddock cannot compute is printed.
    for absent in ["outstanding_tls_handshake", "connection_drop_probability",
                   "local_sessions"]:
        assert absent not in families


def test_paddock_own_metrics(metrics_server):
    zk = KazooClient(hosts=metrics_server.hosts, timeout=10)
    zk.start(timeout=20)
    try:
        for i in range(5):
            zk.create("/own-%d" % i, b"v")
        families = scrape(metrics_server.metrics_port)
    finally:
        zk.stop()
        zk.close()
    batches = families["paddock_group_commit_batch_txns"]
    assert batches.type == "histogram"
    # Five creates plus the session's create: at least six txns in all.
    assert value(families, "paddock_group_commit_batch_txns", "_sum") >= 6
    assert value(families, "paddock_group_commit_batch_txns", "_bucket", {"le": "+Inf"}) \
        == value(families, "paddock_group_commit_batch_txns", "_count")
    flush = families["paddock_log_flush_seconds"]
    assert flush.type == "histogram"
    assert value(families, "paddock_log_flush_seconds", "_count") >= 1
    cpu = families["paddock_shard_cpu_seconds"]
    assert cpu.type == "counter"
    shards = {s.labels["shard"] for s in cpu.samples}
    assert "0" in shards
    lag = families["paddock_shard_commit_lag_batches"]
    assert lag.type == "gauge"
    assert {s.labels["shard"] for s in lag.samples} == shards
    assert all(s.value >= 0 for s in lag.samples)
    requests = families["paddock_shard_requests"]
    assert requests.type == "counter"
    assert {s.labels["shard"] for s in requests.samples} == shards
    # The five creates (and the kazoo session's other requests) were taken
    # in by one shard or another.
    assert sum(s.value for s in requests.samples if s.name.endswith("_total")) >= 5


def test_other_paths_are_not_found(metrics_server):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % metrics_server.metrics_port,
                               timeout=10)
    assert e.value.code == 404

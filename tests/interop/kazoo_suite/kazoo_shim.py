"""A pytest plugin that runs kazoo's own test suite (kazoo/tests, shipped in
the kazoo wheel and sdist) against a 3-server ensemble made by
tests/interop/ensemble.py instead of the ZooKeeper cluster kazoo's harness
starts itself: kazoo.testing.harness.get_global_cluster is replaced by one
that hands out an ensemble of PADDOCK_SERVER's kind (paddock or zookeeper).

What kazoo's own harness (kazoo/testing/harness.py, common.py) configures
is configured here as far as the server kind accepts it:
tickTime=2000, initLimit=4, syncLimit=2 (kazoo's); superDigest
super:test; the SASL provider; a JAAS Server section when a test sets
ZOOKEEPER_JAAS_AUTH=digest; for ZooKeeper also reconfigEnabled=true,
-Dreadonlymode.enabled=true and localSessions* as ZOOKEEPER_LOCAL_SESSION_RO
says. paddock refuses reconfigEnabled=true and localSessionsEnabled=true,
so those lines are left out for it (tests of reconfig and read-only mode
then fail there). No TLS port (kazoo's SSL test fails on both kinds).

Like kazoo's harness: a cluster lives until a test class's tearDownClass
terminates it (the next class gets a fresh one), a configuration change
(the env vars above) makes a new one, server.stop() is SIGTERM and run()
starts the server again without waiting.

Use: tests/interop/kazoo_suite/run.sh (PYTHONPATH has this directory and
tests/interop; pytest -p kazoo_shim --pyargs kazoo.tests).
"""
import os
import sys
import types

import pytest

# kazoo.testing.common imports pyOpenSSL and pyjks at the top, for the TLS
# port of its own cluster; nothing here uses them.
for _name in ("OpenSSL", "jks"):
    if _name not in sys.modules:
        try:
            __import__(_name)
        except ImportError:
            sys.modules[_name] = types.ModuleType(_name)

import kazoo.testing.harness as harness  # noqa: E402

import ensemble  # noqa: E402  (tests/interop/ensemble.py)

SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # super:test, as kazoo's harness
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
JAAS_DIGEST = """
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password";
};
"""
KIND = ensemble.default_kind()


class ShimServer:
    """kazoo.testing.common.ManagedZooKeeper's interface over a Member."""

    def __init__(self, member):
        self.m = member
        self.host = member.host

    @property
    def address(self):
        return self.m.hosts

    @property
    def secure_address(self):
        return "%s:%d" % (self.m.host, self.m.port + 1)  # nothing listens there

    @property
    def client_port(self):
        return self.m.port

    @property
    def running(self):
        return self.m.alive()

    def run(self):
        if not self.m.alive():
            self.m.start()

    def stop(self):
        self.m.stop()

    def destroy(self):
        self.m.kill9()

    def reset(self):
        self.m.stop()

    def get_logs(self, num_lines=100):
        return [l + "\n" for l in self.m.log_text().splitlines()[-num_lines:]]


class ShimCluster:
    def __init__(self, conf):
        self.conf = conf
        self.ens = None
        self.made = 0

    def _config(self):
        ro = self.conf.get("ZOOKEEPER_LOCAL_SESSION_RO") or "false"
        extra = {
            "DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
            "authProvider.1": SASL_PROVIDER,
        }
        jvm = ["-Dfile.encoding=UTF-8"]
        if KIND == "zookeeper":
            extra.update({"reconfigEnabled": "true", "localSessionsEnabled": ro,
                          "localSessionsUpgradingEnabled": ro})
            jvm.append("-Dreadonlymode.enabled=true")
        return extra, jvm

    def _ensure(self):
        if self.ens is None:
            self.made += 1
            extra, jvm = self._config()
            self.ens = ensemble.Ensemble(n=3, tick_time=2000, init_limit=4, sync_limit=2,
                                         extra_cfg=extra, name="kazoo%d" % self.made)
            if self.conf.get("ZOOKEEPER_JAAS_AUTH") == "digest":
                path = os.path.join(self.ens.dir, "jaas.conf")
                with open(path, "w") as f:
                    f.write(JAAS_DIGEST)
                if KIND == "zookeeper":
                    jvm.append("-Djava.security.auth.login.config=%s" % path)
                else:
                    self.ens.extra_cfg["java.security.auth.login.config"] = path
            os.environ["ENSEMBLE_JVM_FLAGS"] = " ".join(jvm)  # read at each ZooKeeper start
        return self.ens

    def __getitem__(self, k):
        return ShimServer(self._ensure().all()[k])

    def __iter__(self):
        return iter([ShimServer(m) for m in self._ensure().all()])

    def start(self):
        e = self._ensure()
        for m in reversed(e.all()):
            if not m.alive():
                m.start()
        e.wait_for_leader(timeout=90)

    def stop(self):
        if self.ens:
            for m in self.ens.all():
                m.stop()

    def terminate(self):
        if self.ens:
            self.ens.cleanup(keep=os.environ.get("ENSEMBLE_KEEP") == "1")
            self.ens = None

    def reset(self):
        self.terminate()

    def get_logs(self):
        out = []
        for s in self:
            out += s.get_logs()
        return out

    def get_ssl_client_configuration(self):
        raise RuntimeError("no TLS port in this ensemble (paddock has none; kept off for ZooKeeper too)")


_CLUSTER = [None, None]


def get_global_cluster():
    keys = ["ZOOKEEPER_LOCAL_SESSION_RO", "ZOOKEEPER_JAAS_AUTH"]
    conf = {k: os.environ.get(k) for k in keys}
    if _CLUSTER[0] is not None and _CLUSTER[1] != conf:
        _CLUSTER[0].terminate()
        _CLUSTER[0] = None
    if _CLUSTER[0] is None:
        _CLUSTER[0], _CLUSTER[1] = ShimCluster(conf), conf
    return _CLUSTER[0]


harness.get_global_cluster = get_global_cluster


def pytest_unconfigure(config):
    if _CLUSTER[0] is not None:
        _CLUSTER[0].terminate()


# kazoo's tests that fail against this harness for a known reason, marked
# strict xfail (a pass is reported as a failure, so the list cannot go stale).
# Each also names the failure it expects: a known-failing test that fails
# some other way (a crash, a timeout, a wrong answer) is a real failure,
# not the known one (see pytest_runtest_makereport below).
TLS = "no TLS port: paddock refuses TLS, and the shim starts ZooKeeper without one too"
RECONFIG = "dynamic reconfiguration is refused (reconfigEnabled=true), as the README says"
READ_ONLY = ("read-only mode is not implemented: ZooKeeper 3.8's read-only server needs "
             "local sessions (localSessionsEnabled), which paddock refuses")


def _tls_refused(excinfo):
    # setUp asks the cluster for the TLS port's certificates: the shim has none
    return excinfo.errisinstance(RuntimeError) and "no TLS port" in str(excinfo.value)


def _reconfig_disabled(excinfo):
    # paddock answers every reconfig with ZRECONFIGDISABLED (-123)
    from kazoo.exceptions import ReconfigDisabledError
    return excinfo.errisinstance(ReconfigDisabledError)


def _never_read_only(excinfo):
    # Once two of the three servers are stopped (the test has made its
    # zk_stop_threads), the one left serves nobody (no quorum, no read-only
    # mode): the read-only client's start() times out ("Connection
    # time-out"), or, had it connected, it is not CONNECTED_RO (the test's
    # `assert ev.is_set()`). Anything before that point, or any other
    # error, is not this failure.
    frames = [e for e in excinfo.traceback if e.name == "test_read_only"]
    if not frames or "zk_stop_threads" not in frames[-1].frame.f_locals:
        return False
    from kazoo.handlers.threading import KazooTimeoutError
    statement = str(frames[-1].statement).strip()
    if excinfo.errisinstance(KazooTimeoutError):
        return statement == "client.start()" and "Connection time-out" in str(excinfo.value)
    return excinfo.errisinstance(AssertionError) and statement == "assert ev.is_set()"


KNOWN_FAILURES = {
    "test_client.py::TestSSLClient::test_create": (TLS, _tls_refused, ("paddock", "zookeeper")),
    "test_client.py::TestReconfig::test_add_remove_observer": (RECONFIG, _reconfig_disabled,
                                                               ("paddock",)),
    "test_client.py::TestReconfig::test_bad_input": (RECONFIG, _reconfig_disabled, ("paddock",)),
    "test_client.py::TestReconfig::test_no_super_auth": (RECONFIG, _reconfig_disabled,
                                                         ("paddock",)),
    "test_connection.py::TestReadOnlyMode::test_read_only": (READ_ONLY, _never_read_only,
                                                             ("paddock",)),
}

# The only skips allowed, with the exact reason each must give; any other
# skip (a handler whose import broke: kazoo's gevent and eventlet tests skip
# "gevent not available." / "eventlet handler not available."; PureSASL
# missing; ...) fails the run. PADDOCK_NO_SKIP=0 allows every skip.
EXPECTED_SKIPS = {
    # kazoo's own CI check of the server version it built; run.sh clears CI
    "test_build.py::TestBuildEnvironment::test_zookeeper_version":
        "Only run build config tests on CI.",
    # Kerberos needs a KDC (and the kerberos module) kazoo's CI sets up
    "test_sasl.py::TestSASLGSSAPIAuthentication::test_connect_gssapi_auth":
        "Kerberos support not available.",
    "test_sasl.py::TestSASLGSSAPIAuthentication::test_invalid_gssapi_auth":
        "Kerberos support not available.",
}


def _lookup(table, nodeid):
    for test, entry in table.items():
        if nodeid == test or nodeid.endswith("/" + test):
            return entry
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        known = _lookup(KNOWN_FAILURES, item.nodeid)
        if known is not None and KIND in known[2]:
            item.add_marker(pytest.mark.xfail(reason=known[0], strict=True))


def _skip_reason(report):
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return longrepr[2].replace("Skipped: ", "", 1)
    return str(longrepr)


def _skips_allowed():
    return os.environ.get("PADDOCK_NO_SKIP") == "0"


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Runs around pytest's own xfail/skip handling (tryfirst: the outer
    wrapper), so it sees the final report: an expected failure whose error
    is not the known one, and a skip not in EXPECTED_SKIPS, become failures."""
    outcome = yield
    report = outcome.get_result()
    if getattr(report, "wasxfail", None) is not None and call.excinfo is not None:
        known = _lookup(KNOWN_FAILURES, item.nodeid)
        if known is not None and not known[1](call.excinfo):
            report.outcome = "failed"
            del report.wasxfail
            report.longrepr = (
                "a known failure (%s) failed, but not in the known way; the error:\n%s"
                % (known[0], item.repr_failure(call.excinfo)))
        return
    if report.skipped and not _skips_allowed():
        reason = _skip_reason(report)
        if _lookup(EXPECTED_SKIPS, item.nodeid) != reason:
            report.outcome = "failed"
            report.longrepr = ("unexpected skip (only kazoo_shim.EXPECTED_SKIPS may skip, "
                               "each for its own reason; PADDOCK_NO_SKIP=0 allows all): %s"
                               % reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A skip at collection (a whole module) is not in EXPECTED_SKIPS either."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not _skips_allowed():
        report.outcome = "failed"
        report.longrepr = "%s skipped at collection: %s" % (collector.nodeid, report.longrepr)

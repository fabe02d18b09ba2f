"""Authentication that is enforced, not just parsed: ``enforce.auth.enabled`` +
``enforce.auth.schemes``, ``sessionRequireClientSASLAuth``, ``superUser`` and
the ``zk_auth_failed_count`` counter.

What Apache ZooKeeper 3.8.0 does (``AuthenticationHelper``,
``ZooKeeperServer.processPacket``/``processSasl``), recorded against Debian's
server and asserted here for both servers:

* The connect handshake succeeds and creates the session.
* Any later request but ``auth`` (100) and ``sasl`` (102) from a connection
  with no id of an enforced scheme gets one reply ``{xid, zxid 0, err -124
  SessionClosedRequireSaslAuth}`` and the connection is closed; nothing is
  created. Pings, closeSession, setWatches, whoAmI are refused the same way.
  The session is not closed: a reconnect with its id is accepted.
* Every connection has an ``ip`` id, so ``ip`` in the list admits everyone.
* ``sessionRequireClientSASLAuth=true`` makes the list exactly ``[sasl]``
  (digest does not do). A failed SASL exchange then answers -124.
* The server does not start when enforcement is on with no schemes, an
  unknown scheme, or ``sasl`` without the SASL ``authProvider``.
* ``zk_auth_failed_count`` counts only TLS handshake / x509 failures (Netty);
  failed addauth, failed SASL and enforcement refusals leave it at 0.

Every wait has a deadline.
"""
import os
import threading

import pytest
from kazoo.client import KazooState
from kazoo.exceptions import AuthFailedError, NoAuthError, SessionClosedRequireSaslError
from kazoo.retry import KazooRetry
from kazoo.security import make_acl, make_digest_acl

import opshelp
import rawzk
from conftest import four_letter, is_zookeeper
from rawzk import RawZK, Reader, Writer

OP_TIMEOUT = 10.0
SESSION_CLOSED_REQUIRE_SASL_AUTH = -124
AUTH_FAILED = -115
AUTH_OP, SASL_OP, SET_WATCHES = 100, 102, 101

JAAS = """Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_bob="bobsecret"
       user_carol="carolsecret";
};
"""
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
ENFORCE_DIGEST = {"enforce.auth.enabled": "true", "enforce.auth.schemes": "digest"}


@pytest.fixture
def clients():
    made = []

    def make(server, start=True, **kw):
        kw.setdefault("connection_retry", {"max_tries": -1, "delay": 0.1,
                                           "max_delay": 1, "deadline": 30})
        c = opshelp_kazoo(server, **kw)
        made.append(c)
        if start:
            c.start(timeout=15)
        return c

    yield make
    for c in made:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001
            pass


def opshelp_kazoo(server, **kw):
    from kazoo.client import KazooClient
    return KazooClient(hosts=server.hosts, timeout=10.0, **kw)


def call(async_result, timeout=OP_TIMEOUT):
    return async_result.get(timeout=timeout)


def sasl_server(servers, extra):
    """A server with the SASL provider and a JAAS file (bob, carol), given to
    both servers the way zkServer.sh does: -D in SERVER_JVMFLAGS."""
    cfg = {"authProvider.1": SASL_PROVIDER}
    cfg.update(extra)
    s = servers(start=False, extra_cfg=cfg)
    jaas = os.path.join(s.dir, "jaas.conf")
    with open(jaas, "w") as f:
        f.write(JAAS)
    s.env["SERVER_JVMFLAGS"] = "-Djava.security.auth.login.config=%s" % jaas
    s.start()
    return s


def sasl(user, password):
    return {"mechanism": "DIGEST-MD5", "username": user, "password": password}


def raw_connected(server):
    z = RawZK(server.port)
    z.connect()
    return z


def addauth(z, scheme, auth):
    body = Writer().int(0).string(scheme).buffer(auth.encode()).bytes()
    return z.request(AUTH_OP, body, xid=-4)


def create_body(path):
    return (Writer().string(path).buffer(b"x").acls(rawzk.OPEN_ACL_UNSAFE)
            .int(0).bytes())


def assert_refused(z, op, body=b"", xid=None):
    """One reply {xid, zxid 0, -124}, then the server closes the connection."""
    xid = z.next_xid() if xid is None else xid
    rep = z.request(op, body, xid=xid)
    assert (rep.xid, rep.zxid, rep.err) == (xid, 0, SESSION_CLOSED_REQUIRE_SASL_AUTH), rep
    assert z.is_closed_by_server(5), "connection not closed after -124"


def mntr_value(server, key):
    for line in server.flw("mntr").splitlines():
        name, _, value = line.partition("\t")
        if name == key:
            return value
    raise AssertionError("%s not in mntr" % key)


def refuses_to_start(servers, extra, expected_text):
    s = servers(start=False, extra_cfg=extra)
    with pytest.raises(RuntimeError, match="server exited"):
        s.start(timeout=30)
    log = s.log_text()
    assert expected_text in log, log[-3000:]
    return log


# --------------------------------------------------------------------------
# enforce.auth.enabled + enforce.auth.schemes
# --------------------------------------------------------------------------

def test_enforce_auth_digest(servers, clients):
    s = servers(extra_cfg=ENFORCE_DIGEST)

    # Raw frames: the handshake succeeds, the create is refused with -124 and
    # zxid 0, and the server closes the connection.
    z = raw_connected(s)
    assert z.session_id != 0 and z.negotiated_timeout > 0
    assert_refused(z, rawzk.CREATE, create_body("/enforce-raw"))
    refused_session, refused_passwd = z.session_id, z.passwd
    z.close()

    # kazoo sees SessionClosedRequireSaslError for its create.
    anon = clients(s)
    with pytest.raises(SessionClosedRequireSaslError):
        call(anon.create_async("/enforce-kazoo", b"x"))

    # A digest-authenticated client is served, and sees that nothing else
    # was created.
    alice = clients(s, auth_data=[("digest", "alice:pw")])
    call(alice.create_async("/enforce-ok", b"ok"))
    assert call(alice.get_async("/enforce-ok"))[0] == b"ok"
    assert call(alice.exists_async("/enforce-raw")) is None
    assert call(alice.exists_async("/enforce-kazoo")) is None

    # Raw again: addauth digest first, then the same create is served.
    z = raw_connected(s)
    rep = addauth(z, "digest", "bob:pw")
    assert (rep.xid, rep.err) == (-4, 0)
    rep = z.create("/enforce-raw-authed")
    assert rep.err == 0 and rep.path == "/enforce-raw-authed"
    z.close()

    # The refused session was not closed: a reconnect with its id is
    # accepted (an expired session would answer timeOut 0).
    again = RawZK(s.port)
    info = again.connect(session_id=refused_session, passwd=refused_passwd)
    assert info["sessionId"] == refused_session and info["timeOut"] > 0
    again.close()


@pytest.mark.parametrize("op,body", [
    (rawzk.GETDATA, Writer().string("/").bool(False).bytes()),
    (rawzk.EXISTS, Writer().string("/").bool(False).bytes()),
    (rawzk.GETCHILDREN, Writer().string("/").bool(False).bytes()),
    (rawzk.SYNC, Writer().string("/").bytes()),
    (rawzk.WHOAMI, b""),
    (rawzk.CLOSE, b""),
    (SET_WATCHES, Writer().long(0).int(0).int(0).int(0).bytes()),
    (9999, b""),
    (rawzk.GETDATA, b"\x00\x00"),
], ids=["getData", "exists", "getChildren", "sync", "whoAmI", "closeSession",
        "setWatches", "unknownOp", "undecodableBody"])
def test_enforce_auth_refuses_every_request(servers, op, body):
    s = servers(extra_cfg=ENFORCE_DIGEST)
    z = raw_connected(s)
    assert_refused(z, op, body)
    z.close()


def test_enforce_auth_refuses_ping(servers):
    s = servers(extra_cfg=ENFORCE_DIGEST)
    z = raw_connected(s)
    assert_refused(z, rawzk.PING, xid=rawzk.PING_XID)
    z.close()


def test_enforce_auth_unknown_scheme_addauth_closes(servers):
    s = servers(extra_cfg=ENFORCE_DIGEST)
    z = raw_connected(s)
    rep = addauth(z, "nosuchscheme", "x")
    assert (rep.xid, rep.zxid, rep.err) == (-4, 0, AUTH_FAILED)
    assert z.is_closed_by_server(5)
    z.close()


def test_enforce_auth_ip_scheme_admits_everyone(servers, clients):
    # Java trims each scheme: "digest, ip" is [digest, ip]; every connection
    # carries an ip id.
    s = servers(extra_cfg={"enforce.auth.enabled": "true",
                           "enforce.auth.schemes": "digest, ip"})
    anon = clients(s)
    call(anon.create_async("/ip-ok", b"x"))
    assert call(anon.exists_async("/ip-ok")) is not None


def test_enforce_auth_disabled_does_not_check_schemes(servers, clients):
    s = servers(extra_cfg={"enforce.auth.enabled": "false",
                           "enforce.auth.schemes": "nosuchscheme"})
    anon = clients(s)
    call(anon.create_async("/off-ok", b"x"))
    assert call(anon.exists_async("/off-ok")) is not None


@pytest.mark.parametrize("extra,expected", [
    ({"enforce.auth.enabled": "true", "enforce.auth.schemes": "nosuchscheme"},
     "Authentication scheme nosuchscheme is not available"),
    ({"enforce.auth.enabled": "true"}, "enforce.auth.schemes must be"),
    ({"enforce.auth.enabled": "true", "enforce.auth.schemes": "sasl"},
     "Authentication scheme sasl is not available"),
    ({"sessionRequireClientSASLAuth": "true"},
     "Authentication scheme sasl is not available"),
], ids=["unknown-scheme", "no-schemes", "sasl-without-provider",
        "require-sasl-without-provider"])
def test_enforce_auth_bad_settings_refuse_to_start(servers, extra, expected):
    log = refuses_to_start(servers, extra, expected)
    if not is_zookeeper():
        key = ("sessionRequireClientSASLAuth" if "sessionRequireClientSASLAuth" in extra
               else "enforce.auth.schemes")
        assert "key '%s'" % key in log, log[-3000:]


# --------------------------------------------------------------------------
# sessionRequireClientSASLAuth
# --------------------------------------------------------------------------

def test_session_require_client_sasl_auth(servers, clients):
    s = sasl_server(servers, {"sessionRequireClientSASLAuth": "true"})

    # No auth at all: -124 and a closed connection.
    z = raw_connected(s)
    assert_refused(z, rawzk.CREATE, create_body("/sasl-raw"))
    z.close()

    # digest is not sasl: addauth succeeds, the create is still refused.
    z = raw_connected(s)
    assert addauth(z, "digest", "alice:pw").err == 0
    assert_refused(z, rawzk.CREATE, create_body("/sasl-digest"))
    z.close()

    anon = clients(s, auth_data=[("digest", "alice:pw")])
    with pytest.raises(SessionClosedRequireSaslError):
        call(anon.create_async("/sasl-kazoo", b"x"))

    # SASL-authenticated: served; nothing else was created.
    bob = clients(s, sasl_options=sasl("bob", "bobsecret"))
    call(bob.create_async("/sasl-ok", b"ok"))
    assert call(bob.get_async("/sasl-ok"))[0] == b"ok"
    for path in ("/sasl-raw", "/sasl-digest", "/sasl-kazoo"):
        assert call(bob.exists_async(path)) is None, path


def test_session_require_client_sasl_auth_overrides_enforced_schemes(servers, clients):
    # sessionRequireClientSASLAuth replaces enforce.auth.schemes=digest by [sasl].
    extra = dict(ENFORCE_DIGEST)
    extra["sessionRequireClientSASLAuth"] = "true"
    s = sasl_server(servers, extra)
    z = raw_connected(s)
    assert addauth(z, "digest", "alice:pw").err == 0
    assert_refused(z, rawzk.CREATE, create_body("/override-digest"))
    z.close()
    bob = clients(s, sasl_options=sasl("bob", "bobsecret"))
    call(bob.create_async("/override-sasl", b"x"))
    assert call(bob.exists_async("/override-digest")) is None


def test_enforce_auth_digest_or_sasl(servers, clients):
    # Either scheme of the list admits.
    s = sasl_server(servers, {"enforce.auth.enabled": "true",
                              "enforce.auth.schemes": "digest,sasl"})
    alice = clients(s, auth_data=[("digest", "alice:pw")])
    call(alice.create_async("/either-digest", b"x"))
    bob = clients(s, sasl_options=sasl("bob", "bobsecret"))
    call(bob.create_async("/either-sasl", b"x"))
    z = raw_connected(s)
    assert_refused(z, rawzk.CREATE, create_body("/either-none"))
    z.close()
    assert call(bob.exists_async("/either-none")) is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_session_require_client_sasl_auth_bad_password_is_lost(servers, clients):
    s = sasl_server(servers, {"sessionRequireClientSASLAuth": "true"})
    bad = clients(s, start=False, sasl_options=sasl("bob", "wrong"),
                  connection_retry=KazooRetry(max_tries=0))
    lost = threading.Event()
    states = []

    def listener(state):
        states.append(state)
        if state == KazooState.LOST:
            lost.set()
    bad.add_listener(listener)
    try:
        bad.start(timeout=10)
    except AuthFailedError:  # surfacing from start is fine
        pass
    assert lost.wait(10), "bad SASL password not rejected: states %s" % states
    bob = clients(s, sasl_options=sasl("bob", "bobsecret"))
    assert call(bob.get_children_async("/")) is not None


# --------------------------------------------------------------------------
# zookeeper.superUser
# --------------------------------------------------------------------------

def test_super_user_sasl(servers, clients):
    s = sasl_server(servers, {"superUser": "bob"})
    alice = clients(s, auth_data=[("digest", "alice:pw")])
    call(alice.create_async("/private", b"mine",
                            acl=[make_digest_acl("alice", "pw", all=True)]))
    call(alice.create_async("/private/child", b"c",
                            acl=[make_digest_acl("alice", "pw", all=True)]))
    # carol is an ordinary SASL user: the ACL holds.
    carol = clients(s, sasl_options=sasl("carol", "carolsecret"))
    with pytest.raises(NoAuthError):
        call(carol.get_async("/private"))
    # bob is zookeeper.superUser: every ACL is bypassed.
    bob = clients(s, sasl_options=sasl("bob", "bobsecret"))
    assert call(bob.get_async("/private"))[0] == b"mine"
    call(bob.set_async("/private", b"by-bob"))
    call(bob.delete_async("/private/child"))
    assert call(alice.get_async("/private"))[0] == b"by-bob"
    call(bob.set_acls_async("/private", [make_acl("sasl", "carol", all=True)]))
    assert call(carol.get_async("/private"))[0] == b"by-bob"


# --------------------------------------------------------------------------
# zk_auth_failed_count
# --------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_auth_failed_count(servers, clients):
    """paddock counts failed authentications in zk_auth_failed_count: the
    addauth with an unknown scheme and the bad SASL password (2); an
    enforcement refusal is not an authentication. ZooKeeper 3.8 increments
    it only in NettyServerCnxnFactory (TLS handshake / x509 failures) and
    leaves it at 0 here: a deliberate difference (see four_letter.rs)."""
    s = sasl_server(servers, {"enforce.auth.enabled": "true",
                              "enforce.auth.schemes": "digest,sasl"})
    assert mntr_value(s, "zk_auth_failed_count") == "0"

    z = raw_connected(s)  # unknown scheme: AuthFailed and a close
    assert addauth(z, "nosuchscheme", "x").err == AUTH_FAILED
    assert z.is_closed_by_server(5)
    z.close()

    z = raw_connected(s)  # enforcement refusal
    assert_refused(z, rawzk.GETDATA, Writer().string("/").bool(False).bytes())
    z.close()

    bad = clients(s, start=False, sasl_options=sasl("bob", "wrong"),
                  connection_retry=KazooRetry(max_tries=0))
    lost = threading.Event()
    bad.add_listener(lambda st: lost.set() if st == KazooState.LOST else None)
    try:
        bad.start(timeout=10)
    except AuthFailedError:  # surfacing from start is fine
        pass
    assert lost.wait(10), "bad SASL password not rejected"

    # The server saw all three (a served client proves it is up and counting).
    bob = clients(s, sasl_options=sasl("bob", "bobsecret"))
    assert call(bob.exists_async("/")) is not None
    expected = "0" if is_zookeeper() else "2"
    assert mntr_value(s, "zk_auth_failed_count") == expected
    if not is_zookeeper():
        four_letter(s.port, "srst")
        assert mntr_value(s, "zk_auth_failed_count") == "0", "srst resets it"


def raw_sasl(z, user, password):
    """DIGEST-MD5 over raw frames (pure-sasl on the client side); returns the
    last SASL reply."""
    from puresasl.client import SASLClient
    client = SASLClient("zk-sasl-md5", "zookeeper", mechanism="DIGEST-MD5",
                        username=user, password=password)
    rep = z.request(SASL_OP, Writer().buffer(b"").bytes())
    assert (rep.zxid, rep.err) == (0, 0), rep
    response = client.process(Reader(rep.body).buffer())
    return z.request(SASL_OP, Writer().buffer(response).bytes())


def whoami(z):
    rep = z.request(rawzk.WHOAMI)
    assert rep.err == 0, rep
    r = Reader(rep.body)
    return sorted((r.string(), r.string()) for _ in range(r.int()))


def test_super_user_whoami(servers):
    """ZooKeeper gives the superUser's connection the id super:"" next to
    sasl:bob; an ordinary SASL user gets sasl:<name> only."""
    s = sasl_server(servers, {"superUser": "bob"})
    for user, password, expected in [
            ("bob", "bobsecret", [("sasl", "bob"), ("super", "")]),
            ("carol", "carolsecret", [("sasl", "carol")])]:
        z = raw_connected(s)
        rep = raw_sasl(z, user, password)
        assert (rep.zxid, rep.err) == (0, 0), rep
        ids = whoami(z)
        assert [i for i in ids if i[0] != "ip"] == expected, ids
        z.close()


def test_sasl_failure_reply_when_sasl_enforced(servers):
    """A bad DIGEST-MD5 response under sessionRequireClientSASLAuth: the
    SASL reply carries -124 (not AuthFailed) and a null token, then a close."""
    s = sasl_server(servers, {"sessionRequireClientSASLAuth": "true"})
    z = raw_connected(s)
    rep = raw_sasl(z, "bob", "wrong")
    assert (rep.zxid, rep.err) == (0, SESSION_CLOSED_REQUIRE_SASL_AUTH), rep
    assert rep.body == b"\xff\xff\xff\xff"  # SetSASLResponse(token = null)
    assert z.is_closed_by_server(5)
    z.close()

// Apache Curator (Debian's libcurator-*-java 5.4, over the Java ZooKeeper
// client 3.8) against a 3-server ensemble while servers are killed and
// restarted: used by tests/interop/test_ensemble_clients.py.
//
// Usage: java -cp ... CuratorEnsemble ROOT SCENARIO PLACEMENT H0 H1 H2
//   H0..H2: host:port of the three servers; client i of a scenario lists all
//   three, starting with H(i mod 3).
//   PLACEMENT: "ordered" - the client tries its servers in that order
//   (OrderedHosts below, so the test knows where each client lands), or
//   "shuffled" - the Java client's own StaticHostProvider (shuffles).
//
// The harness protocol (stdout/stdin): the program prints "STEP ..." as it
// goes; where it needs the test to act on the servers it prints
//   ASK <verb> k=v ...
// and blocks until the test answers one line "OK k=v ..." (or "ERR text",
// which fails the scenario). Verbs: kill (session=0x..: the test kill -9s
// the server the scenario's parameter names and answers killed=<id>),
// where (session=0x..: answers server=<id> of the server holding it),
// restart (the killed server is started again and checked to have caught
// up), check (session=0x.. paths=a,b: each ephemeral exists, owned by the
// session, on every live server asked alone), gone (paths=a,b: on no server).
// At the end: "PASS SCENARIO", or "FAIL ..." with a stack trace (exit 1).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCacheEvent;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.retry.RetryUntilElapsed;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.HostProvider;
import org.apache.zookeeper.data.Stat;

public class CuratorEnsemble {
    static String root;
    static String placement;
    static List<String> servers = new ArrayList<>();
    static final List<CuratorFramework> clients = new ArrayList<>();
    static final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));

    // ------------------------------------------------------------ helpers

    static final long T0 = System.nanoTime();

    static synchronized void step(String s) {
        System.out.println("STEP +" + (System.nanoTime() - T0) / 1000000 + "ms " + s);
        System.out.flush();
    }

    static void check(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
    }

    static void eq(Object want, Object got, String what) {
        if (want == null ? got != null : !want.equals(got))
            throw new AssertionError(what + ": wanted <" + want + "> got <" + got + ">");
    }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }
    static String s(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

    /** One question to the test; its answer's k=v pairs. */
    static synchronized Map<String, String> ask(String verb, String args) throws Exception {
        System.out.println("ASK " + verb + (args.isEmpty() ? "" : " " + args));
        System.out.flush();
        String line = in.readLine();
        if (line == null) throw new AssertionError("harness closed stdin during ASK " + verb);
        if (!line.startsWith("OK")) throw new AssertionError("harness answered ASK " + verb + ": " + line);
        Map<String, String> kv = new HashMap<>();
        for (String p : line.substring(2).trim().split(" ")) {
            int i = p.indexOf('=');
            if (i > 0) kv.put(p.substring(0, i), p.substring(i + 1));
        }
        return kv;
    }

    static String hex(long sid) { return "0x" + Long.toHexString(sid); }

    static long session(CuratorFramework c) throws Exception {
        return c.getZookeeperClient().getZooKeeper().getSessionId();
    }

    /** Tries the servers in the given order, round and round, sleeping
     *  spinDelay after a full round without a connection: the Java client's
     *  StaticHostProvider without its shuffle. */
    static final class OrderedHosts implements HostProvider {
        private final List<InetSocketAddress> addrs;
        private int current = -1;
        private int last = -1;

        OrderedHosts(List<InetSocketAddress> addrs) { this.addrs = new ArrayList<>(addrs); }

        public int size() { return addrs.size(); }

        public InetSocketAddress next(long spinDelay) {
            InetSocketAddress a;
            boolean spin;
            synchronized (this) {
                current = (current + 1) % addrs.size();
                spin = current == last && spinDelay > 0;
                if (last == -1) last = 0;
                a = addrs.get(current);
            }
            if (spin) {
                try { Thread.sleep(spinDelay); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
            }
            return new InetSocketAddress(a.getHostString(), a.getPort());  // resolved, as StaticHostProvider's
        }

        public synchronized void onConnected() { last = current; }

        public boolean updateServerList(Collection<InetSocketAddress> list, InetSocketAddress currentHost) {
            return false;
        }
    }

    static String connectString(int first) {
        List<String> hs = new ArrayList<>();
        for (int k = 0; k < servers.size(); k++) hs.add(servers.get((first + k) % servers.size()));
        return String.join(",", hs);
    }

    static List<InetSocketAddress> addrs(int first) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (int k = 0; k < servers.size(); k++) {
            String[] hp = servers.get((first + k) % servers.size()).split(":");
            out.add(InetSocketAddress.createUnresolved(hp[0], Integer.parseInt(hp[1])));
        }
        return out;
    }

    /** Client number i: its connect string lists all servers from server i on. */
    static CuratorFramework client(int i, BlockingQueue<ConnectionState> states) throws Exception {
        final int first = i % servers.size();
        CuratorFrameworkFactory.Builder bld = CuratorFrameworkFactory.builder()
                .connectString(connectString(first))
                .sessionTimeoutMs(10000).connectionTimeoutMs(15000)
                // operations are retried through a failover (connection loss) for up to 60 s
                .retryPolicy(new RetryUntilElapsed(60000, 200));
        if (placement.equals("ordered")) {
            bld.zookeeperFactory((cs, timeout, watcher, ro) ->
                    new ZooKeeper(cs, timeout, watcher, ro, new OrderedHosts(addrs(first))));
        }
        CuratorFramework c = bld.build();
        synchronized (clients) { clients.add(c); }
        if (states != null) c.getConnectionStateListenable().addListener((cl, st) -> states.add(st));
        c.getConnectionStateListenable().addListener((cl, st) -> step("client " + i + ": " + st));
        c.start();
        check(c.blockUntilConnected(30, TimeUnit.SECONDS), "client " + i + " connected within 30s");
        return c;
    }

    static <T> T poll(BlockingQueue<T> q, String what) throws InterruptedException {
        return poll(q, what, 30);
    }

    static <T> T poll(BlockingQueue<T> q, String what, int secs) throws InterruptedException {
        T v = q.poll(secs, TimeUnit.SECONDS);
        if (v == null) throw new AssertionError("timed out (" + secs + "s) waiting for " + what);
        return v;
    }

    /** sync(path) on c's server, waited for: a read by another session
     *  after it sees every write acknowledged before it (ZooKeeper promises
     *  nothing across sessions without it). */
    static void syncOn(CuratorFramework c, String path) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger rc = new AtomicInteger();
        c.getZookeeperClient().getZooKeeper().sync(path, (r, p, ctx) -> { rc.set(r); done.countDown(); }, null);
        check(done.await(30, TimeUnit.SECONDS), "sync " + path + " answered within 30s");
        eq(0, rc.get(), "sync " + path + " rc");
    }

    static String ev(WatchedEvent e) { return e.getType() + " " + e.getPath(); }

    /** Events until ``want`` (a multiset, any order) have all arrived; extras
     *  fail. Connection-state events (type None: the Java client hands
     *  Disconnected/SyncConnected to every registered watcher) aside. */
    static void expectEvents(BlockingQueue<WatchedEvent> q, List<String> want, String what) throws Exception {
        List<String> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 30000;
        while (got.size() < want.size()) {
            WatchedEvent e = q.poll(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
            if (e == null) break;
            if (e.getType() != Watcher.Event.EventType.None) got.add(ev(e));
        }
        while (true) {
            WatchedEvent extra = q.poll(500, TimeUnit.MILLISECONDS);
            if (extra == null) break;
            if (extra.getType() != Watcher.Event.EventType.None) got.add(ev(extra));
        }
        List<String> w = new ArrayList<>(want);
        Collections.sort(w);
        Collections.sort(got);
        eq(w, got, what);
    }

    static void waitState(BlockingQueue<ConnectionState> states, ConnectionState want, List<ConnectionState> seen,
                          int secs) throws Exception {
        long deadline = System.currentTimeMillis() + secs * 1000L;
        while (true) {
            ConnectionState st = states.poll(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
            if (st == null) throw new AssertionError("no " + want + " within " + secs + "s; states so far " + seen);
            seen.add(st);
            if (st == want) return;
        }
    }

    // ------------------------------------------------------------ scenarios

    /** Basic operations, then the client's server (or the leader) is killed:
     *  the same session goes on elsewhere with its ephemerals and watches;
     *  the killed server comes back with everything. */
    static void basicFailover() throws Exception {
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        CuratorFramework c = client(0, states);
        CuratorFramework w = client(1, null);  // a writer on another server
        List<ConnectionState> seen = new ArrayList<>();
        waitState(states, ConnectionState.CONNECTED, seen, 5);
        long sid = session(c);
        Map<String, String> at = ask("where", "session=" + hex(sid));
        step("client session " + hex(sid) + " on server " + at.get("server"));

        // --- basic operations through the ensemble
        String p = root + "/p";
        eq(p, c.create().forPath(p, b("pdata")), "create persistent");
        String s1 = c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(root + "/s-", b("x"));
        String s2 = c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(root + "/s-", b("x"));
        check(s1.matches(".*/s-\\d{10}$"), "sequential name " + s1);
        eq(Long.parseLong(s1.substring(s1.length() - 10)) + 1, Long.parseLong(s2.substring(s2.length() - 10)),
           "sequence increments");
        String e1 = c.create().withMode(CreateMode.EPHEMERAL).forPath(root + "/e", b("edata"));
        String es = c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(root + "/es-", b("x"));
        // one counter per parent (its cversion): the ephemeral /e came between
        eq(Long.parseLong(s2.substring(s2.length() - 10)) + 2, Long.parseLong(es.substring(es.length() - 10)),
           "one sequence counter per parent");
        eq(sid, c.checkExists().forPath(e1).getEphemeralOwner(), "ephemeralOwner");
        syncOn(w, root);
        eq(sid, w.checkExists().forPath(es).getEphemeralOwner(), "ephemeralOwner seen from the other server");

        String v = root + "/v";
        c.create().forPath(v, b("a"));
        eq(1, c.setData().withVersion(0).forPath(v, b("b")).getVersion(), "set with version");
        try {
            c.setData().withVersion(0).forPath(v, b("c"));
            throw new AssertionError("stale setData succeeded");
        } catch (KeeperException.BadVersionException expected) {
            step("stale setData -> BadVersion");
        }
        Stat st = new Stat();
        eq("b", s(c.getData().storingStatIn(st).forPath(v)), "get");
        eq(1, st.getVersion(), "version");

        String kids = root + "/kids";
        c.create().forPath(kids);
        c.create().forPath(kids + "/a");
        c.create().forPath(kids + "/b");
        List<String> k = c.getChildren().forPath(kids);
        Collections.sort(k);
        eq(List.of("a", "b"), k, "children");

        CuratorOp o1 = c.transactionOp().create().forPath(root + "/m1", b("one"));
        CuratorOp o2 = c.transactionOp().setData().withVersion(1).forPath(v, b("m"));
        CuratorOp o3 = c.transactionOp().check().withVersion(2).forPath(v);
        List<CuratorTransactionResult> r = c.transaction().forOperations(o1, o2, o3);
        eq(3, r.size(), "transaction results");
        eq(2, r.get(1).getResultStat().getVersion(), "transaction set stat");
        try {
            c.transaction().forOperations(c.transactionOp().create().forPath(root + "/m2"),
                    c.transactionOp().check().withVersion(9).forPath(v));
            throw new AssertionError("transaction with bad check committed");
        } catch (KeeperException.BadVersionException expected) {
            step("failed transaction -> BadVersion");
        }
        syncOn(w, root);
        eq(null, w.checkExists().forPath(root + "/m2"), "rolled back (seen from the other server)");

        try {
            c.delete().withVersion(5).forPath(kids + "/b");
            throw new AssertionError("delete with a stale version succeeded");
        } catch (KeeperException.BadVersionException expected) {
            step("delete stale version -> BadVersion");
        }
        c.delete().withVersion(0).forPath(kids + "/b");
        syncOn(w, kids);
        eq(null, w.checkExists().forPath(kids + "/b"), "deleted (seen from the other server)");

        // --- watches fired by writes through another server
        BlockingQueue<WatchedEvent> wev = new LinkedBlockingQueue<>();
        Watcher watcher = wev::add;
        c.create().forPath(root + "/w", b("0"));
        c.getData().usingWatcher(watcher).forPath(root + "/w");
        c.getChildren().usingWatcher(watcher).forPath(kids);
        eq(null, c.checkExists().usingWatcher(watcher).forPath(root + "/later0"), "missing");
        w.setData().forPath(root + "/w", b("1"));
        w.create().forPath(kids + "/c");
        w.create().forPath(root + "/later0");
        expectEvents(wev, List.of("NodeDataChanged " + root + "/w", "NodeChildrenChanged " + kids,
                "NodeCreated " + root + "/later0"), "watches fired by the other server's writes");

        // --- watches to carry across the failover
        c.create().forPath(root + "/w2", b("0"));
        c.create().forPath(root + "/w3", b("0"));
        c.create().forPath(root + "/pw", b("0"));
        c.getData().usingWatcher(watcher).forPath(root + "/w2");
        c.getData().usingWatcher(watcher).forPath(root + "/w3");
        c.getChildren().usingWatcher(watcher).forPath(kids);
        eq(null, c.checkExists().usingWatcher(watcher).forPath(root + "/later"), "missing");
        c.watchers().add().withMode(AddWatchMode.PERSISTENT).usingWatcher(watcher).forPath(root + "/pw");

        // --- the failover
        Map<String, String> killed = ask("kill", "session=" + hex(sid));
        step("killed server " + killed.get("killed"));
        // changed while the client is away (or on its way back): SetWatches must fire it
        w.setData().forPath(root + "/w3", b("during"));
        waitState(states, ConnectionState.RECONNECTED, seen, 60);
        check(!seen.contains(ConnectionState.LOST), "session lost: " + seen);
        check(seen.contains(ConnectionState.SUSPENDED), "SUSPENDED before RECONNECTED: " + seen);
        eq(sid, session(c), "same session after the failover");
        Map<String, String> now = ask("where", "session=" + hex(sid));
        step("client reconnected to server " + now.get("server") + " (states " + seen + ")");
        if (killed.get("killed").equals(at.get("server")))
            check(!now.get("server").equals(killed.get("killed")), "moved off the killed server");

        eq(sid, c.checkExists().forPath(e1).getEphemeralOwner(), "ephemeral kept");
        eq(sid, c.checkExists().forPath(es).getEphemeralOwner(), "ephemeral sequential kept");
        ask("check", "session=" + hex(sid) + " paths=" + e1 + "," + es);

        w.setData().forPath(root + "/w2", b("after"));
        w.create().forPath(kids + "/d");
        w.create().forPath(root + "/later");
        w.setData().forPath(root + "/pw", b("1"));
        w.setData().forPath(root + "/pw", b("2"));
        expectEvents(wev, List.of("NodeDataChanged " + root + "/w3", "NodeDataChanged " + root + "/w2",
                "NodeChildrenChanged " + kids, "NodeCreated " + root + "/later",
                "NodeDataChanged " + root + "/pw", "NodeDataChanged " + root + "/pw"),
                "watches carried across the failover");

        // --- writes go on
        String s3 = c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(root + "/s-", b("x"));
        check(Long.parseLong(s3.substring(s3.length() - 10)) > Long.parseLong(es.substring(es.length() - 10)),
              "sequence after the failover: " + s3 + " after " + es);
        eq(3, c.setData().withVersion(2).forPath(v, b("after")).getVersion(), "versioned set after the failover");
        c.transaction().forOperations(c.transactionOp().create().forPath(root + "/m3", b("x")),
                c.transactionOp().delete().forPath(p));
        String e2 = c.create().withMode(CreateMode.EPHEMERAL).forPath(root + "/e2", b("x"));
        syncOn(w, v);
        eq("after", s(w.getData().forPath(v)), "the other server reads the new write");

        // --- the killed server comes back and has it all
        ask("restart", "");
        ask("check", "session=" + hex(sid) + " paths=" + e1 + "," + es + "," + e2);
        c.close();
        ask("gone", "paths=" + e1 + "," + es + "," + e2);
    }

    /** Three clients, one per server, take turns with an InterProcessMutex
     *  and increment a counter under it; a server is killed meanwhile. */
    static void mutexFailover() throws Exception {
        int n = 3, rounds = 25;
        List<CuratorFramework> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) cs.add(client(i, null));
        for (int i = 0; i < n; i++)
            step("client " + i + " session " + hex(session(cs.get(i))) + " on server "
                 + ask("where", "session=" + hex(session(cs.get(i)))).get("server"));
        String lp = root + "/lock";
        String counter = root + "/counter";
        cs.get(0).create().forPath(counter, b("0"));
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<Throwable> err = new AtomicReference<>();
        CountDownLatch half = new CountDownLatch(n * rounds / 2);
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            final int me = i;
            final CuratorFramework c = cs.get(i);
            Thread t = new Thread(() -> {
                try {
                    InterProcessMutex m = new InterProcessMutex(c, lp);
                    for (int r = 0; r < rounds; r++) {
                        check(m.acquire(60, TimeUnit.SECONDS), "client " + me + " acquires within 60s");
                        try {
                            int inNow = inside.incrementAndGet();
                            maxInside.accumulateAndGet(inNow, Math::max);
                            // read on this client's server what the previous holder
                            // wrote through another one; an unversioned set, so
                            // Curator's retry after a connection loss is harmless
                            int val = Integer.parseInt(s(c.getData().forPath(counter)));
                            Thread.sleep(5);
                            c.setData().forPath(counter, b(Integer.toString(val + 1)));
                            order.add(me + ":" + (val + 1));
                            inside.decrementAndGet();
                        } finally {
                            m.release();
                        }
                        done.incrementAndGet();
                        half.countDown();
                    }
                } catch (Throwable x) {
                    err.compareAndSet(null, x);
                    for (long c2 = half.getCount(); c2 > 0; c2--) half.countDown();
                }
            });
            ts.add(t);
            t.start();
        }
        check(half.await(120, TimeUnit.SECONDS), "half the rounds within 120s");
        check(err.get() == null, "before the kill: " + err.get());
        Map<String, String> killed = ask("kill", "session=" + hex(session(cs.get(0))));
        step("killed server " + killed.get("killed") + " after " + done.get() + " rounds");
        for (Thread t : ts) t.join(180000);
        for (Thread t : ts) check(!t.isAlive(), "a mutex thread did not finish within 180s");
        if (err.get() != null) throw new AssertionError("mutex thread failed: " + err.get(), err.get());
        eq(1, maxInside.get(), "at most one holder at a time");
        syncOn(cs.get(1), counter);
        eq(Integer.toString(n * rounds), s(cs.get(1).getData().forPath(counter)), "counter == rounds");
        Set<String> vals = new HashSet<>();
        for (String o : order) vals.add(o.split(":")[1]);
        eq(n * rounds, vals.size(), "every increment saw a distinct value");
        syncOn(cs.get(2), lp);
        eq(0, cs.get(2).getChildren().forPath(lp).size(), "no lock node left behind");
        for (int i = 0; i < n; i++)
            check(cs.get(i).getZookeeperClient().isConnected(), "client " + i + " connected at the end");
        ask("restart", "");
    }

    /** Three LeaderLatch participants on three servers; the leader's server
     *  is killed: at most one leader at any moment (as this process sees
     *  it), one leader again after the failover, three participants. */
    static void leaderLatchFailover() throws Exception {
        int n = 3;
        List<CuratorFramework> cs = new ArrayList<>();
        List<LeaderLatch> ls = new ArrayList<>();
        BlockingQueue<ConnectionState> states0 = new LinkedBlockingQueue<>();
        for (int i = 0; i < n; i++) cs.add(client(i, i == 0 ? states0 : null));
        String lp = root + "/leader";
        for (int i = 0; i < n; i++) {
            LeaderLatch l = new LeaderLatch(cs.get(i), lp, "p" + i);
            final String id = "p" + i;
            l.addListener(new org.apache.curator.framework.recipes.leader.LeaderLatchListener() {
                public void isLeader() { step("latch " + id + ": isLeader"); }
                public void notLeader() { step("latch " + id + ": notLeader"); }
            });
            ls.add(l);
            l.start();
            if (i == 0) check(l.await(30, TimeUnit.SECONDS), "p0 becomes leader");
        }
        long deadline = System.currentTimeMillis() + 30000;
        while (ls.get(1).getParticipants().size() < n && System.currentTimeMillis() < deadline) Thread.sleep(50);
        eq(n, ls.get(1).getParticipants().size(), "participants");
        eq("p0", ls.get(2).getLeader().getId(), "p0 leads (it joined first)");
        AtomicInteger maxLeaders = new AtomicInteger();
        AtomicBoolean stop = new AtomicBoolean();
        Thread sampler = new Thread(() -> {
            while (!stop.get()) {
                int k = 0;
                for (LeaderLatch l : ls) if (l.hasLeadership()) k++;
                final int kk = k;
                maxLeaders.accumulateAndGet(kk, Math::max);
                try { Thread.sleep(5); } catch (InterruptedException e) { return; }
            }
        });
        sampler.start();
        List<ConnectionState> seen0 = new ArrayList<>();
        waitState(states0, ConnectionState.CONNECTED, seen0, 5);
        Map<String, String> killed = ask("kill", "session=" + hex(session(cs.get(0))));
        step("killed server " + killed.get("killed"));
        // p0's client notices and comes back (on the same session)
        waitState(states0, ConnectionState.RECONNECTED, seen0, 60);
        check(!seen0.contains(ConnectionState.LOST), "p0's session lost: " + seen0);
        // then one leader again, the same one for 2 s, every participant back
        deadline = System.currentTimeMillis() + 60000;
        String last = "";
        String stableId = null;
        long stableSince = 0;
        while (System.currentTimeMillis() < deadline) {
            int k = 0;
            String id = null;
            for (LeaderLatch l : ls) if (l.hasLeadership()) { k++; id = l.getId(); }
            boolean allConnected = true;
            for (CuratorFramework c : cs) allConnected &= c.getZookeeperClient().isConnected();
            try {
                Collection<org.apache.curator.framework.recipes.leader.Participant> ps = ls.get(1).getParticipants();
                last = "leaders=" + k + " (" + id + ") participants=" + ps.size() + " connected=" + allConnected;
                if (k == 1 && ps.size() == n && allConnected) {
                    if (!id.equals(stableId)) { stableId = id; stableSince = System.currentTimeMillis(); }
                    if (System.currentTimeMillis() - stableSince >= 2000) break;
                } else {
                    stableId = null;
                }
            } catch (Exception e) {
                last = e.toString();
                stableId = null;
            }
            Thread.sleep(50);
        }
        stop.set(true);
        sampler.join(5000);
        step("after the failover: " + last);
        int k = 0;
        String leaderId = null;
        for (LeaderLatch l : ls) if (l.hasLeadership()) { k++; leaderId = l.getId(); }
        eq(1, k, "one leader after the failover");
        eq(n, ls.get(1).getParticipants().size(), "participants after the failover");
        eq(leaderId, ls.get(2).getLeader().getId(), "everyone agrees on the leader");
        check(maxLeaders.get() <= 1, "two latches held leadership at once");
        for (int i = 0; i < n; i++) ask("check", "session=" + hex(session(cs.get(i))) + " paths=" + ls.get(i).getOurPath());
        ask("restart", "");
        // the leader closes: leadership passes on
        LeaderLatch leader = null;
        for (LeaderLatch l : ls) if (l.hasLeadership()) leader = l;
        leader.close();
        deadline = System.currentTimeMillis() + 30000;
        int k2 = 0;
        while (System.currentTimeMillis() < deadline) {
            k2 = 0;
            for (LeaderLatch l : ls) if (l != leader && l.hasLeadership()) k2++;
            if (k2 == 1) break;
            Thread.sleep(50);
        }
        eq(1, k2, "leadership passes on after the leader closes");
        for (LeaderLatch l : ls) if (l != leader) l.close();
    }

    /** DistributedAtomicLong incremented from three servers while a server
     *  is killed: distinct results, counter == successful increments. */
    static void atomicLongFailover() throws Exception {
        int n = 3, per = 40;
        List<CuratorFramework> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) cs.add(client(i, null));
        String p = root + "/long";
        Set<Long> posts = ConcurrentHashMap.newKeySet();
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger dup = new AtomicInteger();
        AtomicReference<Throwable> err = new AtomicReference<>();
        CountDownLatch half = new CountDownLatch(n * per / 2);
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            final DistributedAtomicLong al = new DistributedAtomicLong(cs.get(i), p, new RetryNTimes(1000, 5));
            Thread t = new Thread(() -> {
                try {
                    long prev = -1;
                    for (int r = 0; r < per; r++) {
                        AtomicValue<Long> v = al.increment();
                        if (v.succeeded()) {
                            ok.incrementAndGet();
                            if (!posts.add(v.postValue())) dup.incrementAndGet();
                            eq(v.preValue() + 1, (long) v.postValue(), "post = pre + 1");
                            check(v.postValue() > prev, "this thread's results increase");
                            prev = v.postValue();
                        } else {
                            failed.incrementAndGet();
                        }
                        half.countDown();
                    }
                } catch (Throwable x) {
                    err.compareAndSet(null, x);
                    for (long c2 = half.getCount(); c2 > 0; c2--) half.countDown();
                }
            });
            ts.add(t);
            t.start();
        }
        check(half.await(120, TimeUnit.SECONDS), "half the increments within 120s");
        Map<String, String> killed = ask("kill", "session=" + hex(session(cs.get(0))));
        step("killed server " + killed.get("killed"));
        for (Thread t : ts) t.join(180000);
        for (Thread t : ts) check(!t.isAlive(), "an increment thread did not finish within 180s");
        if (err.get() != null) throw new AssertionError("increment thread failed: " + err.get(), err.get());
        eq(0, dup.get(), "two successful increments returned the same value");
        syncOn(cs.get(1), p);
        long fin = new DistributedAtomicLong(cs.get(1), p, new RetryNTimes(10, 10)).get().postValue();
        step("increments ok=" + ok.get() + " failed=" + failed.get() + " final=" + fin);
        // An increment whose setData was applied but whose answer was lost to
        // the failover is retried by Curator and applied again; so the final
        // value may exceed the successes, never fall short of them.
        check(fin >= ok.get() && fin <= n * per + 5, "final " + fin + " vs " + ok.get() + " successes");
        check(fin >= Collections.max(posts), "the final value is at least the largest result");
        ask("restart", "");
    }

    /** CuratorCache and PathChildrenCache on a client whose server is
     *  killed, fed by a writer on another server before, during and after
     *  the failover: both end up with the writer's tree. */
    static void cacheFailover() throws Exception {
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        CuratorFramework c = client(0, states);
        CuratorFramework w = client(1, null);
        String cp = root + "/cc";
        String pp = root + "/pc";
        w.create().forPath(cp, b("top"));
        w.create().forPath(pp, b("top"));
        w.create().forPath(cp + "/pre", b("0"));
        w.create().forPath(pp + "/pre", b("0"));
        BlockingQueue<String> cev = new LinkedBlockingQueue<>();
        CountDownLatch init = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(c, cp);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(x -> cev.add("create " + x.getPath() + " " + s(x.getData())))
                .forChanges((o, x) -> cev.add("change " + x.getPath() + " " + s(x.getData())))
                .forDeletes(o -> cev.add("delete " + o.getPath()))
                .forInitialized(init::countDown)
                .build());
        cache.start();
        check(init.await(30, TimeUnit.SECONDS), "CuratorCache initialized");
        BlockingQueue<String> pev = new LinkedBlockingQueue<>();
        PathChildrenCache pc = new PathChildrenCache(c, pp, true);
        pc.getListenable().addListener((cl, e) -> {
            ChildData d = e.getData();
            pev.add(e.getType() + (d == null ? "" : " " + d.getPath() + " " + s(d.getData())));
        });
        pc.start(PathChildrenCache.StartMode.POST_INITIALIZED_EVENT);
        eq("CHILD_ADDED " + pp + "/pre 0", poll(pev, "PathChildrenCache initial add"), "initial child");
        eq("INITIALIZED", poll(pev, "PathChildrenCache INITIALIZED"), "initialized");
        cev.clear();
        // before
        w.create().forPath(cp + "/a", b("1"));
        w.create().forPath(pp + "/a", b("1"));
        eq("create " + cp + "/a 1", poll(cev, "cache create"), "CuratorCache create before the failover");
        eq("CHILD_ADDED " + pp + "/a 1", poll(pev, "child add"), "PathChildrenCache add before the failover");
        Map<String, String> killed = ask("kill", "session=" + hex(session(c)));
        step("killed server " + killed.get("killed"));
        // during: the writer changes things while the caches' client is away
        w.setData().forPath(cp + "/a", b("2"));
        w.create().forPath(cp + "/b", b("during"));
        w.delete().forPath(cp + "/pre");
        w.setData().forPath(pp + "/a", b("2"));
        w.create().forPath(pp + "/b", b("during"));
        w.delete().forPath(pp + "/pre");
        List<ConnectionState> seen = new ArrayList<>();
        waitState(states, ConnectionState.RECONNECTED, seen, 60);
        check(!seen.contains(ConnectionState.LOST), "session lost: " + seen);
        step("reconnected to server " + ask("where", "session=" + hex(session(c))).get("server"));
        // after
        w.create().forPath(cp + "/c", b("after"));
        w.create().forPath(pp + "/c", b("after"));
        Map<String, String> wantC = new TreeMap<>();
        wantC.put(cp, "top");
        wantC.put(cp + "/a", "2");
        wantC.put(cp + "/b", "during");
        wantC.put(cp + "/c", "after");
        Map<String, String> wantP = new TreeMap<>();
        wantP.put(pp + "/a", "2");
        wantP.put(pp + "/b", "during");
        wantP.put(pp + "/c", "after");
        long deadline = System.currentTimeMillis() + 30000;
        Map<String, String> gotC = new TreeMap<>(), gotP = new TreeMap<>();
        while (System.currentTimeMillis() < deadline) {
            gotC.clear();
            cache.stream().forEach(d -> gotC.put(d.getPath(), s(d.getData())));
            gotP.clear();
            for (ChildData d : pc.getCurrentData()) gotP.put(d.getPath(), s(d.getData()));
            if (gotC.equals(wantC) && gotP.equals(wantP)) break;
            Thread.sleep(100);
        }
        eq(wantC, gotC, "CuratorCache contents after the failover");
        eq(wantP, gotP, "PathChildrenCache contents after the failover");
        List<String> ce = new ArrayList<>();
        cev.drainTo(ce);
        List<String> pe = new ArrayList<>();
        pev.drainTo(pe);
        step("CuratorCache events since the kill: " + ce);
        step("PathChildrenCache events since the kill: " + pe);
        check(ce.contains("create " + cp + "/c after"), "CuratorCache saw the create after the failover");
        check(pe.contains("CHILD_ADDED " + pp + "/c after"), "PathChildrenCache saw the add after the failover");
        check(pe.contains("CONNECTION_SUSPENDED") && pe.contains("CONNECTION_RECONNECTED"),
              "PathChildrenCache saw the suspension and the reconnection");
        ask("restart", "");
        cache.close();
        pc.close();
    }

    public static void main(String[] args) throws Exception {
        root = args[0];
        String sc = args[1];
        placement = args[2];
        for (int i = 3; i < args.length; i++) servers.add(args[i]);
        int rc = 0;
        try {
            CuratorFramework setup = client(1, null);
            setup.create().creatingParentsIfNeeded().forPath(root);
            switch (sc) {
                case "basic_failover": basicFailover(); break;
                case "mutex_failover": mutexFailover(); break;
                case "leader_latch_failover": leaderLatchFailover(); break;
                case "atomic_long_failover": atomicLongFailover(); break;
                case "cache_failover": cacheFailover(); break;
                default: throw new IllegalArgumentException("unknown scenario " + sc);
            }
            System.out.println("PASS " + sc);
        } catch (Throwable t) {
            System.out.println("FAIL " + sc + ": " + t);
            t.printStackTrace(System.out);
            rc = 1;
        } finally {
            synchronized (clients) {
                for (CuratorFramework c : clients) {
                    try { c.close(); } catch (Throwable ignored) { }
                }
            }
            System.out.flush();
        }
        System.exit(rc);
    }
}

// Apache Curator (framework + recipes, Debian's libcurator-*-java 5.4) against
// the server: one scenario per run, used by tests/interop/test_curator.py.
//
// Usage: java -cp ... CuratorInterop HOST:PORT ROOT SCENARIO
// Prints "STEP ..." lines as it goes and "PASS SCENARIO" at the end; a failed
// check or exception prints "FAIL ..." plus the stack trace and exits 1.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
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
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

public class CuratorInterop {
    static String hosts;
    static String root;
    static final List<CuratorFramework> clients = new ArrayList<>();

    static void step(String s) {
        System.out.println("STEP " + s);
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

    static CuratorFramework client(String auth) throws Exception {
        CuratorFrameworkFactory.Builder bld = CuratorFrameworkFactory.builder()
                .connectString(hosts).sessionTimeoutMs(10000).connectionTimeoutMs(10000)
                .retryPolicy(new RetryNTimes(3, 200));
        if (auth != null) bld.authorization("digest", b(auth));
        CuratorFramework c = bld.build();
        clients.add(c);
        c.start();
        check(c.blockUntilConnected(15, TimeUnit.SECONDS), "client connected within 15s");
        return c;
    }

    static CuratorFramework client() throws Exception { return client(null); }

    static <T> T poll(BlockingQueue<T> q, String what) throws InterruptedException {
        T v = q.poll(10, TimeUnit.SECONDS);
        if (v == null) throw new AssertionError("timed out waiting for " + what);
        return v;
    }

    // ------------------------------------------------------------------
    static void connectionState() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, 10000, 10000,
                new ExponentialBackoffRetry(100, 3));
        clients.add(c);
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        c.getConnectionStateListenable().addListener((cl, st) -> states.add(st));
        c.start();
        eq(ConnectionState.CONNECTED, poll(states, "CONNECTED"), "first connection state");
        check(c.getZookeeperClient().isConnected(), "isConnected");
        long sid = c.getZookeeperClient().getZooKeeper().getSessionId();
        check(sid != 0, "session id");
        int t = c.getZookeeperClient().getZooKeeper().getSessionTimeout();
        check(t >= 4000 && t <= 40000, "negotiated timeout in [4000,40000]: " + t);
        step("connected session=0x" + Long.toHexString(sid) + " timeout=" + t);
        c.close();
    }

    static void crud() throws Exception {
        CuratorFramework c = client();
        String deep = root + "/a/b/c";
        eq(deep, c.create().creatingParentsIfNeeded().forPath(deep, b("deep")), "create parents");
        check(c.checkExists().forPath(root + "/a/b") != null, "parent created");
        eq(0L, c.checkExists().forPath(root + "/a").getEphemeralOwner(), "persistent parents");
        Stat st = new Stat();
        eq("deep", s(c.getData().storingStatIn(st).forPath(deep)), "getData");
        eq(0, st.getVersion(), "version");
        eq(4, st.getDataLength(), "dataLength");
        eq(st.getCzxid(), st.getMzxid(), "czxid==mzxid");
        eq(st.getCtime(), st.getMtime(), "ctime==mtime");
        check(Math.abs(st.getCtime() - System.currentTimeMillis()) < 120000, "ctime is now");
        Stat s1 = c.setData().withVersion(0).forPath(deep, b("v1"));
        eq(1, s1.getVersion(), "version after set");
        check(s1.getMzxid() > st.getMzxid(), "mzxid grew");
        try {
            c.setData().withVersion(0).forPath(deep, b("v2"));
            throw new AssertionError("setData with stale version succeeded");
        } catch (KeeperException.BadVersionException expected) {
            step("stale setData -> BadVersion");
        }
        for (String k : new String[] {"z", "x", "y"})
            c.create().forPath(root + "/a/b/" + k);
        List<String> kids = c.getChildren().forPath(root + "/a/b");
        Collections.sort(kids);
        eq(List.of("c", "x", "y", "z"), kids, "children");
        Stat bs = c.checkExists().forPath(root + "/a/b");
        eq(4, bs.getNumChildren(), "numChildren");
        eq(4, bs.getCversion(), "cversion");
        eq(null, c.checkExists().forPath(root + "/nope"), "exists on missing");
        try {
            c.delete().forPath(root + "/a/b");
            throw new AssertionError("delete of non-empty node succeeded");
        } catch (KeeperException.NotEmptyException expected) {
            step("delete non-empty -> NotEmpty");
        }
        try {
            c.delete().withVersion(0).forPath(deep);
            throw new AssertionError("delete with stale version succeeded");
        } catch (KeeperException.BadVersionException expected) {
            step("delete stale version -> BadVersion");
        }
        c.delete().withVersion(1).forPath(deep);
        c.delete().deletingChildrenIfNeeded().forPath(root + "/a");
        eq(null, c.checkExists().forPath(root + "/a"), "deletingChildrenIfNeeded");
        try {
            c.getData().forPath(root + "/a");
            throw new AssertionError("getData on deleted node succeeded");
        } catch (KeeperException.NoNodeException expected) {
            step("getData missing -> NoNode");
        }
    }

    static void createModes() throws Exception {
        CuratorFramework c = client();
        long sid = c.getZookeeperClient().getZooKeeper().getSessionId();
        String e = c.create().withMode(CreateMode.EPHEMERAL).forPath(root + "/e", b("x"));
        eq(sid, c.checkExists().forPath(e).getEphemeralOwner(), "ephemeralOwner");
        String s1 = c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(root + "/s-");
        String s2 = c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(root + "/s-");
        check(s1.matches(".*/s-\\d{10}$") && s2.matches(".*/s-\\d{10}$"), "sequential names " + s1 + " " + s2);
        eq(Long.parseLong(s1.substring(s1.length() - 10)) + 1,
           Long.parseLong(s2.substring(s2.length() - 10)), "sequence increments");
        // protection mode: Curator prefixes _c_<uuid>- and finds the node again
        String p = c.create().withProtection().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                .forPath(root + "/lock-");
        check(p.contains("_c_") && p.matches(".*lock-\\d{10}$"), "protected name " + p);
        try {
            c.create().forPath(e + "/child");
            throw new AssertionError("child of ephemeral created");
        } catch (KeeperException.NoChildrenForEphemeralsException expected) {
            step("child of ephemeral -> NoChildrenForEphemerals");
        }
    }

    static void ttl() throws Exception {
        CuratorFramework c = client();
        String p = c.create().withTtl(60000).withMode(CreateMode.PERSISTENT_WITH_TTL)
                .forPath(root + "/ttl", b("t"));
        eq(root + "/ttl", p, "ttl path");
        Stat st = new Stat();
        eq("t", s(c.getData().storingStatIn(st).forPath(p)), "ttl data");
        String sq = c.create().withTtl(60000).withMode(CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)
                .forPath(root + "/ttls-");
        check(sq.matches(".*/ttls-\\d{10}$"), "ttl sequential " + sq);
        String deep = c.create().withTtl(60000).creatingParentsIfNeeded()
                .withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(root + "/tp/child");
        eq(root + "/tp/child", deep, "ttl with parents");
        // ZooKeeper shows 0 for TTL nodes (DataNode.copyStat -> getClientEphemeralOwner)
        eq(0L, st.getEphemeralOwner(), "ttl node's ephemeralOwner in getData Stat");
    }

    static void containers() throws Exception {
        CuratorFramework c = client();
        String p = root + "/box/inner/leaf";
        c.create().creatingParentContainersIfNeeded().forPath(p, b("x"));
        check(c.checkExists().forPath(root + "/box/inner") != null, "container parent");
        c.create().withMode(CreateMode.CONTAINER).forPath(root + "/c2");
        check(c.checkExists().forPath(root + "/c2") != null, "explicit container");
        // the recipes' helper
        c.createContainers(root + "/c3/x");
        check(c.checkExists().forPath(root + "/c3/x") != null, "createContainers");
        // ZooKeeper shows 0 for containers (DataNode.copyStat -> getClientEphemeralOwner)
        eq(0L, c.checkExists().forPath(root + "/box").getEphemeralOwner(), "container's ephemeralOwner");
    }

    static void transaction() throws Exception {
        CuratorFramework c = client();
        String p = root + "/tx";
        c.create().forPath(p);
        CuratorOp o1 = c.transactionOp().create().forPath(p + "/a", b("1"));
        CuratorOp o2 = c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                .forPath(p + "/s-");
        CuratorOp o3 = c.transactionOp().setData().forPath(p, b("top"));
        CuratorOp o4 = c.transactionOp().check().withVersion(1).forPath(p);
        List<CuratorTransactionResult> r = c.transaction().forOperations(o1, o2, o3, o4);
        eq(4, r.size(), "results");
        eq(p + "/a", r.get(0).getResultPath(), "create result path");
        check(r.get(1).getResultPath().matches(".*/s-\\d{10}$"), "seq result " + r.get(1).getResultPath());
        eq(1, r.get(2).getResultStat().getVersion(), "setData result stat");
        CuratorOp bad1 = c.transactionOp().create().forPath(p + "/b");
        CuratorOp bad2 = c.transactionOp().check().withVersion(9).forPath(p);
        try {
            c.transaction().forOperations(bad1, bad2);
            throw new AssertionError("transaction with bad check committed");
        } catch (KeeperException.BadVersionException expected) {
            step("failed transaction -> BadVersion");
        }
        eq(null, c.checkExists().forPath(p + "/b"), "rolled back");
        CuratorOp d1 = c.transactionOp().delete().forPath(p + "/a");
        CuratorOp d2 = c.transactionOp().delete().forPath(r.get(1).getResultPath());
        c.transaction().forOperations(d1, d2);
        eq(0, c.getChildren().forPath(p).size(), "deleted in tx");
    }

    static void watches() throws Exception {
        CuratorFramework c = client();
        CuratorFramework w = client();
        String p = root + "/w";
        c.create().forPath(p, b("x"));
        BlockingQueue<WatchedEvent> ev = new LinkedBlockingQueue<>();
        Watcher watcher = ev::add;
        c.getData().usingWatcher(watcher).forPath(p);
        w.setData().forPath(p, b("y"));
        WatchedEvent e = poll(ev, "NodeDataChanged");
        eq(Watcher.Event.EventType.NodeDataChanged, e.getType(), "data watch type");
        eq(p, e.getPath(), "data watch path");
        c.getChildren().usingWatcher(watcher).forPath(p);
        w.create().forPath(p + "/kid");
        e = poll(ev, "NodeChildrenChanged");
        eq(Watcher.Event.EventType.NodeChildrenChanged, e.getType(), "child watch type");
        eq(p, e.getPath(), "child watch path");
        eq(null, c.checkExists().usingWatcher(watcher).forPath(p + "/later"), "missing");
        w.create().forPath(p + "/later");
        e = poll(ev, "NodeCreated");
        eq(Watcher.Event.EventType.NodeCreated, e.getType(), "exists watch type");
        c.checkExists().usingWatcher(watcher).forPath(p + "/later");
        w.delete().forPath(p + "/later");
        e = poll(ev, "NodeDeleted");
        eq(Watcher.Event.EventType.NodeDeleted, e.getType(), "delete watch type");
        // Curator's background callbacks + watched(): CuratorListener sees WATCHED
        BlockingQueue<String> bg = new LinkedBlockingQueue<>();
        c.getCuratorListenable().addListener((cl, event) -> bg.add(event.getType().toString()));
        c.getData().watched().inBackground().forPath(p);
        eq("GET_DATA", poll(bg, "GET_DATA background"), "background result");
        w.setData().forPath(p, b("z"));
        eq("WATCHED", poll(bg, "WATCHED"), "watched event via CuratorListener");
    }

    static void aclDigest() throws Exception {
        CuratorFramework owner = client("alice:secret");
        String p = root + "/acl";
        owner.create().withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(p, b("data"));
        List<ACL> acl = owner.getACL().forPath(p);
        eq(1, acl.size(), "acl size");
        eq("digest", acl.get(0).getId().getScheme(), "acl scheme");
        eq("alice:" + org.apache.zookeeper.server.auth.DigestAuthenticationProvider
                .generateDigest("alice:secret").split(":", 2)[1], acl.get(0).getId().getId(), "acl id");
        eq(ZooDefs.Perms.ALL, acl.get(0).getPerms(), "acl perms");
        eq("data", s(owner.getData().forPath(p)), "owner reads");
        CuratorFramework anon = client();
        try {
            anon.getData().forPath(p);
            throw new AssertionError("anonymous read succeeded");
        } catch (KeeperException.NoAuthException expected) {
            step("anonymous getData -> NoAuth");
        }
        try {
            anon.setData().forPath(p, b("x"));
            throw new AssertionError("anonymous write succeeded");
        } catch (KeeperException.NoAuthException expected) {
            step("anonymous setData -> NoAuth");
        }
        check(anon.checkExists().forPath(p) != null, "exists needs no permission");
        CuratorFramework wrong = client("alice:wrong");
        try {
            wrong.getData().forPath(p);
            throw new AssertionError("wrong password read succeeded");
        } catch (KeeperException.NoAuthException expected) {
            step("wrong password -> NoAuth");
        }
        // addAuthInfo on a live connection
        anon.getZookeeperClient().getZooKeeper().addAuthInfo("digest", b("alice:secret"));
        eq("data", s(anon.getData().forPath(p)), "read after addAuthInfo");
        // Curator's aclProvider + digest ACL for another user
        String q = root + "/acl2";
        owner.create().withACL(List.of(new ACL(ZooDefs.Perms.READ,
                new org.apache.zookeeper.data.Id("digest",
                        org.apache.zookeeper.server.auth.DigestAuthenticationProvider
                                .generateDigest("bob:pw"))))).forPath(q, b("b"));
        CuratorFramework bob = client("bob:pw");
        eq("b", s(bob.getData().forPath(q)), "bob reads");
        try {
            bob.setData().forPath(q, b("x"));
            throw new AssertionError("bob wrote with READ-only ACL");
        } catch (KeeperException.NoAuthException expected) {
            step("READ-only ACL setData -> NoAuth");
        }
    }

    static void ephemeralClose() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        String p = root + "/eph";
        a.create().withMode(CreateMode.EPHEMERAL).forPath(p);
        a.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(root + "/eseq-");
        BlockingQueue<WatchedEvent> ev = new LinkedBlockingQueue<>();
        check(b.checkExists().usingWatcher((Watcher) ev::add).forPath(p) != null, "exists");
        eq(2, b.getChildren().forPath(root).size(), "two ephemerals");
        a.close();
        WatchedEvent e = poll(ev, "NodeDeleted after close");
        eq(Watcher.Event.EventType.NodeDeleted, e.getType(), "deleted on close");
        eq(0, b.getChildren().forPath(root).size(), "ephemerals gone");
    }

    static void mutex() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        String lp = root + "/lock";
        InterProcessMutex ma = new InterProcessMutex(a, lp);
        InterProcessMutex mb = new InterProcessMutex(b, lp);
        check(ma.acquire(10, TimeUnit.SECONDS), "a acquires");
        check(ma.isAcquiredInThisProcess(), "a holds");
        check(!mb.acquire(500, TimeUnit.MILLISECONDS), "b must not acquire while a holds");
        step("b blocked while a holds");
        check(ma.acquire(1, TimeUnit.SECONDS), "reentrant acquire");
        ma.release();
        CountDownLatch got = new CountDownLatch(1);
        CountDownLatch releaseNow = new CountDownLatch(1);
        AtomicReference<Throwable> err = new AtomicReference<>();
        // InterProcessMutex is owned by a thread: b acquires and releases in t
        Thread t = new Thread(() -> {
            try {
                if (mb.acquire(15, TimeUnit.SECONDS)) {
                    got.countDown();
                    releaseNow.await(15, TimeUnit.SECONDS);
                    mb.release();
                }
            } catch (Throwable x) { err.set(x); }
        });
        t.start();
        Thread.sleep(300);
        eq(1L, got.getCount(), "b still waiting (a holds once more)");
        ma.release();
        check(got.await(15, TimeUnit.SECONDS), "b acquires after a releases: " + err.get());
        // lock nodes: exactly b's
        eq(1, b.getChildren().forPath(lp).size(), "one lock node");
        releaseNow.countDown();
        t.join(15000);
        eq(null, err.get(), "b's release");
        eq(0, b.getChildren().forPath(lp).size(), "no lock node after release");
    }

    static void leaderLatch() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        String lp = root + "/leader";
        LeaderLatch la = new LeaderLatch(a, lp, "a");
        LeaderLatch lb = new LeaderLatch(b, lp, "b");
        la.start();
        check(la.await(15, TimeUnit.SECONDS), "a becomes leader");
        lb.start();
        Thread.sleep(500);
        check(la.hasLeadership() && !lb.hasLeadership(), "exactly a leads");
        eq("a", lb.getLeader().getId(), "b sees a as leader");
        eq(2, lb.getParticipants().size(), "two participants");
        la.close();
        check(lb.await(15, TimeUnit.SECONDS), "b takes over after a closes");
        eq("b", lb.getLeader().getId(), "leader id b");
        lb.close();
    }

    static void curatorCache() throws Exception {
        CuratorFramework c = client();
        CuratorFramework w = client();
        String p = root + "/cache";
        c.create().forPath(p, b("top"));
        c.create().forPath(p + "/pre", b("0"));
        BlockingQueue<String> ev = new LinkedBlockingQueue<>();
        CountDownLatch init = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(c, p);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> ev.add("create " + n.getPath() + " " + s(n.getData())))
                .forChanges((o, n) -> ev.add("change " + n.getPath() + " " + s(o.getData())
                        + "->" + s(n.getData())))
                .forDeletes(o -> ev.add("delete " + o.getPath()))
                .forInitialized(init::countDown)
                .build());
        cache.start();
        check(init.await(15, TimeUnit.SECONDS), "cache initialized");
        List<String> initial = new ArrayList<>();
        ev.drainTo(initial);
        Collections.sort(initial);
        eq(List.of("create " + p + " top", "create " + p + "/pre 0"), initial, "initial creates");
        w.create().forPath(p + "/n", b("1"));
        eq("create " + p + "/n 1", poll(ev, "create event"), "create event");
        w.setData().forPath(p + "/n", b("2"));
        eq("change " + p + "/n 1->2", poll(ev, "change event"), "change event");
        w.create().creatingParentsIfNeeded().forPath(p + "/deep/er", b("3"));
        List<String> got = new ArrayList<>();
        got.add(poll(ev, "deep create 1"));
        got.add(poll(ev, "deep create 2"));
        Collections.sort(got);
        eq(List.of("create " + p + "/deep ", "create " + p + "/deep/er 3"), got,
           "recursive creates");
        w.delete().forPath(p + "/n");
        eq("delete " + p + "/n", poll(ev, "delete event"), "delete event");
        Thread.sleep(200);
        check(cache.get(p + "/deep/er").isPresent(), "cache has deep node");
        eq("3", s(cache.get(p + "/deep/er").map(ChildData::getData).orElse(null)), "cached data");
        check(!cache.get(p + "/n").isPresent(), "cache dropped deleted node");
        cache.close();
    }

    static void sharedCount() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        String p = root + "/count";
        SharedCount ca = new SharedCount(a, p, 10);
        SharedCount cb = new SharedCount(b, p, 99);
        ca.start();
        cb.start();
        eq(10, cb.getCount(), "second seeder sees first value");
        BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
        cb.addListener(new SharedCountListener() {
            public void countHasChanged(SharedCountReader r, int n) { seen.add(n); }
            public void stateChanged(CuratorFramework cl, ConnectionState st) { }
        });
        org.apache.curator.framework.recipes.shared.VersionedValue<Integer> stale =
                ca.getVersionedValue();
        check(ca.trySetCount(stale, 11), "trySetCount");
        eq(11, poll(seen, "count change"), "listener saw 11");
        check(!cb.trySetCount(stale, 12),
              "stale trySetCount fails");
        ca.setCount(20);
        eq(20, poll(seen, "count change 2"), "listener saw 20");
        ca.close();
        cb.close();

        DistributedAtomicLong la = new DistributedAtomicLong(a, root + "/long", new RetryNTimes(10, 10));
        DistributedAtomicLong lb = new DistributedAtomicLong(b, root + "/long", new RetryNTimes(10, 10));
        AtomicValue<Long> r = la.increment();
        check(r.succeeded(), "increment succeeded");
        eq(1L, r.postValue(), "post 1");
        r = lb.add(41L);
        check(r.succeeded(), "add succeeded");
        eq(1L, r.preValue(), "pre 1");
        eq(42L, r.postValue(), "post 42");
        r = la.compareAndSet(42L, 7L);
        check(r.succeeded(), "CAS succeeded");
        eq(7L, lb.get().postValue(), "b reads 7");
        check(!la.compareAndSet(42L, 8L).succeeded(), "stale CAS fails");
    }

    static void persistentNode() throws Exception {
        CuratorFramework a = client();
        CuratorFramework other = client();
        String p = root + "/pn";
        PersistentNode node = new PersistentNode(a, CreateMode.EPHEMERAL, false, p, b("me"));
        node.start();
        check(node.waitForInitialCreate(15, TimeUnit.SECONDS), "initial create");
        Stat st = other.checkExists().forPath(p);
        check(st != null, "node exists");
        eq(a.getZookeeperClient().getZooKeeper().getSessionId(), st.getEphemeralOwner(), "owner");
        // someone deletes it: the recipe puts it back
        other.delete().forPath(p);
        long deadline = System.currentTimeMillis() + 15000;
        while (other.checkExists().forPath(p) == null && System.currentTimeMillis() < deadline)
            Thread.sleep(50);
        check(other.checkExists().forPath(p) != null, "recreated after delete");
        node.setData(b("new"));  // asynchronous (inBackground) in Curator
        deadline = System.currentTimeMillis() + 15000;
        while (!"new".equals(s(other.getData().forPath(p))) && System.currentTimeMillis() < deadline)
            Thread.sleep(50);
        eq("new", s(other.getData().forPath(p)), "setData through recipe");
        node.close();
        eq(null, other.checkExists().forPath(p), "closed node removed");
        // protected ephemeral sequential
        PersistentNode seq = new PersistentNode(a, CreateMode.EPHEMERAL_SEQUENTIAL, true,
                root + "/member-", b("m"));
        seq.start();
        check(seq.waitForInitialCreate(15, TimeUnit.SECONDS), "seq initial create");
        String actual = seq.getActualPath();
        check(actual != null && actual.contains("_c_") && actual.matches(".*member-\\d{10}$"),
              "protected sequential " + actual);
        seq.close();
    }

    public static void main(String[] args) throws Exception {
        hosts = args[0];
        root = args[1];
        String sc = args[2];
        int rc = 0;
        try {
            CuratorFramework setup = client();
            setup.create().creatingParentsIfNeeded().forPath(root);
            switch (sc) {
                case "connection_state": connectionState(); break;
                case "crud": crud(); break;
                case "create_modes": createModes(); break;
                case "ttl": ttl(); break;
                case "containers": containers(); break;
                case "transaction": transaction(); break;
                case "watches": watches(); break;
                case "acl_digest": aclDigest(); break;
                case "ephemeral_close": ephemeralClose(); break;
                case "mutex": mutex(); break;
                case "leader_latch": leaderLatch(); break;
                case "curator_cache": curatorCache(); break;
                case "shared_count": sharedCount(); break;
                case "persistent_node": persistentNode(); break;
                default: throw new IllegalArgumentException("unknown scenario " + sc);
            }
            System.out.println("PASS " + sc);
        } catch (Throwable t) {
            System.out.println("FAIL " + sc + ": " + t);
            t.printStackTrace(System.out);
            rc = 1;
        } finally {
            for (CuratorFramework c : clients) {
                try { c.close(); } catch (Throwable ignored) { }
            }
            System.out.flush();
        }
        System.exit(rc);
    }
}

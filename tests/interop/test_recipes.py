"""kazoo recipes built on sequence + ephemeral nodes and watches."""
import threading
import time

from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.queue import LockingQueue, Queue

from conftest import four_letter, wait_until


def test_lock_mutual_exclusion(zk_factory, root):
    clients = [zk_factory() for _ in range(3)]
    holders = []
    inside = [0]
    max_inside = [0]
    guard = threading.Lock()
    errors = []

    def worker(i, c):
        try:
            for _ in range(5):
                with Lock(c, root + "/lock", identifier="w%d" % i):
                    with guard:
                        inside[0] += 1
                        max_inside[0] = max(max_inside[0], inside[0])
                        holders.append(i)
                    time.sleep(0.01)
                    with guard:
                        inside[0] -= 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(45)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert max_inside[0] == 1
    assert sorted(holders) == sorted([0, 1, 2] * 5)
    assert clients[0].get_children(root + "/lock") == []


def test_lock_contenders_and_release_on_session_close(zk_factory, root):
    a, b = zk_factory(), zk_factory()
    la = Lock(a, root + "/l", identifier="a")
    lb = Lock(b, root + "/l", identifier="b")
    assert la.acquire(timeout=5)
    assert not lb.acquire(blocking=False)
    assert la.contenders() == ["a"]
    got = threading.Event()
    t = threading.Thread(target=lambda: lb.acquire(timeout=20) and got.set())
    t.start()
    # b queues behind a (its lock node is there) and does not get the lock
    wait_until(lambda: sorted(la.contenders()) == ["a", "b"], 20, what="b contending")
    assert not got.is_set()
    a.stop()  # session closes, ephemeral lock node vanishes
    t.join(25)
    assert got.is_set()
    lb.release()


def test_election(zk_factory, root):
    clients = [zk_factory() for _ in range(3)]
    leaders = []
    done = threading.Event()
    stop = threading.Event()

    def run(i, c):
        def lead():
            leaders.append(i)
            done.set()
            stop.wait(20)
        try:
            Election(c, root + "/election", identifier="c%d" % i).run(lead)
        except Exception:  # noqa: BLE001 - the stopped leader's client
            pass

    threads = [threading.Thread(target=run, args=(i, c), daemon=True)
               for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    assert done.wait(10)
    # once all three have entered the election, still only one leads
    wait_until(lambda: len(Election(clients[0], root + "/election").contenders()) == 3, 20,
               what="three contenders")
    assert len(leaders) == 1
    contenders = Election(clients[0], root + "/election").contenders()
    assert len(contenders) == 3 and contenders[0] == "c%d" % leaders[0]
    first = leaders[0]
    clients[first].stop()  # the leader's session ends: someone else leads
    deadline = time.monotonic() + 15
    while len(leaders) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(leaders) == 2 and leaders[1] != first
    stop.set()


def test_counter(zk_factory, root):
    clients = [zk_factory() for _ in range(3)]

    def bump(c):
        counter = Counter(c, root + "/counter")
        for _ in range(10):
            counter += 1

    threads = [threading.Thread(target=bump, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(45)
    assert Counter(clients[0], root + "/counter").value == 30
    fc = Counter(clients[0], root + "/fc", default=0.0)
    fc += 2.5
    fc -= 1.0
    assert fc.value == 1.5


def test_queue(zk_factory, root):
    p, c = zk_factory(), zk_factory()
    q = Queue(p, root + "/q")
    for i in range(5):
        q.put(b"item-%d" % i)
    q.put(b"urgent", priority=1)
    assert len(q) == 6
    cq = Queue(c, root + "/q")
    got = [cq.get() for _ in range(6)]
    assert got == [b"urgent"] + [b"item-%d" % i for i in range(5)]
    assert cq.get() is None


def test_locking_queue(zk_factory, root):
    p, c = zk_factory(), zk_factory()
    LockingQueue(p, root + "/lq").put_all([b"a", b"b"])
    q = LockingQueue(c, root + "/lq")
    assert q.get(timeout=5) == b"a"
    assert q.consume()
    assert q.get(timeout=5) == b"b"
    assert q.consume()
    assert q.get(timeout=0.5) is None


def test_barrier(shared_server, zk_factory, root):
    a, b = zk_factory(), zk_factory()
    bar = Barrier(a, root + "/bar")
    bar.create()
    passed = threading.Event()
    t = threading.Thread(target=lambda: Barrier(b, root + "/bar").wait(20) and passed.set())
    t.start()
    # b is waiting once its watch on the barrier node is set (wchp lists it);
    # the barrier still stands, so b has not passed
    wait_until(lambda: root + "/bar" in four_letter(shared_server.port, "wchp"), 20,
               what="b's watch on the barrier")
    assert not passed.is_set()
    bar.remove()
    t.join(20)
    assert passed.is_set()


def test_double_barrier(zk_factory, root):
    clients = [zk_factory() for _ in range(2)]
    entered = []
    barrier_path = root + "/db"

    def member(i, c):
        db = DoubleBarrier(c, barrier_path, 2, identifier="m%d" % i)
        db.enter()
        entered.append(i)
        db.leave()

    threads = [threading.Thread(target=member, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert sorted(entered) == [0, 1]

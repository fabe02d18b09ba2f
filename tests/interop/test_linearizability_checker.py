"""The linearizability checker itself (linearizability.py), on hand-written
and generated histories; no servers."""
import itertools
import random
import time

import pytest

import linearizability as lin
from linearizability import CAS, FAIL, INFO, OK, READ, WRITE, cas, read, write

INIT = (b"init", 0)


def is_lin(ops, initial=INIT):
    return lin.check(ops, initial).ok


def test_empty_and_sequential():
    assert is_lin([])
    assert is_lin([read("a", 0, 1, b"init", 0)])
    assert is_lin([
        write("a", 0, 1, b"x", 1),
        read("b", 2, 3, b"x", 1),
        cas("a", 4, 5, 1, b"y"),
        cas("b", 6, 7, 1, b"z", status=FAIL),
        read("a", 8, 9, b"y", 2),
        write("b", 10, 11, b"w"),          # version not known: fine
        read("a", 12, 13, b"w", 3),
    ])


def test_stale_read():
    h = [
        write("a", 0, 1, b"x", 1),
        write("a", 2, 3, b"y", 2),
        read("b", 4, 5, b"x", 1),          # y was acknowledged before the read began
    ]
    r = lin.check(h, INIT)
    assert r.ok is False
    assert r.culprit.kind == READ and r.culprit.result == (b"x", 1)
    text = r.window()
    assert "write(b'x')" in text and "write(b'y')" in text and "=>" in text


def test_read_concurrent_with_write_may_see_either():
    for seen in ((b"init", 0), (b"x", 1)):
        assert is_lin([write("a", 0, 10, b"x", 1), read("b", 1, 2, *seen)])


def test_value_cannot_go_back():
    # two concurrent writes; readers see x, then y, then x again
    h = [
        write("a", 0, 10, b"x"),
        write("b", 0, 10, b"y"),
        read("c", 1, 2, b"x", 1),
        read("c", 3, 4, b"y", 2),
        read("c", 5, 6, b"x", 1),
    ]
    assert is_lin(h[:4])
    assert not is_lin(h)


def test_lost_acknowledged_write():
    # the acknowledged write is gone: a later read shows the initial state
    assert not is_lin([write("a", 0, 1, b"x", 1), read("b", 2, 3, b"init", 0)])
    # or its version bump is gone: y overwrote x but the version says one write
    assert not is_lin([
        write("a", 0, 1, b"x", 1),
        write("a", 2, 3, b"y"),
        read("b", 4, 5, b"y", 1),
    ])


def test_acknowledged_version_must_match():
    assert not is_lin([write("a", 0, 1, b"x", 2)])
    assert is_lin([write("a", 0, 5, b"x", 2), write("b", 1, 2, b"y", 1)])


def test_indeterminate_write_that_took_effect_later():
    h = [
        write("a", 0, None, b"x", status=INFO, note="ConnectionLoss"),
        read("b", 1, 2, b"init", 0),
        read("b", 3, 4, b"init", 0),
        read("c", 50, 51, b"x", 1),        # long after the failure: still may happen
        read("b", 52, 53, b"x", 1),
    ]
    assert is_lin(h)
    # ... but once seen it cannot be unseen
    assert not is_lin(h + [read("b", 54, 55, b"init", 0)])


def test_indeterminate_write_that_never_happened():
    assert is_lin([
        write("a", 0, None, b"x", status=INFO),
        read("b", 1, 2, b"init", 0),
        write("b", 3, 4, b"y", 1),
        read("b", 5, 6, b"y", 1),
    ])


def test_indeterminate_write_not_before_its_invocation():
    assert not is_lin([
        read("b", 0, 1, b"x", 1),
        write("a", 2, None, b"x", status=INFO),
    ])


def test_indeterminate_write_counts_in_versions():
    # y acknowledged at version 2: the indeterminate x must have happened first
    assert is_lin([
        write("a", 0, None, b"x", status=INFO),
        write("b", 5, 6, b"y", 2),
        read("b", 7, 8, b"y", 2),
    ])
    # and without x there is nothing to make version 2
    assert not is_lin([write("b", 5, 6, b"y", 2), read("b", 7, 8, b"y", 2)])


def test_cas():
    # two cas from the same version cannot both succeed
    assert not is_lin([cas("a", 0, 1, 0, b"x"), cas("b", 2, 3, 0, b"y")])
    assert not is_lin([cas("a", 0, 10, 0, b"x"), cas("b", 0, 10, 0, b"y")])
    assert is_lin([cas("a", 0, 10, 0, b"x"), cas("b", 0, 10, 0, b"y", status=FAIL)])
    # BadVersion while the version was the expected one
    assert not is_lin([
        read("a", 0, 1, b"init", 0),
        cas("a", 2, 3, 0, b"x", status=FAIL),
        read("a", 4, 5, b"init", 0),
    ])
    # BadVersion is fine when a concurrent write moved the version
    assert is_lin([
        cas("a", 2, 3, 0, b"x", status=FAIL),
        write("b", 1, 6, b"y", 1),
        read("a", 7, 8, b"y", 1),
    ])


def test_indeterminate_cas_applies_only_at_its_version():
    assert is_lin([cas("a", 0, None, 0, b"x", status=INFO), read("b", 1, 2, b"x", 1)])
    # after another write the version is 1, so the cas (expecting 0) cannot apply
    assert not is_lin([
        write("b", 0, 1, b"y", 1),
        cas("a", 2, None, 0, b"x", status=INFO),
        read("b", 3, 4, b"x", 2),
    ])


def test_indeterminate_reads_are_dropped():
    assert is_lin([
        write("a", 0, 1, b"x", 1),
        lin.Op("b", READ, status=INFO, invoke=2),
        read("b", 3, 4, b"x", 1),
    ])


def test_shortest_bad_prefix_names_the_first_bad_op():
    h = [write("a", 0, 1, b"x", 1), write("a", 2, 3, b"y", 2)]
    h += [read("b", 10 + 2 * i, 11 + 2 * i, b"y", 2) for i in range(20)]
    h.append(read("b", 100, 101, b"x", 1))              # the bad one
    h += [read("b", 200 + 2 * i, 201 + 2 * i, b"x", 1) for i in range(5)]
    r = lin.check(h, INIT)
    assert r.ok is False
    assert r.culprit.invoke == 100


# ---------------------------------------------------------------- cross-checks

def brute_force(ops, initial):
    """Every subset of the indeterminate ops, every order respecting real
    time: the definition, for tiny histories."""
    ops = [op for op in ops if not (op.kind == READ and op.status != OK)]
    done = [op for op in ops if op.status != INFO]
    info = [op for op in ops if op.status == INFO]

    def precedes(a, b):
        return a.complete is not None and a.complete < b.invoke

    def legal(seq):
        value, version = initial
        for op in seq:
            if op.kind == READ:
                if op.result != (value, version):
                    return False
            elif op.kind == WRITE:
                if op.status == OK and op.result is not None and op.result != version + 1:
                    return False
                value, version = op.value, version + 1
            elif op.status == FAIL:
                if version == op.expected:
                    return False
            else:
                if version != op.expected:
                    return False
                value, version = op.value, version + 1
        return True

    for k in range(len(info) + 1):
        for extra in itertools.combinations(info, k):
            chosen = done + list(extra)
            for seq in itertools.permutations(chosen):
                if all(not precedes(seq[j], seq[i]) for i in range(len(seq))
                       for j in range(i + 1, len(seq))) and legal(seq):
                    return True
    return False


def random_small_history(rng, n):
    ops = []
    values = [b"a", b"b", b"c"]
    for i in range(n):
        t0 = rng.uniform(0, 10)
        t1 = t0 + rng.uniform(0, 4)
        kind = rng.choice([READ, WRITE, CAS])
        status = rng.choice([OK, OK, OK, INFO] + ([FAIL] if kind == CAS else []))
        if kind == READ:
            ops.append(read(i, t0, t1, rng.choice(values + [b"init"]), rng.randrange(3)))
        elif kind == WRITE:
            ver = rng.choice([None, rng.randrange(1, 4)])
            ops.append(write(i, t0, t1, rng.choice(values), ver, status=status))
        else:
            ops.append(cas(i, t0, t1, rng.randrange(3), rng.choice(values), status=status))
    return ops


def test_agrees_with_brute_force_on_random_small_histories():
    rng = random.Random(1234)
    counts = {True: 0, False: 0}
    for _ in range(3000):
        h = random_small_history(rng, rng.randrange(1, 7))
        want = brute_force(h, INIT)
        got = lin.check(h, INIT).ok
        assert got == want, "checker says %s, brute force %s:\n%s" % (
            got, want, "\n".join(str(op) for op in h))
        counts[want] += 1
    # both answers were exercised
    assert counts[True] > 300 and counts[False] > 300, counts


def simulate(rng, procs, n_ops, p_info=0.02, p_lost_info=0.5):
    """A history of a real atomic register: every op takes effect at a random
    instant inside its interval (an indeterminate one: somewhere after its
    invocation, or never). Linearizable by construction."""
    clock = [0.0] * procs
    # generate op intervals per process, then apply effects in time order
    plan = []
    uid = 0
    for _ in range(n_ops):
        p = rng.randrange(procs)
        t0 = clock[p] + rng.uniform(0, 1)
        t1 = t0 + rng.uniform(0.01, 3)
        clock[p] = t1
        kind = rng.choice([READ, READ, WRITE, CAS])
        info = rng.random() < p_info
        if info:
            eff = None if rng.random() < p_lost_info else t0 + rng.uniform(0, 30)
        else:
            eff = rng.uniform(t0, t1)
        uid += 1
        plan.append((p, kind, t0, t1, eff, info, uid))
    value, version = INIT
    effects = sorted((e for e in plan if e[4] is not None), key=lambda e: e[4])
    last_seen = {}
    ops = []
    for p, kind, t0, t1, eff, info, u in effects:
        if kind == READ:
            if not info:
                ops.append(read(p, t0, t1, value, version))
                last_seen[p] = version
        elif kind == WRITE:
            value, version = b"v%d" % u, version + 1
            ops.append(write(p, t0, t1, value, None if info else version,
                             status=INFO if info else OK))
        else:
            exp = last_seen.get(p, 0) + rng.choice([0, 0, 1, -1])
            if version == exp:
                value, version = b"v%d" % u, version + 1
                ops.append(cas(p, t0, t1, exp, value, status=INFO if info else OK))
            else:
                ops.append(cas(p, t0, t1, exp, b"v%d" % u, status=INFO if info else FAIL))
    for p, kind, t0, t1, eff, info, u in plan:
        if eff is None and kind == WRITE:
            ops.append(write(p, t0, None, b"v%d" % u, status=INFO))
        elif eff is None and kind == CAS:
            ops.append(cas(p, t0, None, rng.randrange(version + 2), b"v%d" % u, status=INFO))
    return ops


@pytest.mark.timeout(120)
def test_simulated_linearizable_histories_pass():
    rng = random.Random(99)
    for procs, n in ((2, 200), (5, 500), (5, 3000), (8, 1500)):
        h = simulate(rng, procs, n)
        t = time.monotonic()
        r = lin.check(h, INIT)
        assert r.ok is True, (procs, n, r.window())
        print("procs %d ops %d: linearizable, %.2fs" % (procs, len(h), time.monotonic() - t))


@pytest.mark.timeout(120)
def test_simulated_history_with_a_stale_read_fails():
    rng = random.Random(7)
    h = simulate(rng, 5, 1500, p_info=0.0)
    # make a late read return the value of a write that completed long before
    reads = [op for op in h if op.kind == READ and op.invoke > 300]
    victim = reads[len(reads) // 2]
    old = [op for op in h if op.kind == WRITE and op.complete is not None
           and op.complete < victim.invoke - 50][-1]
    victim.result = (old.value, old.result)
    r = lin.check(h, INIT)
    assert r.ok is False
    assert r.culprit.invoke == victim.invoke and r.culprit.kind == READ
    assert old.value.decode() in r.window()

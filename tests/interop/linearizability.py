"""A linearizability checker for one register modelled on a znode.

State: ``(value, version)`` -- the znode's data and its ``Stat.version``.
Operations (one ``Op`` each, with ``time.monotonic()`` invoke/complete stamps):

* ``write(v)``: ``setData(path, v, version=-1)``; always succeeds and makes
  the state ``(v, version + 1)``. ``result``, when known, is the version the
  server answered (``Stat.version``), which must be ``version + 1``.
* ``cas(expected_version, v)``: ``setData(path, v, expected_version)``.
  ``ok``: the version was ``expected_version``, the state becomes
  ``(v, expected_version + 1)``. ``fail`` (BadVersion): a *completed*
  operation that found another version and changed nothing.
* ``read()``: ``sync(path)`` then ``get(path)`` on the same session; ``result``
  is ``(value, version)``. (A plain ZooKeeper read is only sequentially
  consistent; sync + read is what a linearizable read has to be.)

Status ``info`` = indeterminate (connection loss, timeout, session expiry):
the operation may have taken effect at any point after its invocation, or
never; it has no completion. Indeterminate reads say nothing and are dropped.

The search is Wing & Gong's with Lowe's memoization (WGL, as in Lowe,
"Testing for linearizability", 2017, and Porcupine): the invocation and
completion events in time order form a doubly linked list; the search
linearizes ("lifts") a pending operation whose model step is legal, goes
back to the head, and backtracks when it reaches the completion of an
operation it has not linearized. A cache of (set of linearized operations,
model state) prunes configurations already explored. An indeterminate
operation has no completion event, so it never forces a backtrack and may
stay unlinearized; the history is linearizable once every completed
operation is linearized.

Memoization is exact because the model state is canonical: a written value
that no read ever returns is replaced by one sentinel (such values can only
be compared with read results, and all of them compare unequal alike).

``check(ops)`` answers a ``Result``; for a non-linearizable history it also
finds the shortest non-linearizable prefix (cut at an event; operations
still open at the cut become indeterminate), whose last event is the
completion of the operation that cannot be fitted, and ``Result.window()``
shows the operations around it.
"""
import collections
import dataclasses
import random

READ, WRITE, CAS = "read", "write", "cas"
OK, FAIL, INFO = "ok", "fail", "info"

_UNSEEN = ("<a value no read returned>",)


@dataclasses.dataclass
class Op:
    process: object          # the client (thread) that ran it
    kind: str                # READ | WRITE | CAS
    value: object = None     # WRITE, CAS: the value written
    expected: int = None     # CAS: the expected version
    status: str = OK         # OK | FAIL (CAS BadVersion) | INFO
    result: object = None    # READ: (value, version); WRITE/CAS ok: new version or None
    invoke: float = 0.0
    complete: float = None   # None for INFO
    note: str = ""           # e.g. the error of an indeterminate op
    id: int = -1             # set by check(): the index in the given list

    def __str__(self):
        if self.kind == READ:
            what = "read()"
        elif self.kind == WRITE:
            what = "write(%r)" % (self.value,)
        else:
            what = "cas(v%s -> %r)" % (self.expected, self.value)
        if self.status == INFO:
            res = "INDETERMINATE%s" % (" (%s)" % self.note if self.note else "")
        elif self.status == FAIL:
            res = "BadVersion"
        elif self.kind == READ:
            res = "-> (%r, v%s)" % self.result
        else:
            res = "ok" + (" v%s" % self.result if self.result is not None else "")
        end = "..." if self.complete is None else "%.4f" % self.complete
        return "#%-5d p=%-8s [%.4f, %s] %s %s" % (self.id, self.process, self.invoke, end,
                                                   what, res)


def read(process, invoke, complete, value, version, **kw):
    return Op(process, READ, status=OK, result=(value, version), invoke=invoke,
              complete=complete, **kw)


def write(process, invoke, complete, value, version=None, status=OK, **kw):
    return Op(process, WRITE, value=value, status=status, result=version, invoke=invoke,
              complete=None if status == INFO else complete, **kw)


def cas(process, invoke, complete, expected, value, status=OK, **kw):
    return Op(process, CAS, value=value, expected=expected, status=status,
              result=expected + 1 if status == OK else None, invoke=invoke,
              complete=None if status == INFO else complete, **kw)


class _Node:
    __slots__ = ("op", "is_call", "match", "prev", "next")

    def __init__(self, op, is_call):
        self.op, self.is_call = op, is_call
        self.match = None
        self.prev = self.next = None


def _step(state, op, canon):
    """The model: the state after ``op`` from ``state``, or None if illegal."""
    value, version = state
    if op.kind == READ:
        rv, rver = op.result
        return state if (canon(rv), rver) == state else None
    if op.kind == WRITE:
        if op.status == OK and op.result is not None and op.result != version + 1:
            return None
        return (canon(op.value), version + 1)
    # CAS
    if op.status == FAIL:
        return state if version != op.expected else None
    if version != op.expected:
        return None  # an indeterminate cas that failed = one that never happened
    return (canon(op.value), version + 1)


def _wgl(ops, initial, max_steps, exact=False):
    """True / False / None (gave up after max_steps). ops: no INFO reads.

    The cache keys name the set of linearized ops by the XOR of one tag per
    op: with ``exact`` the tag is a bit of its own (the key is the set),
    otherwise a random 64-bit number (constant-size keys; fast on long
    histories). A hash collision can only prune a branch, never invent a
    linearization, so True is exact either way; check() re-runs a False
    with ``exact``."""
    rng = random.Random(0)
    tag = {op.id: (1 << op.id) if exact else rng.getrandbits(64) for op in ops}
    seen = {op.result[0] for op in ops if op.kind == READ}
    seen.add(initial[0])

    def canon(v):
        return v if v in seen else _UNSEEN

    # "Twins": indeterminate ops whose value no read returns. Within a class
    # -- every blind write; the cas ops with one expected version -- they
    # differ only in their invocations: wherever one of a class can be
    # linearized, so can the earliest-invoked one not linearized yet (swap
    # the two; neither has a completion). So only that one is tried, and the
    # linearized ones of class i are always the first nxt[i] of members[i]
    # (in invocation order). Twins stay out of the event list (most never
    # took effect, and each would be rescanned at every step); at a
    # completion event, before backtracking, the next twin of each class
    # invoked by then is tried.
    classes = collections.defaultdict(list)
    for op in sorted((op for op in ops if op.status == INFO and canon(op.value) is _UNSEEN),
                     key=lambda op: (op.invoke, op.id)):
        classes[(op.kind, op.expected)].append(op)
    members = [classes[c] for c in sorted(classes, key=lambda c: (c[0], c[1] or 0))]
    write_class = None
    cas_class = {}
    for i, m in enumerate(members):
        if m[0].kind == WRITE:
            write_class = i
        else:
            cas_class[m[0].expected] = i
    twin_ids = {op.id for m in members for op in m}
    nxt = [0] * len(members)

    events = []
    for op in ops:
        if op.id in twin_ids:
            continue
        events.append((op.invoke, 0, op.id, True, op))
        if op.status != INFO:
            if op.complete is None or op.complete < op.invoke:
                raise ValueError("op %s: completion missing or before its invocation" % op)
            # at equal stamps a call sorts first: treated as concurrent
            events.append((op.complete, 1, op.id, False, op))
    events.sort(key=lambda e: e[:3])
    head = _Node(None, True)
    calls = {}
    prev = head
    for _, _, _, is_call, op in events:
        n = _Node(op, is_call)
        if is_call:
            calls[op.id] = n
        else:
            calls[op.id].match = n
        prev.next, n.prev = n, prev
        prev = n
    pending = sum(1 for op in ops if op.status != INFO)  # completed ops not yet linearized

    def lift(n):
        n.prev.next = n.next
        if n.next:
            n.next.prev = n.prev
        m = n.match
        if m:
            m.prev.next = m.next
            if m.next:
                m.next.prev = m.prev

    def unlift(n):
        m = n.match
        if m:
            m.prev.next = m
            if m.next:
                m.next.prev = m
        n.prev.next = n
        if n.next:
            n.next.prev = n

    state = (canon(initial[0]), initial[1])
    bits = 0
    cache = set()
    stack = []    # (node, state before, ci and twin class, or None, None)
    steps = 0
    entry = head.next
    ci = 0        # at a completion event: the next twin class to try
    while pending:
        steps += 1
        if steps > max_steps:
            return None
        if entry.is_call:
            op = entry.op
            new = _step(state, op, canon)
            if new is not None:
                nbits = bits ^ tag[op.id]
                key = (nbits, new)
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state, None, None))
                    state, bits = new, nbits
                    lift(entry)
                    if entry.match:
                        pending -= 1
                    entry, ci = head.next, 0
                    continue
            entry = entry.next
            continue
        # the completion of an op not linearized yet: first the twins
        # invoked by now, then undo the last choice
        t = entry.op.complete
        lifted = False
        while ci < 2:
            # ci 0: the blind writes; 1: the cas ops expecting this version
            # (no other cas can take effect now)
            i = write_class if ci == 0 else cas_class.get(state[1])
            if i is not None:
                k = nxt[i]
                if k < len(members[i]) and members[i][k].invoke <= t:
                    op = members[i][k]
                    new = _step(state, op, canon)
                    if new is not None:
                        nbits = bits ^ tag[op.id]
                        key = (nbits, new)
                        if key not in cache:
                            cache.add(key)
                            stack.append((entry, state, ci, i))
                            state, bits = new, nbits
                            nxt[i] += 1
                            lifted = True
                            break
            ci += 1
        if lifted:
            entry, ci = head.next, 0
            continue
        if not stack:
            return False
        node, state, c, i = stack.pop()
        if c is None:
            bits ^= tag[node.op.id]
            unlift(node)
            if node.match:
                pending += 1
            entry, ci = node.next, 0
        else:
            nxt[i] -= 1
            bits ^= tag[members[i][nxt[i]].id]
            entry, ci = node, c + 1
    return True


def _prefix(ops, cut):
    """The history up to time ``cut`` (exclusive of later events): ops invoked
    by then; those not complete by then become indeterminate."""
    out = []
    for op in ops:
        if op.invoke > cut:
            continue
        if op.complete is not None and op.complete <= cut:
            out.append(op)
        elif op.kind != READ:
            out.append(dataclasses.replace(op, status=INFO, complete=None))
    return out


@dataclasses.dataclass
class Result:
    ok: object               # True, False, or None (undecided: step budget spent)
    ops: list                # the checked history (ids = indexes)
    culprit: Op = None       # the completed op the shortest bad prefix ends with
    cut: float = None

    def window(self, before=12):
        """Text: the ops around the culprit -- every op overlapping it, the
        ``before`` ops that completed just before it was invoked, and the
        writes of the values it and they read."""
        if self.culprit is None:
            return ""
        c = self.culprit
        overl = [op for op in self.ops if op.invoke <= c.complete
                 and (op.complete is None or op.complete >= c.invoke)]
        prior = sorted((op for op in self.ops if op.complete is not None and op.complete < c.invoke),
                       key=lambda op: op.complete)[-before:]
        chosen = {op.id for op in overl + prior}
        read_values = {op.result[0] for op in self.ops if op.id in chosen and op.kind == READ
                       and op.status == OK}
        writers = [op for op in self.ops if op.kind != READ and op.value in read_values]
        chosen |= {op.id for op in writers}
        lines = ["the shortest non-linearizable prefix ends with the completion of:",
                 "  %s" % c, "ops around it (by invocation):"]
        for op in sorted((self.ops[i] for i in chosen), key=lambda op: (op.invoke, op.id)):
            lines.append(("=>" if op.id == c.id else "  ") + " %s" % op)
        return "\n".join(lines)


def check(ops, initial, max_steps=20_000_000):
    """Is the history ``ops`` (a list of Op, any order) of one register that
    starts at ``initial`` = (value, version) linearizable? Returns a Result."""
    ops = [dataclasses.replace(op, id=i) for i, op in enumerate(ops)]
    checked = [op for op in ops if not (op.kind == READ and op.status != OK)]
    for op in checked:
        if op.kind == CAS and op.expected is None:
            raise ValueError("cas without an expected version: %s" % op)
    ok = _wgl(checked, initial, max_steps)
    if ok is False:
        ok = _wgl(checked, initial, max_steps, exact=True)
    res = Result(ok, ops)
    if ok is False:
        res.cut = _shortest_bad_prefix(checked, initial, max_steps, exact=False)
        if _wgl(_prefix(checked, res.cut), initial, max_steps, exact=True) is not False:
            res.cut = _shortest_bad_prefix(checked, initial, max_steps, exact=True)
        res.culprit = [op for op in checked if op.complete == res.cut][0]
    return res


def _shortest_bad_prefix(checked, initial, max_steps, exact):
    """The completion stamp the shortest non-linearizable prefix ends at:
    bisection (a prefix of a linearizable history is linearizable, so being
    non-linearizable is monotone in the cut)."""
    stamps = sorted({op.complete for op in checked if op.complete is not None})
    lo, hi = 0, len(stamps) - 1  # the whole history (cut at stamps[-1]) is bad
    while lo < hi:
        mid = (lo + hi) // 2
        if _wgl(_prefix(checked, stamps[mid]), initial, max_steps, exact) is False:
            hi = mid
        else:
            lo = mid + 1
    return stamps[hi]


def by_key(ops_with_keys):
    """{key: [Op]} from (key, Op) pairs."""
    out = collections.defaultdict(list)
    for k, op in ops_with_keys:
        out[k].append(op)
    return out

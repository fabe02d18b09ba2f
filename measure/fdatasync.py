#!/usr/bin/env python3
"""fdatasync baseline on the filesystem of DIR (default /var/tmp).

    fdatasync.py [DIR] [N=1000] [BYTES=1024]

Two patterns, N times each, printing p50/p90/p99 in µs:
  append       os.write BYTES at the end of a growing file + os.fdatasync
               (every sync also commits the new size: an ext4 journal commit)
  prealloc     the same into a file preallocated (written with zeros + synced)
               beforehand, so fdatasync only flushes data blocks (what a
               preallocated txn log, ZooKeeper's or paddock's, pays)
"""
import os
import sys
import tempfile
import time


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def run(path, n, nbytes, prealloc):
    buf = b"x" * nbytes
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    if prealloc:
        os.write(fd, b"\0" * (nbytes * n + 4096))
        os.fsync(fd)
        os.lseek(fd, 0, os.SEEK_SET)
    lat = []
    for _ in range(n):
        t = time.perf_counter_ns()
        os.write(fd, buf)
        os.fdatasync(fd)
        lat.append((time.perf_counter_ns() - t) / 1000)
    os.close(fd)
    os.unlink(path)
    return lat


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    nbytes = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    fd, path = tempfile.mkstemp(prefix="fdatasync-", dir=d)
    os.close(fd)
    for name, pre in (("append", False), ("prealloc", True)):
        lat = run(path, n, nbytes, pre)
        print("%-9s %d x (write %d B + fdatasync) in %s: p50 %.0f us  p90 %.0f us  p99 %.0f us  mean %.0f us"
              % (name, n, nbytes, d, pct(lat, 50), pct(lat, 90), pct(lat, 99), sum(lat) / len(lat)))


if __name__ == "__main__":
    main()

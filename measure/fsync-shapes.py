#!/usr/bin/env python3
"""How the log's write shape changes fdatasync latency when several logs share a
disk (storage/mod.rs, "Writes: pwrite, not the mapping").

    measure/fsync-shapes.py MODE PROCS SYNCS BYTES
    MODE: falloc-mmap | zero-mmap | falloc-write | zero-write
    e.g. for m in falloc-mmap zero-mmap falloc-write zero-write; do
             python3 measure/fsync-shapes.py $m 3 3000 49152; done

Each process preallocates a 256 MiB file in BENCH_TMP (default /var/tmp; posix_fallocate,
or writes zeros and fsyncs), then appends BYTES and fdatasyncs SYNCS times; prints
the p50/p90/p99 of the fdatasyncs of all processes together."""
import os, sys, time, mmap, multiprocessing as mp
def worker(path, mode, n, size, q):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    total = 256 << 20
    if mode.startswith("falloc"):
        os.posix_fallocate(fd, 0, total)
    else:
        z = b"\0" * (1 << 20)
        for i in range(256): os.write(fd, z)
        os.fsync(fd)
    m = mmap.mmap(fd, total) if mode.endswith("mmap") else None
    buf = b"x" * size
    lat = []
    off = 0
    for i in range(n):
        if m is not None: m[off:off+size] = buf
        else: os.pwrite(fd, buf, off)
        off += size
        t = time.perf_counter(); os.fdatasync(fd); lat.append(time.perf_counter() - t)
    if m: m.close()
    os.close(fd); os.unlink(path)
    q.put(lat)
mode, procs, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
q = mp.Queue()
ps = [mp.Process(target=worker, args=(os.path.join(os.environ.get("BENCH_TMP", "/var/tmp"), "fsync-shapes-%d" % i), mode, n, size, q)) for i in range(procs)]
t0 = time.time()
[p.start() for p in ps]
lat = []
for p in ps: lat += q.get()
[p.join() for p in ps]
lat.sort()
print("%s procs=%d size=%d: p50 %.2f ms p90 %.2f p99 %.2f ms; %.1f s" % (mode, procs, size, lat[len(lat)//2]*1e3, lat[int(len(lat)*.9)]*1e3, lat[int(len(lat)*.99)]*1e3, time.time()-t0))

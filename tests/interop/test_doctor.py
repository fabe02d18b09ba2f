"""`paddock doctor` on this machine: every check reports, the exit code
matches the verdict, the measuring file is gone afterwards; under a seccomp
filter that blocks io_uring_setup, doctor exits 2 naming the filter and
the fix, and `paddock start` stops at once with the same words."""
import ctypes
import os
import platform
import struct
import subprocess

import pytest

from conftest import free_port
from opshelp import paddock_bin

TOPICS = ["config", "io_uring", "memlock", "dataDir", "dataLogDir", "devices", "log disk",
          "fsync", "swap", "cpus", "governor", "hugepages", "open files"]


def write_cfg(d):
    d = str(d)
    data = os.path.join(d, "data")
    log = os.path.join(d, "log")
    os.makedirs(data, exist_ok=True)
    os.makedirs(log, exist_ok=True)
    path = os.path.join(d, "zoo.cfg")
    with open(path, "w") as f:
        f.write("tickTime=2000\ndataDir=%s\ndataLogDir=%s\nclientPort=%d\n"
                % (data, log, free_port()))
    return path, log


def doctor(cfg, preexec=None, timeout=60):
    return subprocess.run([paddock_bin(), "doctor", "--config", cfg], capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, preexec_fn=preexec)


def test_doctor_reports_every_check_and_exits_by_its_verdict(tmp_path):
    cfg, log = write_cfg(tmp_path)
    result = doctor(cfg)
    out = result.stdout.decode()
    lines = out.splitlines()
    assert lines[0] == "paddock doctor: config %s" % cfg
    for topic in TOPICS:
        assert any(line[6:].startswith(topic + ":") for line in lines), (topic, out)
    verdict = lines[-1]
    expected = {0: "verdict: fit", 1: "verdict: runs, with",
                2: "verdict: paddock cannot run here"}[result.returncode]
    assert verdict.startswith(expected), out
    tags = {line[:4] for line in lines[1:-1] if not line.startswith(" ")}
    assert tags <= {"ok  ", "WARN", "FAIL"}, out
    assert result.returncode == (2 if "FAIL" in tags else 1 if "WARN" in tags else 0)
    fsync = next(line for line in lines if line[6:].startswith("fsync:"))
    assert "p50" in fsync and "p99" in fsync and "max" in fsync
    # dataDir and dataLogDir are on one device here: said, with the fix.
    assert "share device" in out
    # progress went to stderr, the measuring file was removed
    assert "measuring fdatasync in %s" % log in result.stderr.decode()
    assert os.listdir(log) == []


def test_doctor_bad_config_exits_2(tmp_path):
    path = os.path.join(str(tmp_path), "zoo.cfg")
    with open(path, "w") as f:
        f.write("tickTime=banana\n")
    result = doctor(path)
    assert result.returncode == 2
    assert "tickTime" in result.stderr.decode()


# A seccomp filter that makes io_uring_setup fail with EPERM, as Docker's
# default profile does: load the syscall number, compare, return.
SYS_IO_URING_SETUP = 425
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1


def block_io_uring():
    program = b"".join([
        struct.pack("HBBI", 0x20, 0, 0, 0),                       # ld [nr]
        struct.pack("HBBI", 0x15, 0, 1, SYS_IO_URING_SETUP),      # jeq 425
        struct.pack("HBBI", 0x06, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        struct.pack("HBBI", 0x06, 0, 0, SECCOMP_RET_ALLOW),
    ])
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program)

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


needs_x86_64 = pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"),
                                  reason="io_uring_setup is 425 on x86_64/aarch64")


@needs_x86_64
def test_doctor_under_a_seccomp_filter_exits_2_with_the_fix(tmp_path):
    cfg, _ = write_cfg(tmp_path)
    result = doctor(cfg, preexec=block_io_uring)
    out = result.stdout.decode()
    assert result.returncode == 2, out
    line = next(line for line in out.splitlines() if line[6:].startswith("io_uring:"))
    assert line.startswith("FAIL"), out
    assert "seccomp filter blocks io_uring_setup" in line
    assert "--security-opt seccomp=deploy/seccomp-io_uring.json" in out
    assert "cannot run here" in out.splitlines()[-1]


@needs_x86_64
def test_start_under_a_seccomp_filter_fails_at_once_with_the_fix(tmp_path):
    cfg, _ = write_cfg(tmp_path)
    result = subprocess.run([paddock_bin(), "start", "--config", cfg], capture_output=True,
                            timeout=30, stdin=subprocess.DEVNULL, preexec_fn=block_io_uring)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "io_uring is not allowed here" in err
    assert "seccomp" in err and "--security-opt seccomp=deploy/seccomp-io_uring.json" in err

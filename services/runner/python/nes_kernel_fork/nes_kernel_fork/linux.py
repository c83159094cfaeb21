"""The few Linux system calls the fork server needs that Python's `os` lacks before 3.12.

`setns` joins a sandbox's namespaces, `SO_PEERPIDFD` names the process at the other end of a
Unix socket without a pid-reuse race, and `prctl`/`capset` drop privileges the way `setpriv`
does for a normally started kernel.
"""

import ctypes
import ctypes.util
import os
import socket
import struct

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Namespace files under /proc/PID/ns, with the flag that joins each.
NAMESPACES = {
    "user": CLONE_NEWUSER,
    "mnt": CLONE_NEWNS,
    "pid": CLONE_NEWPID,
    "net": CLONE_NEWNET,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "cgroup": CLONE_NEWCGROUP,
}

SO_PEERCRED = 17
SO_PEERPIDFD = 77  # Linux 6.5
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_CHILD_SUBREAPER = 36
SYS_PIDFD_OPEN = 434  # the same number on every architecture since 5.3


def _check(result: int, what: str) -> int:
    if result == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def setns(fd: int, flags: int) -> None:
    _check(_libc.setns(fd, flags), "setns")


def prctl(option: int, arg2: int = 0) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg2), 0, 0, 0), f"prctl({option})")


def peer_credentials(sock: socket.socket) -> tuple:
    """(pid, uid, gid) of the process that connected, as this process's namespaces see them."""
    data = sock.getsockopt(socket.SOL_SOCKET, SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", data)


def peer_pidfd(sock: socket.socket, pid: int) -> int:
    """A pidfd for the connecting process: from the socket itself where the kernel offers it (no
    race with pid reuse), else opened by pid (the peer is still connected, so it is alive)."""
    try:
        return sock.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD)
    except OSError:
        return _check(_libc.syscall(SYS_PIDFD_OPEN, pid, 0), "pidfd_open")


def namespace_differs(pid: int, name: str) -> bool:
    return os.stat(f"/proc/{pid}/ns/{name}").st_ino != os.stat(f"/proc/self/ns/{name}").st_ino


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_bounding_set() -> None:
    """Empties the capability bounding set (while CAP_SETPCAP is still held: before setuid)."""
    cap = 0
    while True:
        if _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) == -1:
            if ctypes.get_errno() == 22:  # EINVAL: past the last capability
                break
            _check(-1, "prctl(PR_CAPBSET_DROP)")
        cap += 1


def drop_remaining_capabilities() -> None:
    """After setuid to a non-root user: no capability in any set, no ambient ones, no new
    privileges (with the bounding set dropped, what `setpriv --inh-caps=-all
    --bounding-set=-all --no-new-privs` gives a normally started kernel)."""
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)

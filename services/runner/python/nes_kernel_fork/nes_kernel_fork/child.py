"""What a freshly forked child does to become a kernel indistinguishable from a normally started
one: the client's namespaces, user and groups, no capabilities; a session of its own; the
client's stdio, working directory, environment and argv; state that must differ between kernels
made new (random seeds, temporary names); then ipykernel's own start-up, as `python -m
ipykernel_launcher` would run it.

Shared with every sibling and not changed here: str/bytes hash randomization (PYTHONHASHSEED is
fixed when an interpreter starts) and whatever the preloaded modules computed at import.
"""

import ctypes
import glob
import json
import os
import random
import signal
import sys

from . import linux


def become_kernel(*, report, pidfd, join, credentials, argv, env, cwd, stdio) -> None:
    code = 1
    try:
        _reset_signals()
        if join:
            # Mount, network, IPC, UTS and cgroup namespaces of the client, at once (setns with a
            # pidfd); the pid namespace was entered by the fork itself.
            linux.setns(pidfd, join)
        if credentials is not None:
            uid, gid, groups = credentials
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            if uid != 0:
                linux.drop_bounding_set()
            os.setresuid(uid, uid, uid)  # from root to another user: capabilities are cleared
            if uid != 0:
                linux.drop_remaining_capabilities()
        os.setsid()
        os.chdir(cwd)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        os.write(report, (json.dumps({"ok": True, "pid": os.getpid()}) + "\n").encode())
        _close_fds_from(3)
        _become_fresh(env, cwd)
        code = _run_ipykernel(argv)
    except BaseException as error:  # noqa: BLE001 -- the template must hear about any failure
        try:
            message = {"ok": False, "error": f"fork failed: {type(error).__name__}: {error}"}
            os.write(report, (json.dumps(message) + "\n").encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def _reset_signals() -> None:
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _close_fds_from(low: int) -> None:
    os.closerange(low, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 65536)


def _become_fresh(env: dict, cwd: str) -> None:
    pinned = [name for name in os.environ.get("NES_FORK_PINNED_BLAS", "").split(",") if name]
    os.environ.clear()
    os.environ.update(env)
    # `python -m` puts the working directory first on sys.path (ipykernel_launcher then drops an
    # empty entry): a notebook imports modules next to it.
    sys.path[0] = cwd
    sys.argv = ["ipykernel_launcher"]
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile._name_sequence = None  # its random name generator is re-made on next use
    if pinned and not any(name in env for name in pinned):
        _restore_blas_threads()


def _restore_blas_threads() -> None:
    """The template imported numpy with a one-thread BLAS pool (threads cannot cross a fork):
    give this kernel the pool size a normal start would have (one per CPU)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return
    libs = os.path.join(os.path.dirname(os.path.dirname(numpy.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(libs, "*openblas*.so*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads"):
            setter = getattr(lib, symbol, None)
            if setter is not None:
                setter(ctypes.c_int(len(os.sched_getaffinity(0))))
                return


def _run_ipykernel(argv: "list[str]") -> int:
    # argv was checked by the provisioner: [python, -m, ipykernel_launcher, args...].
    from ipykernel import kernelapp

    try:
        app = kernelapp.IPKernelApp.instance()
        # ipykernel read $JPY_PARENT_PID when the template imported it (unset there). Its own
        # poller watches the parent *process*, which here is the template: a forked kernel
        # watches the server that asked for it instead, and 1 tells ipykernel it has a parent.
        app.parent_handle = 1
        _exit_with(int(os.environ.get("JPY_PARENT_PID") or 0))
        app.initialize(argv[3:])
        _follow_matplotlib_backend()
        app.start()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    finally:
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
    return 0


def _exit_with(server_pid: int) -> None:
    """Exits when the server that started this kernel is gone, as a normally started kernel
    does (ipykernel's ParentPollerUnix); the template dying does not end its kernels."""
    if server_pid <= 1:
        return
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="nes-server-watch", daemon=True).start()


def _follow_matplotlib_backend() -> None:
    """matplotlib reads $MPLBACKEND once, at import: in a template that imported it, take the
    backend ipykernel has just chosen (inline figures), as a fresh import would."""
    matplotlib = sys.modules.get("matplotlib")
    backend = os.environ.get("MPLBACKEND")
    if matplotlib is not None and backend:
        matplotlib.rcParams["backend"] = backend
        for cached in ("get_configdir", "get_cachedir"):
            clear = getattr(getattr(matplotlib, cached, None), "cache_clear", None)
            if clear is not None:
                clear()

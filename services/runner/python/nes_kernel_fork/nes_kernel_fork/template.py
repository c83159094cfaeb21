"""The template process: imports ipykernel, IPython and a configured list of modules once, then
forks a fresh kernel for each request on its Unix socket.

    python -m nes_kernel_fork.template --socket PATH [--preload numpy,matplotlib]

The fork-safety rule: the template holds no threads, no sockets to anything but its clients, no
event loop and no open files of a kernel when it forks. Imports only; nothing is run. A module
whose import starts a thread (a BLAS thread pool, a telemetry client) would leave the child with
a lock held by a thread that does not exist there, so the template counts its threads
(/proc/self/task, which sees native threads too) after the imports and before every fork, and
refuses to serve (exit status 3) or to fork (an error answer) when there is more than one.
BLAS pools are the common case: they are pinned to one thread while the template imports and
given back their size in each child (child.py).

Each child joins the namespaces of the process that asked (its sandbox), takes its user, groups
and no capabilities, and becomes an ipykernel in its own session (child.py). The template reaps
its children and tells each client its kernel's exit status; it is a child subreaper, so a kernel
is reaped by it even when its own parent is gone.
"""

import argparse
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import time

from . import linux
from .protocol import LineReader, send

# Always imported: what every kernel start imports anyway.
BASE_MODULES = ["ipykernel.kernelapp", "ipykernel.ipkernel", "IPython", "zmq", "tornado.ioloop"]
BLAS_THREAD_VARIABLES = ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]


class TemplateError(Exception):
    pass


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def thread_names() -> "list[str]":
    names = []
    for tid in sorted(os.listdir("/proc/self/task")):
        try:
            with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as f:
                names.append(f"{tid}:{f.read().strip()}")
        except OSError:
            pass
    return names


def preload(modules: "list[str]") -> dict:
    """Imports the modules; returns {name: {"ok", "ms"| "error"}} in import order."""
    pinned = [name for name in BLAS_THREAD_VARIABLES if name not in os.environ]
    for name in pinned:
        os.environ[name] = "1"
    report = {}
    for name in [*BASE_MODULES, *modules]:
        start = time.perf_counter()
        try:
            importlib.import_module(name)
            report[name] = {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1)}
        except Exception as error:  # a missing optional module is reported, not fatal
            report[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    for name in pinned:
        del os.environ[name]
    os.environ["NES_FORK_PINNED_BLAS"] = ",".join(pinned)
    return report


class Template:
    def __init__(self, socket_path: str, modules: dict, lifeline: bool = False):
        self.socket_path = socket_path
        self.modules = modules
        self.own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.is_root = os.geteuid() == 0
        self.kernels = {}  # host pid -> client socket
        self.forks = 0
        self.selector = selectors.DefaultSelector()
        self.wakeup_read, wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the loop; reaping happens there
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, self._stop)
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.listener.bind(socket_path)
        # Any process that can reach the socket may ask; it gets a kernel with only its own
        # namespaces, user and groups (see fork), so the socket grants nothing new. The
        # directory the socket lives in decides who can reach it.
        os.chmod(socket_path, 0o666)
        self.listener.listen(64)
        self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
        self.selector.register(self.wakeup_read, selectors.EVENT_READ, self._reap)
        if lifeline:
            # stdin is a pipe whose other end only the starting service holds: it reads end of
            # file when that service is gone, however it went (even SIGKILL), and a template must
            # never outlive the service that put its socket into the sandboxes.
            self.selector.register(sys.stdin.buffer.raw, selectors.EVENT_READ, self._lifeline)
        self.running = True

    def _lifeline(self, stdin) -> None:
        if not stdin.read(4096):
            self.running = False

    def _stop(self, *_):
        self.running = False

    def status(self) -> dict:
        return {
            "ok": True,
            "pid": os.getpid(),
            "python": sys.executable,
            "modules": self.modules,
            "forks": self.forks,
            "kernels": len(self.kernels),
            "threads": thread_count(),
        }

    def serve(self) -> None:
        try:
            while self.running:
                for key, _events in self.selector.select(timeout=1.0):
                    key.data(key.fileobj)
                self._reap(None)
        finally:
            self.listener.close()
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass

    def _accept(self, listener) -> None:
        try:
            client, _ = listener.accept()
        except BlockingIOError:
            return
        client.set_inheritable(False)
        client.settimeout(5.0)
        reader = LineReader(client)
        try:
            message = reader.read()
            if message is None:
                client.close()
                return
            op = message.get("op")
            if op == "status":
                send(client, self.status())
                client.close()
            elif op == "fork":
                self._fork(client, message, reader.take_fds())
            else:
                send(client, {"ok": False, "error": f"unknown op {op!r}"})
                client.close()
        except (OSError, ValueError, TemplateError) as error:
            # The service's log says why a kernel was started normally instead.
            print(f"nes-kernel-fork: fork refused: {error}", file=sys.stderr, flush=True)
            for fd in reader.take_fds():
                os.close(fd)
            try:
                send(client, {"ok": False, "error": str(error)})
            except OSError:
                pass
            client.close()

    def _fork(self, client: socket.socket, request: dict, fds: "list[int]") -> None:
        try:
            if len(fds) != 3:
                raise TemplateError("a fork request carries the kernel's stdin, stdout and stderr")
            argv, env, cwd = request.get("argv"), request.get("env"), request.get("cwd")
            if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
                raise TemplateError("argv must be a list of strings")
            if argv[1:3] != ["-m", "ipykernel_launcher"]:
                raise TemplateError("the template forks only `python -m ipykernel_launcher ...`")
            if not os.path.isabs(argv[0]) or _environment(argv[0]) != _environment(sys.executable):
                raise TemplateError(
                    f"{argv[0]} is not this template's Python environment ({sys.executable})"
                )
            if not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
                raise TemplateError("env must map names to strings")
            if not isinstance(cwd, str):
                raise TemplateError("cwd must be a path")
            threads = thread_count()
            if threads != 1:
                raise TemplateError(
                    f"the template has {threads} threads ({', '.join(thread_names())}): "
                    "forking it is unsafe; start kernels normally"
                )
            pid, uid, gid = linux.peer_credentials(client)
            join = 0
            for name, flag in linux.NAMESPACES.items():
                if linux.namespace_differs(pid, name):
                    join |= flag
            if join & linux.CLONE_NEWUSER:
                raise TemplateError(
                    "the client is in another user namespace: forking into it is not supported"
                )
            if not self.is_root and (join or uid != os.geteuid()):
                raise TemplateError("an unprivileged template can fork only for its own user")
            groups = _supplementary_groups(pid)
            pidfd = linux.peer_pidfd(client, pid)
            self._spawn(client, pidfd, join, uid, gid, groups, argv, env, cwd, fds)
        finally:
            for fd in fds:
                os.close(fd)

    def _spawn(self, client, pidfd, join, uid, gid, groups, argv, env, cwd, fds) -> None:
        from . import child

        report_read, report_write = os.pipe2(os.O_CLOEXEC)
        try:
            # A new pid namespace applies to children only: the child is born inside the
            # client's, and the template goes straight back to its own.
            if join & linux.CLONE_NEWPID:
                linux.setns(pidfd, linux.CLONE_NEWPID)
            try:
                pid = os.fork()
            except BaseException:
                self._restore_pid_namespace(join)
                raise
            # Only the template goes back: the child is in the new namespace for good (and
            # could not rejoin an ancestor's).
            if pid != 0:
                self._restore_pid_namespace(join)
            if pid == 0:  # the child never returns to the template's loop, whatever happens
                try:
                    child.become_kernel(
                        report=report_write,
                        pidfd=pidfd,
                        join=join & ~linux.CLONE_NEWPID,
                        credentials=(uid, gid, groups) if self.is_root else None,
                        argv=argv,
                        env=env,
                        cwd=cwd,
                        stdio=fds,
                    )
                finally:
                    os._exit(1)
            os.close(report_write)
            report_write = -1
            with os.fdopen(report_read, "rb", closefd=False) as pipe:
                line = pipe.readline()
            if line:
                answer = json.loads(line)
            else:
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                answer = {"ok": False, "error": f"the child died before it was a kernel ({code})"}
        finally:
            os.close(pidfd)
            os.close(report_read)
            if report_write != -1:
                os.close(report_write)
        self.forks += 1
        if not answer.get("ok"):
            print(f"nes-kernel-fork: {answer.get('error')}", file=sys.stderr, flush=True)
        send(client, answer)
        if answer.get("ok"):
            self.kernels[pid] = client
        else:
            client.close()

    def _restore_pid_namespace(self, join: int) -> None:
        if join & linux.CLONE_NEWPID:
            linux.setns(self.own_pid_namespace, linux.CLONE_NEWPID)

    def _reap(self, _fileobj) -> None:
        try:
            while os.read(self.wakeup_read, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            client = self.kernels.pop(pid, None)
            if client is not None:
                code = os.waitstatus_to_exitcode(status)
                try:
                    send(client, {"exit": code})
                except OSError:
                    pass
                client.close()


def _environment(python: str) -> str:
    # A venv's bin/python links to the base interpreter: the environment is its directory.
    return os.path.realpath(os.path.dirname(python))


def _supplementary_groups(pid: int) -> "list[int]":
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("Groups:"):
                return [int(g) for g in line.split()[1:]]
    return []


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nes_kernel_fork.template")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument(
        "--preload",
        default=os.environ.get("NES_FORK_PRELOAD", ""),
        help="comma-separated modules to import besides ipykernel and IPython "
        "(default $NES_FORK_PRELOAD)",
    )
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="exit when stdin reaches end of file (the starting process is gone)",
    )
    args = parser.parse_args(argv)
    modules = preload([m.strip() for m in args.preload.split(",") if m.strip()])
    threads = thread_count()
    if threads != 1:
        print(
            f"nes-kernel-fork: refusing to serve: importing {args.preload or 'the base modules'} "
            f"left {threads} threads ({', '.join(thread_names())}); a fork would copy their "
            "locks but not them. Remove the module from the preload list.",
            file=sys.stderr,
        )
        return 3
    # Everything imported so far is shared with every kernel: keep the collector from touching
    # it (a collection writes to every object it visits, which would copy their pages into each
    # child), as pre-fork servers do.
    gc.collect()
    gc.freeze()
    template = Template(args.socket, modules, lifeline=args.exit_with_stdin)
    # One line on stdout says the template is ready and what it imported.
    print(json.dumps({"ready": True, **template.status()}), flush=True)
    template.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

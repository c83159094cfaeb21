"""A run's kernel, started inside its sandbox without a Jupyter Server:

    python -I -S .../nes_kernel_fork/launch.py [--fork-socket PATH] -- KERNEL_ARGV...

With a fork server (template.py) it asks for the kernel there, so the kernel is forked into this
process's namespaces, user and working directory (the template reads them from the socket, not
from the request), and stays until the kernel exits, exiting with the kernel's status: the
sandbox's life is the kernel's. Without one, when the template refuses, or when the environment
sets PYTHONHASHSEED (a forked kernel keeps the template's str hash seed), it becomes the kernel
itself (exec of KERNEL_ARGV, a normal start).

It runs with `-I -S` (no site, no user paths): a bare interpreter starts in a few milliseconds,
and nothing of the kernel environment is imported before the fork. Only the standard library and
protocol.py are used.
"""

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nes_kernel_fork.protocol import ForkRefused, LineReader, request_fork  # noqa: E402

SOCKET_VARIABLE = "NES_FORK_SERVER"


def _start_normally(argv: "list[str]", why: str) -> None:
    if why:
        print(f"nes-kernel-fork: starting the kernel normally ({why})", file=sys.stderr, flush=True)
    os.environ.pop(SOCKET_VARIABLE, None)
    os.execv(argv[0], argv)


def _exit_like(code: int) -> None:
    """Ends this process as the kernel ended: its exit code, or death by its signal."""
    if code < 0:
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if 0 <= code < 256 else 1)


def _forked(path: str, argv: "list[str]") -> "tuple[socket.socket, LineReader, int]":
    env = {name: value for name, value in os.environ.items() if name != SOCKET_VARIABLE}
    # The forked kernel watches this process (ipykernel's parent poller): if it goes, so does
    # the kernel, even where no pid namespace ends with it (an unsandboxed run).
    env["JPY_PARENT_PID"] = str(os.getpid())
    return request_fork(path, argv, env, os.getcwd(), [0, 1, 2])


def main(args: "list[str]") -> None:
    path = os.environ.get(SOCKET_VARIABLE, "")
    if args[:1] == ["--fork-socket"]:
        path, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: launch.py [--fork-socket PATH] -- KERNEL_ARGV...", file=sys.stderr)
        os._exit(2)
    if not path:
        _start_normally(args, "")
    if os.environ.get("PYTHONHASHSEED"):
        # A seed of its own was asked for: a forked kernel keeps the template's (fixed when an
        # interpreter starts), so only a normal start can honour it.
        _start_normally(args, "PYTHONHASHSEED is set")
    try:
        connection, reader, pid = _forked(path, args)
    except (OSError, ValueError, ForkRefused) as error:
        _start_normally(args, str(error))
        return

    def stop(signum, _frame):
        # The kernel made its own session: end it and what it started.
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _exit_like(-signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the kernel's, not ours
    connection.settimeout(None)
    try:
        message = reader.read()
    except (OSError, ValueError):
        message = None
    if message is not None and "exit" in message:
        _exit_like(int(message["exit"]))
    # The template is gone (its kernels live on): follow the kernel by its pid.
    connection.close()
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        time.sleep(0.2)


if __name__ == "__main__":
    main(sys.argv[1:])

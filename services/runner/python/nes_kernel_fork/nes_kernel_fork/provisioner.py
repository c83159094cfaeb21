"""A jupyter_client kernel provisioner that asks a fork server (template.py) for the kernel and
starts it normally when there is none.

Selected per kernelspec, the way Jupyter is extended:

    "metadata": {"kernel_provisioner": {"provisioner_name": "nes-fork-provisioner"}}

It finds the template's socket in `$NES_FORK_SERVER` (in the environment of the Jupyter Server or
KernelManager that starts kernels) or the kernelspec's `config.socket`. Without either, or when
the template is not there, refuses, or the command is not `python -m ipykernel_launcher` of the
template's own environment, the kernel starts exactly as LocalProvisioner starts it. Everything
after the launch (polling, signals, interrupt, kill, restart) is LocalProvisioner's, working on
a Popen-like handle of the forked kernel.
"""

import os
import signal
import socket
import sys
import time
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Unicode

from .protocol import ForkRefused, LineReader, request_fork, send

SOCKET_VARIABLE = "NES_FORK_SERVER"


class ForkedKernelProcess:
    """The part of subprocess.Popen that LocalProvisioner uses, for a kernel that is not our child:
    its exit status arrives from the template on the connection that asked for it."""

    stdin = stdout = stderr = None

    def __init__(self, connection: socket.socket, reader: LineReader, pid: int):
        self.pid = pid
        self.returncode = None
        self._connection = connection
        self._reader = reader
        connection.setblocking(False)

    def poll(self) -> "int | None":
        if self.returncode is not None:
            return self.returncode
        if self._connection is not None:
            try:
                message = self._reader.read()
            except (BlockingIOError, InterruptedError):
                return None
            except (OSError, ValueError):
                message = None
            if message is not None and "exit" in message:
                self._finish(int(message["exit"]))
                return self.returncode
            # The template is gone (its kernels live on): watch the pid from here on.
            self._close()
        try:
            os.kill(self.pid, 0)
            return None
        except ProcessLookupError:
            self._finish(-signal.SIGKILL)  # status unknown: it died without the template seeing
            return self.returncode
        except PermissionError:
            return None

    def wait(self, timeout: "float | None" = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"kernel {self.pid} still running")
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _finish(self, code: int) -> None:
        self.returncode = code
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def fork_kernel(path: str, cmd: "list[str]", env: dict, cwd: str, stdio: "list[int]",
                timeout: float = 10.0) -> ForkedKernelProcess:
    """Asks the template at `path` for a kernel running `cmd`; raises OSError or ForkRefused."""
    return ForkedKernelProcess(*request_fork(path, cmd, env, cwd, stdio, timeout))


def template_status(path: str, timeout: float = 5.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as connection:
        connection.settimeout(timeout)
        connection.connect(path)
        send(connection, {"op": "status"})
        answer = LineReader(connection).read()
        if answer is None:
            raise ForkRefused("the template closed the connection")
        return answer


def _fd_of(stream: Any, default: int) -> int:
    if stream is None:
        return default
    if isinstance(stream, int):
        return stream
    return stream.fileno()


class ForkProvisioner(LocalProvisioner):
    socket = Unicode("", config=True, help="The fork server's socket (default $NES_FORK_SERVER)")

    forked = False

    def _socket_path(self) -> str:
        return self.socket or os.environ.get(SOCKET_VARIABLE, "")

    async def pre_launch(self, **kwargs: Any) -> "dict[str, Any]":
        kwargs = await super().pre_launch(**kwargs)
        # The kernel has no use for the template's address (a normally started one would not
        # have it either).
        env = kwargs.get("env")
        if isinstance(env, dict):
            env.pop(SOCKET_VARIABLE, None)
        return kwargs

    async def launch_kernel(self, cmd: "list[str]", **kwargs: Any) -> KernelConnectionInfo:
        path = self._socket_path()
        self.forked = False
        if path:
            env = kwargs.get("env")
            env = dict(os.environ if env is None else env)
            env.pop(SOCKET_VARIABLE, None)
            cwd = str(kwargs.get("cwd") or os.getcwd())
            with open(os.devnull, "rb") as devnull:
                stdio = [
                    devnull.fileno(),
                    _fd_of(kwargs.get("stdout"), sys.__stdout__.fileno()),
                    _fd_of(kwargs.get("stderr"), sys.__stderr__.fileno()),
                ]
                try:
                    process = fork_kernel(path, cmd, env, cwd, stdio)
                except (OSError, ForkRefused, ValueError) as error:
                    self.log.warning(
                        "Kernel %s: no forked kernel (%s); starting it normally",
                        kwargs.get("kernel_id", ""),
                        error,
                    )
                else:
                    self.process = process
                    self.pid = process.pid
                    self.pgid = process.pid  # the child made its own session
                    self.cwd = cwd
                    self.forked = True
                    return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)

    async def get_provisioner_info(self) -> dict:
        info = await super().get_provisioner_info()
        info["forked"] = self.forked
        return info

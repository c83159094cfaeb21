"""The fork server's wire format: one JSON object per line over a Unix stream socket.

A client sends `{"op": "fork", "argv": [...], "env": {...}, "cwd": "..."}` with its kernel's
stdin, stdout and stderr attached (SCM_RIGHTS), and reads `{"ok": true, "pid": N}` (the pid as
the client's namespaces see it) or `{"ok": false, "error": "..."}`; the connection then stays open
and carries `{"exit": CODE}` when the kernel exits (CODE as subprocess reports it: negative for a
signal). `{"op": "status"}` answers what the template imported.
"""

import json
import socket

MAX_LINE = 1 << 20
MAX_FDS = 3


def send(sock: socket.socket, message: dict, fds: "list[int] | None" = None) -> None:
    data = (json.dumps(message) + "\n").encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


class LineReader:
    """Reads whole lines (and any file descriptors that came with them) from a stream socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.fds: "list[int]" = []

    def read(self) -> "dict | None":
        """The next message, or None at end of stream. Blocks according to the socket's mode."""
        while b"\n" not in self.buffer:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, MAX_FDS)
            self.fds.extend(fds)
            if not data:
                return None
            self.buffer += data
            if len(self.buffer) > MAX_LINE:
                raise ValueError("message too long")
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("a message must be a JSON object")
        return message

    def take_fds(self) -> "list[int]":
        fds, self.fds = self.fds, []
        return fds


class ForkRefused(Exception):
    """The template answered a fork request with an error, or closed the connection."""


def request_fork(path: str, argv: "list[str]", env: dict, cwd: str, stdio: "list[int]",
                 timeout: float = 10.0) -> "tuple[socket.socket, LineReader, int]":
    """Asks the template at `path` for a kernel running `argv` with `stdio` as its stdin, stdout
    and stderr: the open connection (which later carries the exit), its reader and the kernel's
    pid. Raises OSError, ValueError or ForkRefused, and closes the connection if it does."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        connection.settimeout(timeout)
        connection.connect(path)
        send(connection, {"op": "fork", "argv": argv, "env": env, "cwd": cwd}, stdio)
        reader = LineReader(connection)
        answer = reader.read()
        if answer is None:
            raise ForkRefused("the template closed the connection")
        if not answer.get("ok"):
            raise ForkRefused(str(answer.get("error", "refused")))
        return connection, reader, int(answer["pid"])
    except BaseException:
        connection.close()
        raise

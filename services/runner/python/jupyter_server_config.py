# Jupyter Server configuration for the runner's private server (loaded with --config).
#
# Each setting fixes a measured problem with stock Jupyter Server when one client drives one
# kernel as fast as it can:
#   - Nagle's algorithm on kernel websockets adds ~40 ms to every cell: disable it (TCP_NODELAY).
#   - IOPub rate limiting silently drops output above ~1 MB/s: a job must keep all its output.
#   - The restarter polls a kernel every 3 s by default: poll faster so a dead kernel is noticed.
#   - No browser, no terminals, warnings only (the runner's stderr stays readable).
#   - The server stops itself when the runner that started it is gone, even after a SIGKILL.
#   - The access token comes from the runner and is kept out of the kernels' environment.
import os
import signal
import threading
import time

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

c = get_config()  # noqa: F821 -- provided by traitlets when it executes this file


class NoDelayChannelsConnection(ZMQChannelsWebsocketConnection):
    """Kernel websocket bridge that sends each message at once (TCP_NODELAY)."""

    async def connect(self):
        self.websocket_handler.set_nodelay(True)
        return await super().connect()


c.ServerApp.kernel_websocket_connection_class = NoDelayChannelsConnection
c.ZMQChannelsWebsocketConnection.limit_rate = False
c.KernelRestarter.time_to_dead = 0.5
c.ServerApp.open_browser = False
c.ServerApp.terminals_enabled = False
c.ServerApp.log_level = "WARN"
c.ServerApp.port_retries = 0
c.ServerApp.allow_root = True  # containers often run as root; the server is loopback-only


def _stop_when_parent_exits(parent_pid):
    # The runner spawns the server directly: once it dies the server is re-parented.
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


# The runner passes the token in a one-use file (its path in the environment) and deletes the
# file here: the token is then in neither the kernels' environment nor this process's
# /proc/PID/environ (which keeps the initial environment even after os.environ changes), so a
# notebook cannot read it from its parent.
_token_file = os.environ.pop("NES_JUPYTER_TOKEN_FILE", None)
if _token_file:
    with open(_token_file, encoding="utf-8") as _f:
        c.IdentityProvider.token = _f.read().strip()
    try:
        os.unlink(_token_file)
    except OSError:
        pass

_parent = os.environ.pop("NES_PARENT_PID", None)
if _parent and _parent.isdigit():
    threading.Thread(target=_stop_when_parent_exits, args=(int(_parent),), daemon=True).start()

# The hostile notebook of sandbox-hostile.test.ts: every escape a notebook author would try
# against the embedded service, each recorded as "refused: ..." or "ESCAPED: ...". It never
# raises, so the run succeeds and its last output is the JSON verdict the test reads. What it
# reads (environments, command lines) is printed too: the test checks that no secret is in it.
#
# `probe` (a parameter, JSON) names host things the test found: the API's pid, the pids of the
# service's other processes (workers, servers, kernels of the pool and of another run), their
# kernel connection files, the data directory, the admin token file, the store, the runs'
# working directories and a host path under /tmp to try to create.
import json
import os
import signal

P = json.loads(probe)  # noqa: F821 -- injected as a parameter
results = {}
seen = []


def record(name, escaped, detail):
    results[name] = ("ESCAPED: " if escaped else "refused: ") + str(detail)[:300]


def attempt(name, action):
    try:
        detail = action()
    except Exception as error:  # noqa: BLE001 -- every refusal counts
        record(name, False, f"{type(error).__name__}: {error}")
    else:
        record(name, True, detail)


def read(path, limit=1 << 20):
    with open(path, "rb") as f:
        return f.read(limit).decode("utf-8", "replace")


def secrets_in(text):
    found = [n for n in P["secretNames"] if n in text]
    for marker in ("NES_JUPYTER_TOKEN=", "IdentityProvider.token", "ServerApp.token=", "token="):
        if marker in text:
            found.append(marker)
    return found


# 1. The environment of the kernel.
env_text = "\n".join(f"{k}={v}" for k, v in os.environ.items())
seen.append(env_text)
leaked = secrets_in(env_text)
record("os.environ", bool(leaked), leaked or sorted(os.environ))

# 2. The parent (the Jupyter Server) and every process visible in /proc.
for label, pid in [("parent", os.getppid())] + [
    (f"pid {p}", p) for p in sorted(int(d) for d in os.listdir("/proc") if d.isdigit())
]:
    if pid == os.getpid():
        continue
    try:
        text = read(f"/proc/{pid}/environ").replace("\0", "\n") + "\n" + read(
            f"/proc/{pid}/cmdline"
        ).replace("\0", " ")
    except Exception as error:  # noqa: BLE001
        record(f"/proc environ+cmdline of {label}", False, error)
        continue
    seen.append(text)
    leaked = secrets_in(text)
    record(f"/proc environ+cmdline of {label}", bool(leaked), leaked or "no secret in it")
token_file = os.environ.get("NES_JUPYTER_TOKEN_FILE")
if token_file:
    attempt("the Jupyter token file", lambda: read(token_file))

# 3. Other processes of the service, by their host pids: inspect, then signal.
for pid in P["servicePids"]:
    if pid == os.getpid():
        continue
    attempt(f"read /proc/{pid}/environ (service process)", lambda pid=pid: read(f"/proc/{pid}/environ")[:80])
    attempt(f"read /proc/{pid}/cmdline (service process)", lambda pid=pid: read(f"/proc/{pid}/cmdline")[:200])
    attempt(f"signal 0 to {pid} (service process)", lambda pid=pid: os.kill(pid, 0) or "delivered")

# 4. The data directory, the database, the admin token file, the store.
for path in P["dataPaths"]:
    if os.path.isdir(path) or not os.path.exists(path):
        attempt(f"list {path}", lambda path=path: os.listdir(path))
    attempt(f"read {path}", lambda path=path: read(path)[:80] if os.path.isfile(path) else os.stat(path))
attempt("write into the store", lambda: open(os.path.join(P["store"], "planted.txt"), "w").write("x"))
attempt("read the admin token", lambda: read(P["adminTokenFile"]))

# 5. Connection files of the pool's kernels and of the other run: write. (Its own kernel's file
# is its own business.)
try:
    from ipykernel.connect import get_connection_file

    own_file = get_connection_file()
except Exception:  # noqa: BLE001
    own_file = None
for path in P["connectionFiles"]:
    # Host paths (which do not exist in here) are tried; the kernel's own file, as it sees it,
    # is skipped.
    if own_file and os.path.exists(path) and os.path.samefile(path, own_file):
        continue
    attempt(f"open {path} for writing", lambda path=path: os.close(os.open(path, os.O_WRONLY | os.O_APPEND)) or "opened")
    attempt(f"read {path}", lambda path=path: read(path)[:80])

# 5b. The kernel sockets of the other run and of the pool's kernels (ZeroMQ ipc sockets in their
# run directories): connect.
import socket  # noqa: E402


def connect_unix(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
    return "connected"


for path in P["kernelSockets"]:
    attempt(f"connect to the kernel socket {path}", lambda path=path: connect_unix(path))

# 6. Other runs' working directories.
attempt(f"list {P['workDir']}", lambda: os.listdir(P["workDir"]))
for path in P["runDirs"]:
    if os.path.realpath(path) == os.path.realpath(os.getcwd()):
        continue
    attempt(f"list {path}", lambda path=path: os.listdir(path))

# 7. Writing outside its own directory. /tmp is the run's own (private) one: the test checks that
# the file is not on the host.
for path in P["writeTargets"]:
    attempt(f"write {path}", lambda path=path: open(path, "w").write("planted"))
try:
    with open(P["hostTmpFile"], "w") as f:
        f.write("planted")
except Exception:  # noqa: BLE001
    pass

# 8. The network (the service runs this suite with NES_SANDBOX_NETWORK=none): the API's port on
# the host's loopback.
from urllib.parse import urlsplit  # noqa: E402

api = urlsplit(P["apiUrl"])
attempt(
    f"connect to the API at {api.netloc}",
    lambda: socket.create_connection((api.hostname, api.port), timeout=3).close() or "connected",
)

# 9. The kernel fork server (its socket is bound into every sandbox): a kernel forked on the
# notebook's own request must land in this run's sandbox too, as this run's user, seeing no more
# than this kernel does. It runs a probe at start-up and writes what it saw into this directory.
if P.get("forkSocket"):
    import sys  # noqa: E402
    import time  # noqa: E402

    from nes_kernel_fork.provisioner import fork_kernel  # noqa: E402

    others = [p for p in P["runDirs"] if os.path.realpath(p) != os.path.realpath(os.getcwd())]
    with open("forked-probe.py", "w") as f:
        f.write(
            "import json, os\nout = {}\n"
            f"for p in {[*others, P['workDir'], P['dataPaths'][0]]!r}:\n"
            "    try: out['list ' + p] = 'ESCAPED: ' + repr(os.listdir(p))[:200]\n"
            "    except Exception as e: out['list ' + p] = 'refused: ' + type(e).__name__\n"
            "out['uid'] = os.getuid()\nout['self'] = os.getpid()\n"
            "out['pids'] = [int(x) for x in os.listdir('/proc') if x.isdigit()]\n"
            "json.dump(out, open('forked-probe.json', 'w'))\nos._exit(0)\n"
        )
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", os.path.abspath("forked.json"),
            "--IPKernelApp.exec_files=" + os.path.abspath("forked-probe.py")]
    try:
        with open(os.devnull, "rb") as devnull:
            fork_kernel(P["forkSocket"], argv, dict(os.environ), os.getcwd(), [devnull.fileno(), 1, 2])
        deadline = time.monotonic() + 60
        while not os.path.exists("forked-probe.json") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        seen_by_fork = json.load(open("forked-probe.json"))
        for name, value in seen_by_fork.items():
            if name.startswith("list "):
                record(f"{name} from a kernel forked on request", value.startswith("ESCAPED"), value)
        record("a forked kernel runs as root", seen_by_fork["uid"] == 0, seen_by_fork["uid"])
        here = {int(x) for x in os.listdir("/proc") if x.isdigit()} | {seen_by_fork["self"]}
        outside = sorted(set(seen_by_fork["pids"]) - here)
        record("a forked kernel sees processes this run does not", bool(outside), outside)
    except Exception as error:  # noqa: BLE001 -- refused outright is fine too
        record("fork a kernel on request", False, f"{type(error).__name__}: {error}")

# 10. Kill another run's kernel, then the API (last: on a service without isolation this ends it).
for pid in P["victimPids"]:
    if pid == os.getpid():
        continue
    attempt(f"SIGKILL the other run's kernel {pid}", lambda pid=pid: os.kill(pid, signal.SIGKILL) or "killed")
attempt(f"SIGKILL the API {P['apiPid']}", lambda: os.kill(P["apiPid"], signal.SIGKILL) or "killed")

print("\n".join(seen)[:200000])
print("VERDICT " + json.dumps(results))

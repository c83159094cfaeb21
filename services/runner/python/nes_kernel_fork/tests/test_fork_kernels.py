"""Real kernels forked from a real template, driven through jupyter_client's KernelManager (the
same provisioner path Jupyter Server takes)."""

import json
import shutil
import os
import signal
import subprocess
import sys
import time

import pytest
from jupyter_client.manager import KernelManager

from nes_kernel_fork.provisioner import ForkRefused, fork_kernel, template_status

HERE = os.path.dirname(os.path.abspath(__file__))


def start_template(socket_path, preload="numpy", extra_path=None):
    env = {k: v for k, v in os.environ.items() if k != "NES_FORK_SERVER"}
    if extra_path:
        env["PYTHONPATH"] = extra_path
    process = subprocess.Popen(
        [sys.executable, "-m", "nes_kernel_fork.template", "--socket", socket_path,
         "--preload", preload],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise RuntimeError(f"template exited {process.returncode}: {process.stderr.read()}")
    return process, json.loads(line)


def stop(process):
    if process.poll() is None:
        process.terminate()
        process.wait(10)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    spec = tmp_path / "jupyter" / "kernels" / "forked"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (forked)",
        "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "nes-fork-provisioner"}},
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    socket_path = str(tmp_path / "fork.sock")
    monkeypatch.setenv("NES_FORK_SERVER", socket_path)
    return tmp_path, socket_path


@pytest.fixture
def template(workspace):
    tmp_path, socket_path = workspace
    process, ready = start_template(socket_path)
    yield process, ready, socket_path
    stop(process)


def start_kernel(cwd, env=None):
    km = KernelManager(kernel_name="forked")
    km.start_kernel(cwd=str(cwd), env={**os.environ, **(env or {})})
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=30)
    return km, kc


def run(kc, code, timeout=30):
    """Executes code; returns (reply content, stdout text)."""
    out = []

    def output(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, output_hook=output, timeout=timeout)
    return reply["content"], "".join(out)


def evaluate(kc, expression):
    content, text = run(kc, f"import json as _j; print(_j.dumps({expression}))")
    assert content["status"] == "ok", content
    return json.loads(text)


PROBE = """{
    "numpy_before": "numpy" in __import__("sys").modules,
    "pid": __import__("os").getpid(),
    "ppid": __import__("os").getppid(),
    "pgid": __import__("os").getpgid(0),
    "random": __import__("random").random(),
    "numpy": __import__("numpy").random.random(),
    "uuid": str(__import__("uuid").uuid4()),
    "temp": __import__("tempfile").mktemp(),
    "session": get_ipython().kernel.session.session,
    "cwd": __import__("os").getcwd(),
    "marker": __import__("os").environ.get("NES_TEST_MARKER"),
    "fork_server_env": "NES_FORK_SERVER" in __import__("os").environ,
}"""


def test_forked_kernels_are_fresh_and_distinct(template, tmp_path):
    process, ready, _ = template
    assert ready["modules"]["numpy"]["ok"] is True
    assert ready["modules"]["ipykernel.kernelapp"]["ok"] is True
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    kernels = [start_kernel(tmp_path / "a", {"NES_TEST_MARKER": "a"}),
               start_kernel(tmp_path / "b", {"NES_TEST_MARKER": "b"})]
    try:
        for km, _ in kernels:
            assert km.provisioner.forked is True
        a, b = (evaluate(kc, PROBE) for _, kc in kernels)
        for probe, name in ((a, "a"), (b, "b")):
            assert probe["ppid"] == process.pid  # forked from the template, not started
            assert probe["pgid"] == probe["pid"]  # a session of its own (interrupts, killpg)
            assert probe["cwd"] == str(tmp_path / name)
            assert probe["marker"] == name
            assert probe["fork_server_env"] is False
            assert probe["numpy_before"] is True  # preloaded by the template
        for key in ("pid", "random", "numpy", "uuid", "temp", "session"):
            assert a[key] != b[key], key
        # The template's own state is not what the kernels start from either.
        status = template_status(template[2])
        assert status["forks"] == 2 and status["kernels"] == 2 and status["threads"] == 1
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def test_interrupt_shutdown_and_exit_status(template, tmp_path):
    km, kc = start_kernel(tmp_path)
    try:
        assert km.provisioner.forked is True
        pid = km.provisioner.pid
        msg_id = kc.execute("import time; time.sleep(60)")
        time.sleep(0.5)
        started = time.monotonic()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=10)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=10)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < 10
        assert evaluate(kc, "1 + 1") == 2  # still usable after the interrupt
    finally:
        kc.stop_channels()
        km.shutdown_kernel()  # graceful: shutdown_request, then the template reports the exit
    assert km.provisioner.process is None or km.provisioner.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_dead_kernel_is_noticed_and_restarts_fresh(template, tmp_path):
    km, kc = start_kernel(tmp_path)
    try:
        first = evaluate(kc, PROBE)
        run(kc, "x = 41")
        kc.execute("import os; os.kill(os.getpid(), 9)")
        deadline = time.monotonic() + 10
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not km.is_alive()
        assert km.provisioner.process.returncode == -signal.SIGKILL
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=30)
        assert km.provisioner.forked is True
        second = evaluate(kc, PROBE)
        assert second["pid"] != first["pid"] and second["session"] != first["session"]
        content, _ = run(kc, "x")
        assert content["status"] == "error" and content["ename"] == "NameError"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_without_a_template_kernels_start_normally(workspace, tmp_path):
    # No template listening: the same kernelspec starts a normal kernel.
    km, kc = start_kernel(tmp_path)
    try:
        assert km.provisioner.forked is False
        probe = evaluate(kc, PROBE)
        assert probe["numpy_before"] is False
        assert probe["ppid"] == os.getpid()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_kernels_outlive_their_template_and_a_new_template_serves(workspace, tmp_path):
    _, socket_path = workspace
    process, _ = start_template(socket_path)
    km, kc = start_kernel(tmp_path)
    try:
        assert km.provisioner.forked is True
        process.kill()
        process.wait(10)
        # The running kernel is unaffected, and still watched (by pid now).
        assert evaluate(kc, "2 * 21") == 42
        assert km.is_alive()
        # Until a template is back, new kernels start normally...
        km2, kc2 = start_kernel(tmp_path)
        assert km2.provisioner.forked is False
        kc2.stop_channels()
        km2.shutdown_kernel(now=True)
        # ...and forked again once it is.
        os.unlink(socket_path)
        process, _ = start_template(socket_path)
        km3, kc3 = start_kernel(tmp_path)
        assert km3.provisioner.forked is True
        assert evaluate(kc3, "3 * 3") == 9
        kc3.stop_channels()
        km3.shutdown_kernel(now=True)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        stop(process)
    assert not km.is_alive()


def test_a_template_whose_imports_start_threads_refuses_to_serve(tmp_path):
    helper = tmp_path / "starts_a_thread.py"
    helper.write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    )
    with pytest.raises(RuntimeError) as failure:
        start_template(str(tmp_path / "t.sock"), preload="starts_a_thread",
                       extra_path=str(tmp_path))
    assert "exited 3" in str(failure.value)
    assert "refusing to serve" in str(failure.value)
    assert "starts_a_thread" in str(failure.value)
    assert not os.path.exists(tmp_path / "t.sock")


def test_a_template_with_a_lifeline_exits_when_its_starter_is_gone(tmp_path):
    """The service starts its template with --exit-with-stdin: a service killed with SIGKILL
    closes the pipe and the template, which runs as the service's user, goes with it."""
    socket_path = str(tmp_path / "lifeline.sock")
    starter = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time\n"
         "t = subprocess.Popen([sys.executable, '-m', 'nes_kernel_fork.template', '--socket',"
         " sys.argv[1], '--preload', '', '--exit-with-stdin'], stdin=subprocess.PIPE,"
         " stdout=subprocess.PIPE)\n"
         "print(t.pid, t.stdout.readline().decode().strip(), flush=True)\n"
         "time.sleep(600)\n",
         socket_path],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        pid_text, ready = starter.stdout.readline().split(" ", 1)
        assert json.loads(ready)["ready"] is True
        template_pid = int(pid_text)
        assert os.path.exists(socket_path)
        starter.kill()
        starter.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{template_pid}"):
            try:  # reaped by init once it exits; a zombie still counts as gone
                with open(f"/proc/{template_pid}/stat") as f:
                    if f.read().split(") ")[1].startswith("Z"):
                        break
            except FileNotFoundError:
                break
            time.sleep(0.05)
        else:
            if os.path.exists(f"/proc/{template_pid}"):
                os.kill(template_pid, 9)
                pytest.fail("the template outlived the process that started it")
        assert not os.path.exists(socket_path), "the template removes its socket on the way out"
    finally:
        if starter.poll() is None:
            starter.kill()


def test_blas_thread_pools_are_pinned_in_the_template_and_restored_in_kernels(template, tmp_path):
    _, ready, _ = template
    assert ready["threads"] == 1  # numpy imported, its BLAS pool not started
    km, kc = start_kernel(tmp_path)
    try:
        code = "import os; print(len(os.sched_getaffinity(0)), 'OPENBLAS_NUM_THREADS' in os.environ)"
        content, text = run(kc, code)
        assert content["status"] == "ok"
        assert text.split()[1] == "False"  # the pin does not leak into the kernel's environment
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_template_refuses_what_is_not_an_ipykernel_of_its_environment(template, tmp_path):
    _, _, socket_path = template
    with open(os.devnull, "rb") as devnull:
        stdio = [devnull.fileno(), 1, 2]
        with pytest.raises(ForkRefused, match="ipykernel_launcher"):
            fork_kernel(socket_path, [sys.executable, "-c", "print(1)"], {}, str(tmp_path), stdio)
        with pytest.raises(ForkRefused, match="environment"):
            fork_kernel(socket_path, ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "x"],
                        {}, str(tmp_path), stdio)
        with pytest.raises(ForkRefused, match="stdin, stdout and stderr"):
            fork_kernel(socket_path, [sys.executable, "-m", "ipykernel_launcher"], {},
                        str(tmp_path), [])
    assert template_status(socket_path)["forks"] == 0


def test_matplotlib_in_the_template_still_draws_inline(workspace, tmp_path):
    _, socket_path = workspace
    process, ready = start_template(socket_path, preload="numpy,matplotlib")
    try:
        assert ready["modules"]["matplotlib"]["ok"] is True
        km, kc = start_kernel(tmp_path)
        try:
            assert km.provisioner.forked is True
            outputs = []
            kc.execute_interactive(
                "import matplotlib, matplotlib.pyplot as plt\n"
                "print(matplotlib.get_backend())\nplt.plot([1, 2]); plt.show()",
                output_hook=outputs.append, timeout=60,
            )
            text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
            assert "inline" in text
            assert any("image/png" in m["content"].get("data", {}) for m in outputs
                       if m["msg_type"] == "display_data")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    finally:
        stop(process)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None
                    or shutil.which("setpriv") is None,
                    reason="joining another pid namespace needs root, bubblewrap and setpriv")
@pytest.mark.parametrize("client_uid", [0, 65534])
def test_a_kernel_forked_for_a_sandboxed_client_lives_in_its_namespaces(
    template, tmp_path, client_uid
):
    """A client inside a bubblewrap sandbox (new pid, mount and network namespaces; as root or,
    like the service's sandboxes, dropped to an unprivileged user by setpriv) gets a kernel inside
    that sandbox, as its user and without capabilities: it sees the sandbox's files and processes,
    not the host's; the template stays one process outside it and keeps serving."""
    process, _, socket_path = template
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run_dir.chmod(0o777)
    tmp_path.chmod(0o755)  # the socket's directory, as the service makes it
    secret = tmp_path.parent / f"secret-{os.getpid()}-{time.time_ns()}.txt"  # not bound inside
    secret.write_text("host only")
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))
    (run_dir / "probe.py").write_text(
        "import json, os\n"
        f"try: secret = open({str(secret)!r}).read()\n"
        "except OSError as e: secret = type(e).__name__\n"
        "status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines())\n"
        "json.dump({'pid': os.getpid(), 'secret': secret, 'cwd': os.getcwd(), 'uid': os.getuid(),"
        " 'caps': [status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd')],"
        " 'nnp': status['NoNewPrivs'].strip(),"
        " 'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())},"
        " open('/home/run/out.json', 'w'))\n"
        "os._exit(0)\n"
    )
    (run_dir / "client.py").write_text(
        "import os, sys, json\n"
        "from nes_kernel_fork.provisioner import fork_kernel\n"
        f"p = fork_kernel({socket_path!r}, [{sys.executable!r}, '-m', 'ipykernel_launcher', '-f',"
        " '/home/run/k.json', '--IPKernelApp.exec_files=/home/run/probe.py'], {'PATH': '/usr/bin'},"
        " '/home/run', [os.open(os.devnull, os.O_RDONLY), 1, 2])\n"
        "print(json.dumps({'client': os.getpid(), 'kernel': p.pid, 'exit': p.wait(60)}))\n"
    )
    site = os.path.dirname(os.path.dirname(__import__("nes_kernel_fork").__file__))
    ro = ["/usr", "/etc", "/bin", "/lib", "/lib64", prefix, os.path.dirname(socket_path), site,
          os.path.dirname(os.path.dirname(sys.executable))]
    args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    made = {"/", "/tmp"}
    for path in sorted(set(ro), key=len):
        chain = []
        parent = os.path.dirname(path)
        while parent not in made:
            chain.insert(0, parent)
            parent = os.path.dirname(parent)
        for p in chain:  # reachable by the unprivileged client
            args += ["--perms", "0755", "--dir", p]
            made.add(p)
        args += ["--ro-bind-try", path, path]
        made.add(path)
    args += ["--perms", "0755", "--dir", "/home", "--bind", str(run_dir), "/home/run",
             "--chdir", "/home/run", "--"]
    if client_uid != 0:
        args += ["setpriv", f"--reuid={client_uid}", f"--regid={client_uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    args += [sys.executable, "/home/run/client.py"]
    env = {"PYTHONPATH": site, "PATH": "/usr/bin:/bin"}
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    finally:
        secret.unlink()
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    seen = json.loads((run_dir / "out.json").read_text())
    assert answer["exit"] == 0
    assert seen["pid"] == answer["kernel"] and seen["pid"] < 100  # a pid of the sandbox's
    assert seen["secret"] in ("FileNotFoundError", "PermissionError")  # the host's file is not there
    assert seen["cwd"] == "/home/run"
    assert seen["uid"] == client_uid
    if client_uid != 0:
        assert seen["caps"] == ["0000000000000000"] * 3 and seen["nnp"] == "1"
    assert max(seen["pids"]) < 100 and process.pid not in seen["pids"]
    # The template is still one process, outside, and serves the next request.
    status = template_status(socket_path)
    assert status["pid"] == process.pid and status["forks"] == 1 and status["threads"] == 1
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True)
    assert children.stdout.strip() == ""


def test_a_forked_kernel_exits_when_the_server_that_asked_is_gone(template, tmp_path):
    _, _, socket_path = template
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        with open(os.devnull, "rb") as devnull:
            kernel = fork_kernel(
                socket_path,
                [sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "k.json")],
                {"JPY_PARENT_PID": str(server.pid), "PATH": os.environ["PATH"]},
                str(tmp_path),
                [devnull.fileno(), 1, 2],
            )
        time.sleep(3)
        assert kernel.poll() is None  # alive while its server is
        server.kill()
        server.wait()
        assert kernel.wait(timeout=15) == 1
    finally:
        if server.poll() is None:
            server.kill()


LAUNCHER = os.path.join(os.path.dirname(HERE), "nes_kernel_fork", "launch.py")


def launched_kernel(tmp_path, env):
    """A kernel started by launch.py (as in a run's sandbox) on a connection file of ipc
    sockets in tmp_path; returns (launcher process, client, connection file)."""
    from jupyter_client import BlockingKernelClient
    from jupyter_client.connect import write_connection_file

    connection_file, _ = write_connection_file(
        str(tmp_path / "kernel.json"), transport="ipc", ip=str(tmp_path / "k"),
        shell_port=1, iopub_port=2, stdin_port=3, control_port=4, hb_port=5,
    )
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
    launcher = subprocess.Popen(
        [sys.executable, "-I", "-S", LAUNCHER, "--", *argv],
        cwd=str(tmp_path), env=env, stderr=subprocess.PIPE, text=True,
    )
    kc = BlockingKernelClient(connection_file=connection_file)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=30)
    return launcher, kc


def test_the_launcher_forks_the_kernel_and_ends_with_it(template, tmp_path):
    _, _, socket_path = template
    env = {**os.environ, "NES_FORK_SERVER": socket_path}
    launcher, kc = launched_kernel(tmp_path, env)
    try:
        probe = evaluate(kc, '{"ppid": __import__("os").getppid(), "numpy": "numpy" in '
                             '__import__("sys").modules, "env": "NES_FORK_SERVER" in '
                             '__import__("os").environ}')
        # A child of the template (not of the launcher), with the template's imports, and the
        # template's address is not in its environment.
        assert probe == {"ppid": template[0].pid, "numpy": True, "env": False}
        # Interrupted on the control channel, as the runner does without a server.
        msg_id = kc.execute("import time; time.sleep(600)")
        while True:  # the cell is running once its execute_input is published
            msg = kc.get_iopub_msg(timeout=30)
            if msg["msg_type"] == "execute_input" and msg["parent_header"]["msg_id"] == msg_id:
                break
        kc.control_channel.send(kc.session.msg("interrupt_request", {}))
        answer = kc.get_shell_msg(timeout=30)
        assert answer["content"]["ename"] == "KeyboardInterrupt"
        os.kill(evaluate(kc, '__import__("os").getpid()'), signal.SIGKILL)
        assert launcher.wait(30) == -signal.SIGKILL
    finally:
        kc.stop_channels()
        if launcher.poll() is None:
            launcher.kill()


def test_the_launcher_starts_normally_without_a_template_or_with_a_hash_seed(template, tmp_path):
    _, _, socket_path = template
    cases = [
        ({"NES_FORK_SERVER": str(tmp_path / "absent.sock")}, "starting the kernel normally"),
        ({"NES_FORK_SERVER": socket_path, "PYTHONHASHSEED": "7"}, "PYTHONHASHSEED is set"),
    ]
    for i, (extra, why) in enumerate(cases):
        case = tmp_path / str(i)
        case.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "NES_FORK_SERVER"}
        launcher, kc = launched_kernel(case, {**env, **extra})
        try:
            probe = evaluate(kc, '{"pid": __import__("os").getpid(), "seed": '
                                 '__import__("os").environ.get("PYTHONHASHSEED"), "hash": '
                                 'hash("nes")}')
            # The launcher became the kernel (same process).
            assert probe["pid"] == launcher.pid
            if "PYTHONHASHSEED" in extra:
                expected = subprocess.run(
                    [sys.executable, "-c", "print(hash('nes'))"],
                    env={**env, "PYTHONHASHSEED": "7"}, capture_output=True, text=True,
                ).stdout.strip()
                assert probe["hash"] == int(expected)
        finally:
            kc.shutdown()
            kc.stop_channels()
            launcher.wait(30)
        assert why in launcher.stderr.read()

"""One kernel's cost, forked against started: three kernels each way through jupyter_client's
KernelManager (the provisioner path Jupyter Server takes), with numpy in the template, with an
empty template, and started normally. Prints start-to-ready, the kernel's own CPU time at idle
(/proc/PID/stat: for a forked kernel, what it spent after the fork) and its PSS
(/proc/PID/smaps_rollup), and the template's PSS.

    .tools/py/bin/python bench/fork-kernel-start.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

work = tempfile.mkdtemp(prefix="nes-fork-start-")
socket_path = os.path.join(work, "kernels.sock")
spec = os.path.join(work, "jupyter", "kernels", "forked")
os.makedirs(spec)
with open(os.path.join(spec, "kernel.json"), "w") as f:
    json.dump({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "forked", "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "nes-fork-provisioner"}},
    }, f)
os.environ["JUPYTER_PATH"] = os.path.join(work, "jupyter")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pss_mb(pid):
    for line in open(f"/proc/{pid}/smaps_rollup"):
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(label, preload):
    template = None
    if preload is not None:
        template = subprocess.Popen(
            [sys.executable, "-m", "nes_kernel_fork.template", "--socket", socket_path,
             "--preload", preload], stdout=subprocess.PIPE, text=True)
        template.stdout.readline()
        os.environ["NES_FORK_SERVER"] = socket_path
    else:
        os.environ.pop("NES_FORK_SERVER", None)
    kernels, starts = [], []
    for _ in range(3):
        km = KernelManager(kernel_name="forked")
        t0 = time.perf_counter()
        km.start_kernel(cwd=work)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        starts.append(time.perf_counter() - t0)
        kernels.append((km, kc))
    time.sleep(2)
    pids = [km.provisioner.pid for km, _ in kernels]
    row = (
        f"| {label} | {'yes' if kernels[0][0].provisioner.forked else 'no'} "
        f"| {' / '.join(f'{s:.2f}' for s in starts)} "
        f"| {' / '.join(f'{cpu_seconds(p):.2f}' for p in pids)} "
        f"| {' / '.join(f'{pss_mb(p):.1f}' for p in pids)} "
        f"| {f'{pss_mb(template.pid):.1f}' if template else '-'} |"
    )
    for km, kc in kernels:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    if template:
        template.terminate()
        template.wait()
    return row


print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
print("| kernel | forked | start-to-ready (s) | kernel CPU at idle (s) | kernel PSS (MB) | template PSS (MB) |")
print("|---|---|---|---|---|---|")
print(measure("forked, numpy in the template", "numpy"), flush=True)
print(measure("forked, empty template", ""), flush=True)
print(measure("started normally (no numpy)", None), flush=True)

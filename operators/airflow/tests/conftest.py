"""A real NES service (``nes serve``: API, scheduler, local executor on real kernels) on loopback
for the whole session, with a temporary data directory and notebook root."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
TOKEN = "nes_test_airflow_provider_token"


def _cell(source: str, tags=None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"c{abs(hash(source)) % 10**8}",
        "metadata": {"tags": tags} if tags else {},
        "outputs": [],
        "source": source,
    }


def _notebook(*cells: dict) -> str:
    return json.dumps(
        {
            "cells": list(cells),
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


NOTEBOOKS = {
    "hello.ipynb": _notebook(_cell('day = "2026-01-01"\ncount = 1', ["parameters"]), _cell("print(day * count)")),
    "fail.ipynb": _notebook(_cell("x = 1", ["parameters"]), _cell("raise ValueError('boom')")),
    "results.ipynb": _notebook(
        _cell("rows = 1", ["parameters"]),
        _cell("import nes\nnes.record('rows_loaded', rows)\nnes.record('summary', {'ok': True})"),
        _cell("nes.exit({'reason': 'done early'})"),
        _cell("raise RuntimeError('not reached')"),
    ),
    "slow.ipynb": _notebook(_cell("seconds = 30", ["parameters"]), _cell("import time\ntime.sleep(seconds)")),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nes:
    def __init__(self, url: str, token: str, notebooks: Path):
        self.url = url
        self.token = token
        self.notebooks = notebooks

    def notebook(self, name: str) -> str:
        return str(self.notebooks / name)


@pytest.fixture(scope="session")
def nes(tmp_path_factory) -> Nes:
    root = tmp_path_factory.mktemp("nes")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    for name, text in NOTEBOOKS.items():
        (notebooks / name).write_text(text)
    port = _free_port()
    bin_dir = REPO / "node_modules" / ".bin"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "NES_PORT": str(port),
        "NES_HOST": "127.0.0.1",
        "NES_DATA_DIR": str(root / "data"),
        "NES_ADMIN_TOKEN": TOKEN,
        "NES_NOTEBOOK_ROOTS": str(notebooks),
        "NES_SHUTDOWN_GRACE_SECONDS": "1",
    }
    log = open(root / "nes.log", "wb")
    proc = subprocess.Popen([str(bin_dir / "nes"), "serve"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nes serve exited {proc.returncode}: {(root / 'nes.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"nes serve not ready: {(root / 'nes.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield Nes(url, TOKEN, notebooks)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

"""NesHook: an Airflow connection (type ``nes``: host = URL, password = token) to the NES client."""

from __future__ import annotations

from typing import Any, Optional

from .._compat import BaseHook
from ..client import AsyncNesClient, NesClient, NesError
from ..core import url_from_connection


class NesHook(BaseHook):
    conn_name_attr = "nes_conn_id"
    default_conn_name = "nes_default"
    conn_type = "nes"
    hook_name = "NES"

    def __init__(self, nes_conn_id: str = default_conn_name, **kwargs: Any):
        super().__init__(**kwargs)
        self.nes_conn_id = nes_conn_id
        self._client: Optional[NesClient] = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict:
        return {
            "hidden_fields": ["login", "extra"],
            "relabeling": {"host": "NES URL", "password": "Token", "schema": "Scheme (if host has none)"},
            "placeholders": {"host": "https://nes.example.com", "password": "nes_..."},
        }

    def _settings(self) -> tuple:
        conn = self.get_connection(self.nes_conn_id)
        return url_from_connection(conn.host, conn.port, conn.schema), conn.password or None

    def get_conn(self) -> NesClient:
        if self._client is None:
            url, token = self._settings()
            self._client = NesClient(url, token)
        return self._client

    def get_async_conn(self) -> AsyncNesClient:
        """A new asyncio client (close it with ``aclose``). Reads the connection synchronously:
        call through ``sync_to_async`` where the event loop must not block."""
        url, token = self._settings()
        return AsyncNesClient(url, token)

    # Thin pass-throughs, so DAG authors can use the hook directly.
    def submit(self, notebook: str, **kwargs: Any) -> dict:
        return self.get_conn().submit(notebook, **kwargs)

    def get_run(self, run_id: str) -> dict:
        return self.get_conn().get(run_id)

    def list_runs(self, **kwargs: Any) -> dict:
        return self.get_conn().list(**kwargs)

    def cancel(self, run_id: str) -> dict:
        return self.get_conn().cancel(run_id)

    def test_connection(self) -> tuple:
        try:
            client = self.get_conn()
            client.ready()
            client.list(limit=1)  # needs a valid token with the read scope
            return True, f"Connected to NES at {client.url}"
        except (NesError, ValueError) as exc:
            return False, str(exc)

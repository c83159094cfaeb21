"""A plain-Python client of the NES API (no Airflow import): synchronous and asyncio.

Retries follow one rule for both clients: a request that never reached the server (connection
refused, connect timeout) is always retried; a request that may have reached it (read error, 429,
5xx) is retried only when repeating it is safe: reads, cancel, and a submit that carries an
``Idempotency-Key``. Nothing else (4xx) is retried. No message ever contains the token.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional
from urllib.parse import quote

import httpx

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
LIVE_STATUSES = ("queued", "starting", "running")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class NesError(Exception):
    """Base of the client's errors."""


class NesApiError(NesError):
    """The API answered with an error (its JSON shape ``{error: {code, message, details}}``)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(f"NES API {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class NesConnectionError(NesError):
    """The API could not be reached (after retries)."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"cannot reach NES at {url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, retry_after: Optional[str]) -> float:
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_delay)
            except ValueError:
                pass
        backoff = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        return backoff * (0.5 + random.random() / 2)


def _redact(text: str, token: Optional[str]) -> str:
    return text.replace(token, "***") if token else text


def _api_error(response: httpx.Response, token: Optional[str]) -> NesApiError:
    code, message, details = f"http_{response.status_code}", response.reason_phrase, None
    try:
        body = response.json()
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code = str(error.get("code", code))
        message = str(error.get("message", message))
        details = error.get("details")
    except ValueError:
        if response.text:
            message = response.text[:500]
    return NesApiError(response.status_code, code, _redact(message, token), details)


def _label_params(labels: Optional[Mapping[str, str]]) -> list:
    return [("label", f"{k}={v}") for k, v in sorted((labels or {}).items())]


class _Base:
    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
    ):
        if not url:
            raise ValueError("NES URL is required")
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retry = retry

    def __repr__(self) -> str:  # never shows the token
        return f"{type(self).__name__}(url={self.url!r})"

    def _headers(self, idempotency_key: Optional[str]) -> dict:
        headers = {"accept": "application/json"}
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        return headers

    @staticmethod
    def _submit_body(
        notebook: str,
        *,
        ref: Optional[str] = None,
        parameters: Optional[Mapping[str, Any]] = None,
        kernel: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
        timeout_seconds: Optional[int] = None,
        resources: Optional[Mapping[str, Any]] = None,
        image: Optional[str] = None,
        queue: Optional[str] = None,
        allow_unknown_parameters: bool = False,
    ) -> dict:
        body: dict = {"notebook": notebook}
        optional = {
            "ref": ref,
            "parameters": dict(parameters) if parameters is not None else None,
            "kernel": kernel,
            "labels": dict(labels) if labels else None,
            "timeoutSeconds": timeout_seconds,
            "resources": dict(resources) if resources else None,
            "image": image,
            "queue": queue,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if allow_unknown_parameters:
            body["allowUnknownParameters"] = True
        return body

    def _decide(
        self, attempt: int, safe: bool, response: Optional[httpx.Response], exc: Optional[Exception]
    ) -> Optional[float]:
        """Seconds to wait before trying again, or None to stop."""
        if attempt >= self.retry.attempts:
            return None
        if exc is not None:
            never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            return self.retry.delay(attempt, None) if (never_sent or safe) else None
        assert response is not None
        if response.status_code in RETRY_STATUSES and safe:
            return self.retry.delay(attempt, response.headers.get("retry-after"))
        return None

    def _result(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise _api_error(response, self._token)
        return response.json() if response.content else None

    def _connection_error(self, exc: Exception) -> NesConnectionError:
        reason = _redact(f"{type(exc).__name__}: {exc}", self._token)
        return NesConnectionError(self.url, reason)


class NesClient(_Base):
    """Synchronous client. ``transport`` is injectable (tests)."""

    def __init__(self, url: str, token: Optional[str] = None, *, transport=None, sleep=time.sleep, **kw):
        super().__init__(url, token, **kw)
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.url, timeout=self.timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "NesClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, *, safe: bool, idempotency_key=None, **kw) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            response, error = None, None
            try:
                response = self._http.request(method, path, headers=self._headers(idempotency_key), **kw)
            except httpx.TransportError as exc:
                error = exc
            wait = self._decide(attempt, safe, response, error)
            if wait is None:
                if error is not None:
                    raise self._connection_error(error) from None
                assert response is not None
                return response
            self._sleep(wait)

    def _request(self, method: str, path: str, *, safe: bool, idempotency_key=None, **kw) -> Any:
        return self._result(self._send(method, path, safe=safe, idempotency_key=idempotency_key, **kw))

    def create_run(self, notebook: str, *, idempotency_key: Optional[str] = None, **spec: Any) -> tuple:
        """``POST /v1/runs``; returns ``(run, created)``. ``created`` is False when NES answered with
        the run an earlier request with the same ``Idempotency-Key`` created (HTTP 200, not 201)."""
        body = self._submit_body(notebook, **spec)
        response = self._send(
            "POST", "/v1/runs", safe=idempotency_key is not None, idempotency_key=idempotency_key, json=body
        )
        return self._result(response), response.status_code == 201

    def submit(self, notebook: str, *, idempotency_key: Optional[str] = None, **spec: Any) -> dict:
        return self.create_run(notebook, idempotency_key=idempotency_key, **spec)[0]

    def get(self, run_id: str) -> dict:
        return self._request("GET", f"/v1/runs/{quote(run_id, safe='')}", safe=True)

    def list(
        self,
        *,
        labels: Optional[Mapping[str, str]] = None,
        status: Optional[list] = None,
        notebook: Optional[str] = None,
        limit: int = 50,
        cursor: Optional[str] = None,
    ) -> dict:
        params = _label_params(labels) + [("status", s) for s in status or []] + [("limit", str(limit))]
        if notebook:
            params.append(("notebook", notebook))
        if cursor:
            params.append(("cursor", cursor))
        return self._request("GET", "/v1/runs", safe=True, params=params)

    def results(self, run_id: str) -> dict:
        """``GET /v1/runs/{id}/results``: what the run's notebook recorded (``values`` by name,
        each result in ``results``, the ``nes.exit`` value in ``exit``)."""
        return self._request("GET", f"/v1/runs/{quote(run_id, safe='')}/results", safe=True)

    def cancel(self, run_id: str) -> dict:
        return self._request("POST", f"/v1/runs/{quote(run_id, safe='')}/cancel", safe=True)

    def submit_sweep(self, body: Mapping[str, Any]) -> dict:
        """``POST /v1/sweeps`` (a list, grid or ``dateRange``); not retried after it may have
        arrived: sweeps take no idempotency key."""
        return self._request("POST", "/v1/sweeps", safe=False, json=dict(body))

    def get_sweep(self, sweep_id: str) -> dict:
        return self._request("GET", f"/v1/sweeps/{quote(sweep_id, safe='')}", safe=True)

    def ready(self) -> dict:
        return self._request("GET", "/readyz", safe=True)

    def create_schedule(self, body: Mapping[str, Any]) -> dict:
        """``POST /v1/schedules`` (not retried after it may have arrived: a name is unique, so a
        retry would be a 409)."""
        return self._request("POST", "/v1/schedules", safe=False, json=dict(body))

    def trigger_schedule(self, schedule: str, logical_date: Optional[str] = None) -> dict:
        body = {} if logical_date is None else {"logicalDate": logical_date}
        return self._request("POST", f"/v1/schedules/{quote(schedule, safe='')}/trigger", safe=False, json=body)

    def schedule_dates(self, schedule: str, from_: Optional[str] = None, to: Optional[str] = None) -> dict:
        """``GET /v1/schedules/{schedule}/dates``: the logical dates in [from, to] and their state."""
        params = [(k, v) for k, v in (("from", from_), ("to", to)) if v is not None]
        return self._request("GET", f"/v1/schedules/{quote(schedule, safe='')}/dates", safe=True, params=params)


class AsyncNesClient(_Base):
    """The same calls for asyncio (the trigger)."""

    def __init__(self, url: str, token: Optional[str] = None, *, transport=None, sleep=asyncio.sleep, **kw):
        super().__init__(url, token, **kw)
        self._sleep = sleep
        self._http = httpx.AsyncClient(base_url=self.url, timeout=self.timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncNesClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, *, safe: bool, idempotency_key=None, **kw) -> Any:
        attempt = 0
        while True:
            attempt += 1
            response, error = None, None
            try:
                response = await self._http.request(
                    method, path, headers=self._headers(idempotency_key), **kw
                )
            except httpx.TransportError as exc:
                error = exc
            wait = self._decide(attempt, safe, response, error)
            if wait is None:
                if error is not None:
                    raise self._connection_error(error) from None
                return self._result(response)
            await self._sleep(wait)

    async def submit(self, notebook: str, *, idempotency_key: Optional[str] = None, **spec: Any) -> dict:
        body = self._submit_body(notebook, **spec)
        return await self._request(
            "POST", "/v1/runs", safe=idempotency_key is not None, idempotency_key=idempotency_key, json=body
        )

    async def get(self, run_id: str) -> dict:
        return await self._request("GET", f"/v1/runs/{quote(run_id, safe='')}", safe=True)

    async def list(self, *, labels: Optional[Mapping[str, str]] = None, status=None, limit: int = 50) -> dict:
        params = _label_params(labels) + [("status", s) for s in status or []] + [("limit", str(limit))]
        return await self._request("GET", "/v1/runs", safe=True, params=params)

    async def cancel(self, run_id: str) -> dict:
        return await self._request("POST", f"/v1/runs/{quote(run_id, safe='')}/cancel", safe=True)


ClientFactory = Callable[[], NesClient]

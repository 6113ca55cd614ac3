"""The real LiteLLM proxy (tier 2), in front of a LocalGateway upstream, for parity tests.

Register with ``pytest_plugins = [..., "tests.fixtures_proxy"]`` (or ``-p tests.fixtures_proxy``).

- ``litellm_proxy`` (session): a :class:`ProxyStack`: the proxy on 127.0.0.1, its upstream
  :class:`LocalGateway` (the "provider"), the static virtual keys it enforces.
- ``proxy_stack`` (function): the same stack with the upstream reset (log, faults, scripts).
- ``parity``: records rows of the parity table printed at the end of the session.

The binary comes from env ``LANGGRAPH_ROUTING_LITELLM`` (``.ci/run`` sets it; locally e.g.
``/tmp/setup/litellm-venv/bin/litellm``). Without it the tests are skipped, and fail under
``CI=true``. Its import alone takes 6-30 s of CPU, so the proxy is launched as soon as
collection finds a ``proxy``-marked test and boots while other tests run; the fixture then
only waits for ``GET /health/liveliness``.

No database: ``tests/proxy_support/routing_auth.py`` is the proxy's ``custom_auth`` (static keys
with ``max_budget``/``rpm_limit``, enforced by the proxy's common checks) and its spend logger.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from langgraph_routing.testing import DEFAULT_MODELS, GatewayModel, LocalGateway, VirtualKey

LITELLM_ENV = "LANGGRAPH_ROUTING_LITELLM"
START_TIMEOUT_ENV = "LANGGRAPH_ROUTING_PROXY_START_TIMEOUT"
PARITY_OUT_ENV = "LANGGRAPH_ROUTING_PARITY_OUT"
EARLY_ENV = "LANGGRAPH_ROUTING_PROXY_EARLY"  # "0": boot the proxy in the fixture, not at collection
DEFAULT_START_TIMEOUT_S = 240.0

PROXY_MASTER_KEY = "sk-proxy-master"
UPSTREAM_KEY = "sk-upstream-provider"
SUPPORT_DIR = Path(__file__).resolve().parent / "proxy_support"

# Static virtual keys, enforced by the proxy (custom_auth) and given as-is to LocalGateway.
BUDGET_KEY = VirtualKey("sk-parity-budget", max_budget=1e-9, alias="parity-budget")
RPM_KEY = VirtualKey("sk-parity-rpm", rpm=1, alias="parity-rpm")
ROUTING_KEY = VirtualKey("sk-parity-routing", alias="parity-routing")
STATIC_KEYS: tuple[VirtualKey, ...] = (BUDGET_KEY, RPM_KEY, ROUTING_KEY)

# Keep the proxy offline and quiet: local price map and data files, no telemetry.
PROXY_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_TELEMETRY_DISABLED": "true",  # 1.108.7 (pydantic-settings LITELLM_TELEMETRY_*)
    "LITELLM_TELEMETRY": "False",  # older releases
    "DISABLE_SCHEMA_UPDATE": "true",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
    "NO_PROXY": "127.0.0.1,localhost",
}
# Variables that would switch the proxy onto paths this tier does not model.
_DROPPED_ENV = ("DATABASE_URL", "DIRECT_URL", "REDIS_HOST", "REDIS_URL", "PYTHONPATH")


def find_litellm() -> str | None:
    """Path of the ``litellm`` executable named by ``LANGGRAPH_ROUTING_LITELLM``, if usable."""
    path = os.environ.get(LITELLM_ENV, "").strip()
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return None


def missing_binary_message() -> str:
    value = os.environ.get(LITELLM_ENV)
    why = "is not set" if not value else f"= {value!r} is not an executable file"
    return (
        f"real LiteLLM proxy tier: {LITELLM_ENV} {why}; install litellm[proxy]==1.108.7 into "
        f"its own venv and export {LITELLM_ENV}=<venv>/bin/litellm (.ci/run does this)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def proxy_config(upstream_base_url: str, models: dict[str, GatewayModel]) -> dict[str, Any]:
    """The proxy's config.yaml (as a dict): every upstream model at LocalGateway's prices."""
    return {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{name}",
                    "api_base": upstream_base_url,
                    "api_key": UPSTREAM_KEY,
                    "input_cost_per_token": model.input_per_million / 1e6,
                    "output_cost_per_token": model.output_per_million / 1e6,
                },
            }
            for name, model in models.items()
        ],
        "litellm_settings": {
            "num_retries": 0,
            "request_timeout": 30,
            "callbacks": ["routing_auth.spend_logger"],
        },
        "general_settings": {
            "master_key": PROXY_MASTER_KEY,
            "custom_auth": "routing_auth.user_api_key_auth",
            "custom_auth_run_common_checks": True,
        },
    }


def _keys_file_payload() -> dict[str, Any]:
    keys = [{"key": PROXY_MASTER_KEY, "alias": "master"}]
    keys += [
        {"key": vk.key, "alias": vk.alias, "max_budget": vk.max_budget, "rpm": vk.rpm}
        for vk in STATIC_KEYS
    ]
    return {"keys": keys}


@dataclass
class ProxyStack:
    """A running proxy and its upstream. ``upstream`` is where faults go and calls are logged."""

    url: str
    master_key: str
    upstream: LocalGateway
    keys: tuple[VirtualKey, ...]
    workdir: Path
    log_path: Path
    startup_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return self.url + "/v1"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class ProxyLauncher:
    """Starts upstream + proxy without waiting (:meth:`launch`), then waits (:meth:`ready`)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.upstream: LocalGateway | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.workdir: Path | None = None
        self.port = 0
        self.started_at = 0.0
        self._stack: ProxyStack | None = None
        self._error: str | None = None
        self._log_file: Any = None

    @property
    def launched(self) -> bool:
        return self.process is not None

    def launch(self) -> None:
        """Start the upstream LocalGateway and spawn the proxy process. Idempotent."""
        if self.process is not None:
            return
        self.upstream = LocalGateway(master_key=UPSTREAM_KEY).start()
        self.workdir = Path(tempfile.mkdtemp(prefix="lgr-litellm-"))
        config = proxy_config(self.upstream.base_url, self.upstream.models)
        # JSON is YAML: no YAML writer needed.
        (self.workdir / "config.yaml").write_text(json.dumps(config, indent=2))
        (self.workdir / "keys.json").write_text(json.dumps(_keys_file_payload()))
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.update(PROXY_ENV)
        # One module instance for custom_auth AND the callback (shared spend table): import it
        # from PYTHONPATH, never from a file next to config.yaml (executed once per entry).
        env["PYTHONPATH"] = str(SUPPORT_DIR)
        env["ROUTING_PROXY_KEYS"] = str(self.workdir / "keys.json")
        self.port = _free_port()
        self._log_file = open(self.workdir / "proxy.log", "wb")  # noqa: SIM115 - closed in stop()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [
                self.binary,
                "--config",
                str(self.workdir / "config.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.workdir,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _tail(self) -> str:
        if self.workdir is None:
            return ""
        try:
            return (self.workdir / "proxy.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def ready(self, timeout_s: float) -> ProxyStack:
        """Wait (bounded) until ``/health/liveliness`` answers 200; raise with the log tail."""
        if self._stack is not None:
            return self._stack
        if self._error is not None:
            raise RuntimeError(self._error)
        self.launch()
        assert self.process is not None and self.upstream is not None and self.workdir
        url = f"http://127.0.0.1:{self.port}"
        deadline = self.started_at + timeout_s
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            # Readiness of an external process: bounded polling with short waits.
            while True:
                code = self.process.poll()
                if code is not None:
                    self._error = f"LiteLLM proxy exited with code {code} before it was ready"
                    break
                try:
                    if client.get(url + "/health/liveliness").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self._error = f"LiteLLM proxy not ready after {timeout_s:.0f} s"
                    break
                time.sleep(0.1)
        if self._error is not None:
            self._error += (
                f"\n--- proxy log tail ({self.workdir / 'proxy.log'}) ---\n{self._tail()}"
            )
            raise RuntimeError(self._error)
        self._stack = ProxyStack(
            url=url,
            master_key=PROXY_MASTER_KEY,
            upstream=self.upstream,
            keys=STATIC_KEYS,
            workdir=self.workdir,
            log_path=self.workdir / "proxy.log",
            startup_s=time.monotonic() - self.started_at,
        )
        return self._stack

    def stop(self) -> None:
        """Terminate the proxy (its own process group), stop the upstream, remove files."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.upstream is not None:
            self.upstream.stop()
            self.upstream = None
        if self.workdir is not None and not os.environ.get("LANGGRAPH_ROUTING_KEEP_PROXY_DIR"):
            shutil.rmtree(self.workdir, ignore_errors=True)


_launcher: ProxyLauncher | None = None


def _get_launcher() -> ProxyLauncher | None:
    global _launcher
    if _launcher is None:
        binary = find_litellm()
        if binary is not None:
            _launcher = ProxyLauncher(binary)
    return _launcher


def start_timeout_s() -> float:
    raw = os.environ.get(START_TIMEOUT_ENV)
    try:
        value = float(raw) if raw else DEFAULT_START_TIMEOUT_S
    except ValueError:
        value = DEFAULT_START_TIMEOUT_S
    return value if math.isfinite(value) and value > 0 else DEFAULT_START_TIMEOUT_S


def _skip_or_fail(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


# --- parity table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParityRow:
    scenario: str
    local: str
    proxy: str
    equal: bool
    note: str = ""


PARITY_ROWS: dict[str, ParityRow] = {}


class ParityRecorder:
    """``parity.record(scenario, local, proxy, equal, note)``; rows keyed by scenario."""

    def record(
        self, scenario: str, local: object, proxy: object, equal: bool, note: str = ""
    ) -> bool:
        PARITY_ROWS[scenario] = ParityRow(scenario, _text(local), _text(proxy), equal, note)
        return equal


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def _cell(text: str, limit: int) -> str:
    text = text.replace("\n", "\\n").replace("|", "/")
    return text if limit <= 0 or len(text) <= limit else text[: limit - 1] + "…"


def format_parity_table(rows: list[ParityRow], limit: int = 90) -> str:
    """Markdown table: scenario | LocalGateway | LiteLLM proxy 1.108.7 | verdict.

    Cells are cut at ``limit`` characters (0: never)."""
    lines = [
        "| scenario | LocalGateway | LiteLLM proxy 1.108.7 | verdict |",
        "|---|---|---|---|",
    ]
    for row in rows:
        verdict = "equal" if row.equal else "DIFFERENT"
        if row.note:
            verdict += f" ({row.note})"
        local, proxy = _cell(row.local, limit), _cell(row.proxy, limit)
        lines.append(f"| {row.scenario} | {local} | {proxy} | {verdict} |")
    return "\n".join(lines)


# --- pytest hooks and fixtures ------------------------------------------------------------------


def pytest_collection_finish(session: pytest.Session) -> None:
    """Boot the proxy early (in the background) when a selected test needs it."""
    if session.config.option.collectonly:
        return
    if os.environ.get(EARLY_ENV, "1") == "0":
        return
    if not any(item.get_closest_marker("proxy") for item in session.items):
        return
    launcher = _get_launcher()
    if launcher is not None:
        launcher.launch()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _launcher is not None:
        _launcher.stop()
    out = os.environ.get(PARITY_OUT_ENV)
    if out and PARITY_ROWS:
        rows = [row.__dict__ for row in PARITY_ROWS.values()]
        Path(out).write_text(json.dumps(rows, indent=2))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not PARITY_ROWS:
        return
    terminalreporter.section("LocalGateway vs real LiteLLM proxy parity")
    if _launcher is not None and _launcher._stack is not None:
        stack = _launcher._stack
        terminalreporter.write_line(f"proxy ready {stack.startup_s:.1f} s after launch")
    terminalreporter.write_line(format_parity_table(list(PARITY_ROWS.values())))


@pytest.fixture(scope="session")
def litellm_proxy() -> Iterator[ProxyStack]:
    """The real LiteLLM proxy in front of a LocalGateway upstream, for the whole session."""
    launcher = _get_launcher()
    if launcher is None:
        _skip_or_fail(missing_binary_message())
        raise AssertionError("unreachable")
    try:
        stack = launcher.ready(start_timeout_s())
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield stack
    # Stopped in pytest_sessionfinish (the launch may precede this fixture).


@pytest.fixture
def proxy_stack(litellm_proxy: ProxyStack) -> ProxyStack:
    """The session proxy with a clean upstream (log, faults, scripts, spend)."""
    litellm_proxy.upstream.reset()
    return litellm_proxy


@pytest.fixture
def parity() -> ParityRecorder:
    """Records a row of the session's parity table."""
    return ParityRecorder()


__all__ = [
    "BUDGET_KEY",
    "DEFAULT_MODELS",
    "PROXY_MASTER_KEY",
    "ROUTING_KEY",
    "RPM_KEY",
    "STATIC_KEYS",
    "UPSTREAM_KEY",
    "ParityRecorder",
    "ProxyLauncher",
    "ProxyStack",
    "find_litellm",
    "format_parity_table",
    "proxy_config",
]

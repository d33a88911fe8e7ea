"""The deployment files: compose.yaml is valid for Docker Compose (skipped only
where no compose client is installed; `config` needs no daemon), and the
image and the proxy keep the promises the README makes."""
from __future__ import annotations

import os
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "SECRET_KEY": "k" * 50,
    "POSTGRES_PASSWORD": "pw",
    "ALLOWED_HOSTS": "orgdesk.example.com",
    "PUBLIC_BASE_URL": "https://orgdesk.example.com",
}
SERVICES = {"nginx", "web1", "web2", "worker", "beat", "postgres", "redis", "migrate"}


def compose_command() -> list[str] | None:
    """`docker compose` (the plugin), else the standalone `docker-compose`."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = compose_command()
    if command is None:
        pytest.skip("no Docker Compose client here (docker compose plugin or docker-compose)")
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED and not k.startswith("COMPOSE_")}
    return subprocess.run(
        [*command, "-f", str(ROOT / "compose.yaml"), *args],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )


def test_compose_file_is_valid_and_has_every_service():
    result = compose("config", "--services", env=REQUIRED)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == SERVICES


def test_compose_refuses_to_run_without_the_secrets():
    result = compose("config", env={k: v for k, v in REQUIRED.items() if k != "SECRET_KEY"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_the_image_runs_as_a_user_with_probes_and_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile.splitlines()
    assert "\nUSER orgdesk\n" in dockerfile and "collectstatic" in dockerfile
    assert 'CMD ["python", "config/healthcheck.py", "/healthz"]' in dockerfile
    assert 'CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]' in dockerfile


def test_nginx_balances_both_nodes_and_hides_metrics():
    conf = (ROOT / "config" / "deploy" / "nginx.conf").read_text()
    assert "server web1:8000" in conf and "server web2:8000" in conf
    assert "location = /metrics { return 404; }" in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf


def test_gunicorn_worker_formula(monkeypatch):
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    conf = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert conf["workers"] == 2 * conf["cores"] + 1
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["workers"] == 3


def test_the_preloaded_app_opens_nothing_the_forked_workers_would_share():
    """gunicorn imports the app in its master and forks the workers from it
    (preload_app), and its when_ready hook then builds the URL resolver and
    freezes the heap: neither may open a database or Redis connection or start
    a thread, or every worker would share them."""
    import sys

    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["preload_app"] is True
    script = (
        "import gc, runpy, sys, threading\n"
        "from config.wsgi import application\n"
        "from django.db import connections\n"
        "from scim import redis_client\n"
        "assert 'config.urls' not in sys.modules\n"
        "runpy.run_path('config/gunicorn.py')['when_ready'](None)\n"
        "assert 'config.urls' in sys.modules and 'scim.api.views' in sys.modules, 'the URL conf was not imported'\n"
        "assert gc.get_freeze_count() > 100_000, gc.get_freeze_count()\n"
        "assert all(c.connection is None for c in connections.all()), 'a database connection'\n"
        "assert not redis_client._redis_clients, 'a Redis client'\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
    )
    env = dict(os.environ, DEBUG="0", SECRET_KEY="k" * 50, ALLOWED_HOSTS="localhost",
               REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.django_db(transaction=True)
def test_the_image_healthcheck_passes_only_while_the_node_answers(live_server):
    import sys

    port = live_server.url.rsplit(":", 1)[1]

    def healthcheck(bind: str) -> int:
        env = {**os.environ, "GUNICORN_BIND": bind, "ALLOWED_HOSTS": "localhost,127.0.0.1"}
        return subprocess.run([sys.executable, str(ROOT / "config" / "healthcheck.py"), "/healthz"],
                              env=env, capture_output=True, timeout=30).returncode

    assert healthcheck(f"0.0.0.0:{port}") == 0
    assert healthcheck("0.0.0.0:9") == 1  # nothing listens there

"""The container and process files an operator runs (Dockerfile, compose.yaml, .env.example,
Procfile, nginx configurations) agree with the code: every command exists, every variable is one
the settings read. They cannot be run on this machine (no container runtime in CI); this keeps them
from drifting."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (ROOT / "config" / "settings.py").read_text()
# Variables read outside config/settings.py (by the process scripts).
SCRIPT_VARIABLES = {"WEB_CONCURRENCY"}


def settings_variables() -> set[str]:
    return set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z0-9_]+)["']""", SETTINGS))


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_env_example_names_only_settings_that_exist_and_every_required_one():
    names = set(env_example())
    unknown = names - settings_variables() - SCRIPT_VARIABLES
    assert not unknown, f".env.example sets variables nothing reads: {sorted(unknown)}"
    assert {
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "DEBUG",
    } <= names


def test_settings_load_from_env_example():
    """The documented environment (with a real secret filled in) passes Django's checks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "PYTEST"))}
    env.update(env_example())
    env["SECRET_KEY"] = "a-long-random-operator-secret-" + "x" * 40
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_compose_services_and_commands():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "nginx"} <= set(services)
    web = services["web"]
    assert web["command"][0] == "bin/serve"
    assert web["deploy"]["replicas"] >= 2
    assert services["worker"]["command"][:4] == ["celery", "-A", "config.celery:app", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config.celery:app", "beat"]
    assert "migrate" in " ".join(services["migrate"]["command"])
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["env_file"] == ".env"
    mounted = services["nginx"]["volumes"][0].split(":")[0]
    assert (ROOT / mounted).is_file()
    # The services the web processes need are named as in .env.example's URLs.
    env = env_example()
    assert "@postgres:" in env["DATABASE_URL"] and "//redis:" in env["REDIS_URL"]


def test_dockerfile_runs_as_non_root_with_a_healthcheck_and_bin_serve():
    text = (ROOT / "Dockerfile").read_text()
    user = re.search(r"^USER (\S+)", text, re.M)
    assert user and user.group(1) not in {"root", "0"}
    assert "collectstatic" in text
    assert re.search(r"^HEALTHCHECK .*CMD \[\"bin/healthcheck\"\]", text, re.M)
    assert re.search(r'^CMD \["bin/serve"', text, re.M)
    assert "uv sync --frozen --no-dev" in text


@pytest.mark.parametrize("script", ["bin/serve", "bin/healthcheck", "bin/prod-local"])
def test_scripts_exist_and_are_executable(script):
    path = ROOT / script
    assert path.is_file() and os.access(path, os.X_OK), f"{script} missing or not executable"


def test_procfile_processes_exist():
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = shlex.split(command)
    assert set(processes) == {"web1", "web2", "worker", "beat", "nginx"}
    for name in ("web1", "web2"):
        assert processes[name][0] == "bin/serve"
    for name in ("worker", "beat"):
        assert processes[name][0] == ".venv/bin/celery" and "config.celery:app" in processes[name]


def test_nginx_configurations_upgrade_websockets_and_fill_every_placeholder():
    for conf in ("deploy/nginx/compose.conf", "deploy/nginx/local.conf.template"):
        text = (ROOT / conf).read_text()
        assert "location /ws/" in text
        assert "proxy_set_header Upgrade $http_upgrade;" in text
        assert "proxy_set_header Connection $connection_upgrade;" in text
    placeholders = set(re.findall(r"@([A-Z0-9_]+)@", (ROOT / "deploy/nginx/local.conf.template").read_text()))
    script = (ROOT / "bin/prod-local").read_text()
    missing = {p for p in placeholders if f"@{p}@" not in script}
    assert not missing, f"bin/prod-local does not fill {sorted(missing)}"

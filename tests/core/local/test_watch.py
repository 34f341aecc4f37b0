"""`local up --watch` without a deployment: what the watcher reacts to, and the failures that must
stop a reload before it touches anything (one line, the last good version untouched). Serving a
reload end to end is tests/e2e/test_dev_loop.py."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from payments_platform.core.local import watch
from payments_platform.core.ops.process_tree import alive
from payments_platform.core.ops.terraform import Terraform

REPO = Path(__file__).resolve().parents[3]


def dev_loop(tmp_path: Path, lines: list[str], **overrides: object) -> watch.DevLoop:
    runtime = tmp_path / "runtime"
    if not runtime.exists():
        shutil.copytree(watch.runtime_source_dir(), runtime, ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "environments.toml"
    if not config.exists():
        shutil.copy(REPO / "environments.toml", config)
    stack = tmp_path / "stack"
    stack.mkdir(exist_ok=True)
    (stack / "cdk.tf.json").write_text("{}")
    options: dict[str, object] = {
        "run_dir": tmp_path / "run",
        "endpoint": "http://127.0.0.1:9",
        "region": "us-east-1",
        "stack_dir": stack,
        "config_path": config,
        "environment_name": "local",
        "terraform": None,
        "runtime_dir": runtime,
        "say": lines.append,
    }
    options.update(overrides)
    return watch.DevLoop(**options)  # type: ignore[arg-type]


def test_a_syntax_error_in_the_runtime_is_one_line_naming_the_file_and_line(tmp_path: Path):
    lines: list[str] = []
    loop = dev_loop(tmp_path, lines)
    status = loop.runtime_dir / "status.py"
    status.write_text(status.read_text() + "\ndef broken(:\n")
    assert loop.reload({status}) is False
    (line,) = lines
    assert line.startswith("✗ ") and "runtime/status.py:" in line and "SyntaxError" in line
    assert line.endswith("still serving the last good version")


def test_a_failed_synth_is_one_line_and_leaves_the_stack_as_it_was(tmp_path: Path):
    lines: list[str] = []
    loop = dev_loop(tmp_path, lines)
    table = "[environments.local.settings.api]\n"
    loop.config_path.write_text(loop.config_path.read_text().replace(table, table + "memory_mb = 1\n"))
    assert loop.reload({loop.config_path}) is False
    (line,) = lines
    assert line.startswith("✗ environments.toml: synth failed: ") and "memory_mb" in line
    assert "\n" not in line and "Traceback" not in line
    assert (loop.stack_dir / "cdk.tf.json").read_text() == "{}"


class Recording(watch.DevLoop):
    def reload(self, paths: set[Path], *, stop: threading.Event | None = None) -> bool:
        self.say(" ".join(sorted(p.name for p in paths)))
        return True


def test_saves_under_the_runtime_reach_the_reload_and_caches_and_editor_files_do_not(tmp_path: Path):
    lines: list[str] = []
    loop = dev_loop(tmp_path, lines)
    recording = Recording(
        **{f: getattr(loop, f) for f in ("run_dir", "endpoint", "region", "stack_dir")},
        config_path=loop.config_path,
        environment_name="local",
        terraform=None,
        runtime_dir=loop.runtime_dir,
        say=lines.append,
    )
    thread, stop = watch.start(recording)
    try:
        time.sleep(1.0)
        (loop.runtime_dir / "__pycache__").mkdir(exist_ok=True)
        (loop.runtime_dir / "__pycache__" / "status.cpython-311.pyc").write_bytes(b"")
        (loop.runtime_dir / ".status.py.swp").write_text("editor state")
        (loop.runtime_dir / "status.py").write_text((loop.runtime_dir / "status.py").read_text() + "\n# saved\n")
        deadline = time.monotonic() + 10
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # nothing else may follow
    finally:
        watch.finish(recording, thread, stop)
    assert lines[0].startswith("watching ")
    assert lines[1:] == ["status.py"]


@pytest.mark.parametrize("name", ["status.py", "environments.toml", "plugin.py", "schema.json"])
def test_source_files_are_relevant(tmp_path: Path, name: str):
    assert dev_loop(tmp_path, [])._relevant(None, f"/x/{name}")


@pytest.mark.parametrize("path", ["/x/__pycache__/a.py", "/x/.status.py.swp", "/x/notes.txt", "/x/a.pyc"])
def test_caches_and_editor_files_are_not(tmp_path: Path, path: str):
    assert not dev_loop(tmp_path, [])._relevant(None, path)


# A "terraform" deaf to Ctrl-C, with a "provider" child just as deaf, which says where it is.
STUBBORN_TERRAFORM = """#!/bin/sh
trap "" INT
sh -c 'trap "" INT; sleep 300' &
echo $! > provider.pid
wait
"""


def test_stopping_the_watch_apply_stops_terraform_and_its_provider_processes(tmp_path: Path):
    binary = tmp_path / "terraform"
    binary.write_text(STUBBORN_TERRAFORM)
    binary.chmod(0o755)
    lines: list[str] = []
    loop = dev_loop(tmp_path, lines, terraform=Terraform(str(binary), None, tmp_path / "tf"))
    loop.run_dir.mkdir()
    failures: list[BaseException] = []

    def apply() -> None:
        try:
            loop._apply()
        except BaseException as failure:
            failures.append(failure)

    applying = threading.Thread(target=apply)
    applying.start()
    pid_file = loop.stack_dir / "provider.pid"
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    provider = int(pid_file.read_text())
    loop.stop_apply()
    applying.join(timeout=20)
    assert not applying.is_alive()
    (failure,) = failures
    assert isinstance(failure, watch.ReloadFailed) and "stopped" in str(failure)
    deadline = time.monotonic() + 5
    while alive(provider) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(provider)

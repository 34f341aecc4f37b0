"""`local up --watch` without a deployment: what the watcher reacts to, and the failures that must
stop a reload before it touches anything (one line, the last good version untouched). Serving a
reload end to end is tests/e2e/test_dev_loop.py."""

from __future__ import annotations

import importlib.resources
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from local_support import stubborn_terraform

from payments_platform.core.local import watch
from payments_platform.core.local.package_sources import find_sources
from payments_platform.core.ops.process_tree import alive

REPO = Path(__file__).resolve().parents[3]


RUNTIME = Path(str(importlib.resources.files("payments_platform.runtime")))


def deployed_package(runtime: Path, stack: Path) -> Path:
    """The runtime's package as the api plugin builds it, in the stack as synth puts it."""
    from payments_platform.plugins.api.packaging import build_lambda_package

    package = build_lambda_package(stack.parent / "build", runtime_dir=runtime).path
    asset = stack / "assets" / "lambda_package" / package.name
    asset.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(package, asset)
    return asset


def dev_loop(tmp_path: Path, lines: list[str], **overrides: object) -> watch.DevLoop:
    runtime = tmp_path / "src" / "runtime"
    if not runtime.exists():
        shutil.copytree(RUNTIME, runtime, ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "environments.toml"
    if not config.exists():
        shutil.copy(REPO / "environments.toml", config)
    stack = tmp_path / "stack"
    if not stack.exists():
        stack.mkdir()
        asset = deployed_package(runtime, stack)
        function = {"function_name": "status-local", "filename": str(asset.relative_to(stack))}
        (stack / "cdk.tf.json").write_text(json.dumps({"resource": {"aws_lambda_function": {"status": function}}}))
    options: dict[str, object] = {
        "run_dir": tmp_path / "run",
        "endpoint": "http://127.0.0.1:9",
        "region": "us-east-1",
        "stack_dir": stack,
        "config_path": config,
        "environment_name": "local",
        "terraform": None,
        "search": (runtime.parent,),
        "say": lines.append,
    }
    options.update(overrides)
    return watch.DevLoop(**options)  # type: ignore[arg-type]


def test_a_syntax_error_in_the_runtime_is_one_line_naming_the_file_and_line(tmp_path: Path):
    lines: list[str] = []
    loop = dev_loop(tmp_path, lines)
    (runtime,) = loop.code_dirs
    status = runtime / "status.py"
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
    assert json.loads((loop.stack_dir / "cdk.tf.json").read_text())["resource"]["aws_lambda_function"]


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
        search=loop.search,
        say=lines.append,
    )
    (runtime,) = loop.code_dirs
    thread, stop = watch.start(recording)
    try:
        time.sleep(1.0)
        (runtime / "__pycache__").mkdir(exist_ok=True)
        (runtime / "__pycache__" / "status.cpython-311.pyc").write_bytes(b"")
        (runtime / ".status.py.swp").write_text("editor state")
        (runtime / "status.py").write_text((runtime / "status.py").read_text() + "\n# saved\n")
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


def test_the_source_tree_of_a_deployed_package_is_found_by_content_and_rebuilds_its_bytes(tmp_path: Path):
    loop = dev_loop(tmp_path, [])
    (source,) = loop.sources
    assert source.trees == {"payments_runtime": tmp_path / "src" / "runtime"}
    assert source.rebuild(tmp_path / "out").path.read_bytes() == source.package.read_bytes()


def test_a_saved_file_changes_only_its_entry_and_a_new_module_joins_the_package(tmp_path: Path):
    import zipfile

    loop = dev_loop(tmp_path, [])
    (source,) = loop.sources
    runtime = source.trees["payments_runtime"]
    (runtime / "status.py").write_text((runtime / "status.py").read_text() + "\n# saved\n")
    (runtime / "added.py").write_text("VALUE = 1\n")
    rebuilt = source.rebuild(tmp_path / "out").path
    expected = deployed_package(runtime, tmp_path / "expected")
    assert rebuilt.read_bytes() == expected.read_bytes()
    with zipfile.ZipFile(rebuilt) as archive:
        assert archive.read("payments_runtime/added.py") == b"VALUE = 1\n"


def test_a_package_whose_sources_are_not_under_the_searched_directories_has_no_tree(tmp_path: Path):
    loop = dev_loop(tmp_path, [])
    (package,) = {s.package for s in loop.sources}
    assert find_sources(package, [tmp_path / "stack"]).trees == {}


def test_stopping_the_watch_apply_stops_terraform_and_its_provider_processes(tmp_path: Path):
    (tmp_path / "bin").mkdir()
    lines: list[str] = []
    loop = dev_loop(tmp_path, lines, terraform=stubborn_terraform(tmp_path / "bin"))
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


def test_of_two_copies_of_a_source_tree_the_one_nearest_the_project_is_watched(tmp_path: Path):
    loop = dev_loop(tmp_path, [])
    (tree,) = loop.code_dirs
    shutil.copytree(tree, tmp_path / "src" / "build" / "lib" / "runtime")
    assert find_sources(loop.sources[0].package, [tmp_path / "src"]).trees == {"payments_runtime": tree}

"""The snapshot store of a run directory (core/local/snapshots.py): keyed by the stack with its
per-run endpoint left out, a damaged file or another moto refused in one line, the nearest stack
found, secrets kept 0600, ``local down`` keeping them and ``local forget`` removing them."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from payments_platform.core.local.run_record import LocalRun
from payments_platform.core.local.snapshots import (
    EMULATOR_STATE,
    KEEP,
    SNAPSHOTS_ENV_VAR,
    Snapshot,
    SnapshotRefused,
    SnapshotStore,
    StackIdentity,
    stack_identity,
)

from cli_runner import REPO, run_cli

TOOLS = {"terraform": "1.10.5", "provider registry.terraform.io/hashicorp/aws": "5.100.0"}


def _config(endpoint: str, *resources: str) -> str:
    return json.dumps(
        {
            "provider": {"aws": [{"endpoints": [{"sqs": endpoint, "kms": endpoint}]}]},
            "resource": {"aws_sqs_queue": {name: {"name": name} for name in resources}},
        }
    )


def _identity(*resources: str, endpoint: str = "http://127.0.0.1:40001", **tools: str) -> StackIdentity:
    return stack_identity("local", _config(endpoint, *resources), endpoint, {**TOOLS, **tools})


def _save(store: SnapshotStore, identity: StackIdentity, tmp_path: Path, content: bytes = b"state") -> Snapshot:
    source = tmp_path / "incoming"
    source.write_bytes(content)
    return store.save(identity, {EMULATOR_STATE: source})


def test_the_key_ignores_the_per_run_endpoint() -> None:
    assert (
        _identity("a", endpoint="http://127.0.0.1:40001").key == _identity("a", endpoint="http://127.0.0.1:51234").key
    )


def test_the_key_follows_the_stack_and_every_version() -> None:
    base = _identity("a")
    assert _identity("a", "b").key != base.key
    assert _identity("a", terraform="1.11.0").key != base.key
    assert _identity("a", moto="9.9.9").compatibility_key != base.compatibility_key


def test_the_same_stack_is_found(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    saved = _save(store, _identity("a", "b"), tmp_path)
    chosen, why = store.choose(_identity("a", "b", endpoint="http://127.0.0.1:40999"))
    assert chosen is not None and chosen.key == saved.key and why == "the same stack"


def test_a_changed_stack_gets_the_nearest_snapshot(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    near = _save(store, _identity("a", "b", "c"), tmp_path)
    _save(store, _identity("x"), tmp_path)  # newer, but shares nothing
    chosen, why = store.choose(_identity("a", "b", "c", "d"))
    assert chosen is not None and chosen.key == near.key
    assert why.startswith("the nearest stack (1 resource(s) added or removed")


def test_snapshots_of_another_moto_are_not_restored_and_the_line_says_why(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    _save(store, _identity("a", moto="0.0.1"), tmp_path)
    chosen, why = store.choose(_identity("a"))
    assert chosen is None
    assert why == "snapshots made with another moto"


def test_a_damaged_file_is_refused_by_its_manifest(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    saved = _save(store, _identity("a"), tmp_path, content=b"0123456789")
    saved.file(EMULATOR_STATE).write_bytes(b"0123456789"[:-1] + b"X")  # one byte flipped, still loadable size
    with pytest.raises(SnapshotRefused, match=r"^moto.pickle damaged \(sha256 differs from its manifest\)$"):
        saved.verify()
    saved.file(EMULATOR_STATE).unlink()
    with pytest.raises(SnapshotRefused, match=r"^moto.pickle unreadable"):
        saved.verify()


def test_a_directory_without_its_manifest_is_no_snapshot(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    saved = _save(store, _identity("a"), tmp_path)
    (saved.directory / "manifest.json").unlink()  # as a save interrupted before its last write leaves it
    assert store.snapshots() == []


def test_snapshots_are_private_to_their_owner(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    saved = _save(store, _identity("a"), tmp_path)
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    for entry in saved.directory.iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600, entry.name


def test_only_the_newest_are_kept(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    keys = [_save(store, _identity(f"r{i}"), tmp_path).key for i in range(KEEP + 2)]
    assert [s.key for s in store.snapshots()] == keys[::-1][:KEEP]


def test_cleaning_the_run_directory_keeps_the_snapshots_and_forget_removes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SNAPSHOTS_ENV_VAR, raising=False)  # the suite shares a store of its own
    run = LocalRun(tmp_path / ".payments-local", say=lambda line: None)
    store = SnapshotStore.for_run(run.run_dir)
    _save(store, _identity("a"), tmp_path)
    run.file("run.json").write_text("{}")
    run.remove_files()  # what `local down` does last
    assert sorted(p.name for p in run.run_dir.iterdir()) == ["snapshots"]
    assert store.forget() == 1
    assert not store.directory.exists()


def test_local_forget_removes_the_snapshots_and_says_how_many(tmp_path: Path) -> None:
    shutil.copy(REPO / "environments.toml", tmp_path / "environments.toml")
    store = SnapshotStore(tmp_path / ".payments-local" / "snapshots")
    _save(store, _identity("a"), tmp_path)
    _save(store, _identity("b"), tmp_path)
    env = {SNAPSHOTS_ENV_VAR: None}  # this run directory's own store, not the suite's
    forgotten = run_cli("--config", tmp_path / "environments.toml", "local", "forget", cwd=tmp_path, env=env)
    assert forgotten.returncode == 0, forgotten.stderr
    assert forgotten.stdout.strip() == "2 snapshot(s) forgotten"
    assert not store.directory.exists()
    again = run_cli("--config", tmp_path / "environments.toml", "local", "forget", cwd=tmp_path, env=env)
    assert again.stdout.strip() == "no snapshots to forget"

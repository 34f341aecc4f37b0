"""Case 4 of issue #18: a plugin the emulator cannot deploy fails `local up` fast -- within 60 s of
the emulator's first NotImplemented -- naming the resource address, the service action, the plugin and
what to do, and leaves nothing behind. The plugin (AWS Backup, backup_plugin/) is installed the way
pip installs one: a dist-info with an entry point on the CLI's PYTHONPATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from local_support import processes_under
from plugin_distributions import install_distribution

from payments_platform.core.local.processes import alive
from payments_platform.core.ops.terraform import find_mirror

from cli_runner import CLI

REPO = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).parent / "backup_plugin" / "payments_backup_fixture.py"
FAIL_WITHIN_S = 60.0
GAP_ENVIRONMENT = """

[environments.gap]
suffix = "gap"
description = "An emulator environment with a plugin moto cannot deploy"
aws_endpoint = "http://127.0.0.1:4566"
plugins = ["backup"]
"""


def install_backup_plugin(site: Path) -> None:
    site.mkdir()
    shutil.copy(FIXTURE, site / FIXTURE.name)
    install_distribution(site, "payments-backup-fixture", "0.1", {"backup": FIXTURE.stem})


@pytest.mark.terraform
def test_a_resource_the_emulator_cannot_deploy_fails_up_within_60_s_naming_it(tmp_path: Path):
    if shutil.which("terraform") is None or find_mirror() is None:
        pytest.skip("needs terraform and an offline provider mirror")
    workdir, site = tmp_path / "work", tmp_path / "site"
    workdir.mkdir()
    install_backup_plugin(site)
    (workdir / "environments.toml").write_text((REPO / "environments.toml").read_text() + GAP_ENVIRONMENT)
    run_dir = workdir / ".payments-local"
    process = subprocess.Popen(
        [*CLI, "--config", str(workdir / "environments.toml"), "local", "up", "--env", "gap"],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(site)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started, first_failure, emulator_pid = time.time(), None, None
    try:
        while process.poll() is None and time.time() - started < 600:
            record = run_dir / "run.json"
            if emulator_pid is None and record.exists():
                emulator_pid = json.loads(record.read_text()).get("emulator_pid")
            journal = run_dir / "emulator-failures.jsonl"
            if first_failure is None and journal.exists() and journal.read_text().strip():
                first_failure = json.loads(journal.read_text().splitlines()[0])["at"]
            time.sleep(0.1)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
    ended = time.time()
    assert first_failure is not None, stdout[-3000:] + stderr
    time_to_fail = ended - first_failure
    print(
        f"\ncase 4: up started → first NotImplemented {first_failure - started:.1f} s; time to fail {time_to_fail:.1f} s"
    )
    assert process.returncode == 2, stdout[-3000:] + stderr
    (line,) = [line for line in stderr.splitlines() if line.strip()]
    assert "aws_backup_selection.backup_selection_" in line and "(plugin 'backup')" in line
    assert "backup:CreateBackupSelection" in line and "does not implement" in line
    assert 'disable = ["backup"]' in line and "[environments.gap]" in line and "teach the emulator" in line
    assert "Traceback" not in stdout + stderr
    # Named at synth already, before terraform ever called the emulator.
    assert "warning: [emulator] aws_backup_selection (plugin backup) needs backup:CreateBackupSelection" in stdout
    assert time_to_fail < FAIL_WITHIN_S
    assert emulator_pid is not None and not alive(emulator_pid)
    assert processes_under(workdir) == []
    assert sorted(p.name for p in run_dir.iterdir() if p.name != "lock") == []

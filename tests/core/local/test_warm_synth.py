"""`--watch`'s warm synthesizer (core/local/warm_synth.py): one process across saves that reads changed
plugin code anew, one line for a failed synth, a fresh process when it is gone -- and the source of
an enabled plugin installed in development mode among what `--watch` watches."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from plugin_distributions import install_distribution

from payments_platform.core.hookspec import ENTRY_POINT_GROUP
from payments_platform.core.local.warm_synth import (
    SynthRefused,
    WarmSynthesizer,
    WarmSynthUnavailable,
    editable_plugin_sources,
    forget_modules_under,
)

REPO = Path(__file__).resolve().parents[3]


def _distribution(site: Path, name: str, package: str, *, editable: bool) -> Path:
    """A distribution as pip leaves one: its dist-info (entry point, direct_url.json) and its package."""
    source = site / f"{name}-src" / package
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "plugin.py").write_text("")
    info = install_distribution(site, name, "1.0", {name: f"{package}.plugin"})
    url = {"url": f"file://{source.parent}", "dir_info": {"editable": editable}}
    (info / "direct_url.json").write_text(json.dumps(url))
    # What the __editable__ finder provides: the package importable from its source tree.
    (site / f"__editable__.{name}.pth").write_text(str(source.parent))
    sys.path.insert(0, str(source.parent))
    return source


def test_the_source_of_an_enabled_development_plugin_is_watched_and_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    site = tmp_path / "site"
    site.mkdir()
    sys.path.insert(0, str(site))
    webhooks = _distribution(site, "merchant-webhooks", "watch_test_webhooks", editable=True)
    _distribution(site, "fraud-score", "watch_test_fraud_score", editable=True)  # installed, not enabled
    _distribution(site, "released", "watch_test_released", editable=False)  # enabled, not in development
    found = editable_plugin_sources(["merchant-webhooks", "released"], ENTRY_POINT_GROUP, exclude=[REPO])
    assert found == [webhooks.resolve()]


def test_the_projects_own_plugins_are_not_watched_twice() -> None:
    assert editable_plugin_sources(["api", "messaging"], ENTRY_POINT_GROUP, exclude=[REPO]) == []


def test_forgetting_a_watched_tree_makes_the_next_import_read_it_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edit keeps the file's size and lands within the second: its old bytecode cache would
    still pass as current (found once `make test` wrote bytecode)."""
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # whatever PYTHONDONTWRITEBYTECODE says
    (tmp_path / "edited_plugin_module.py").write_text("VALUE = 1\n")
    import edited_plugin_module  # type: ignore[import-not-found]

    assert edited_plugin_module.VALUE == 1
    (tmp_path / "edited_plugin_module.py").write_text("VALUE = 2\n")
    assert forget_modules_under([tmp_path]) == ["edited_plugin_module"]
    import edited_plugin_module as again  # type: ignore[import-not-found]

    assert again.VALUE == 2


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(REPO / "environments.toml", tmp_path / "environments.toml")
    return tmp_path


def test_one_process_synthesizes_save_after_save_and_says_a_failure_in_one_line(project: Path) -> None:
    synthesizer = WarmSynthesizer([REPO / "plugins"])
    synthesizer.start()
    config = project / "environments.toml"
    try:
        synthesizer.synthesize(config, "local", "http://127.0.0.1:4566", project / "out1")
        first = synthesizer._process
        assert (project / "out1" / "stacks" / "payments-local" / "cdk.tf.json").is_file()
        messaging = "[environments.local.settings.messaging]\n"
        config.write_text(config.read_text().replace(messaging, messaging + "audit_max_receive_count = 0\n"))
        with pytest.raises(SynthRefused, match="audit_max_receive_count") as refused:
            synthesizer.synthesize(config, "local", "http://127.0.0.1:4566", project / "out2")
        assert "\n" not in str(refused.value)
        assert synthesizer._process is first  # still the warm one
        assert first is not None
        first.kill()  # gone between saves: the next save starts another
        first.wait()
        with pytest.raises(SynthRefused, match="audit_max_receive_count"):
            synthesizer.synthesize(config, "local", "http://127.0.0.1:4566", project / "out3")
        assert synthesizer._process is not first
        synthesizer.timeout_s = 0.01  # no answer in time: the caller synthesizes in a fresh process
        with pytest.raises(WarmSynthUnavailable, match="no answer within"):
            synthesizer.synthesize(config, "local", "http://127.0.0.1:4566", project / "out4")
        assert synthesizer._process is None
    finally:
        synthesizer.close()

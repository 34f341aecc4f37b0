"""Every emulator patch is made the same way (core/local/emulator/patching.py): applied by its set's
install(), a second install changes nothing, uninstall() puts moto back exactly, and each carries
its "Upstream:" note. Run in a fresh interpreter: the test process's moto stays unpatched."""

from __future__ import annotations

import subprocess
import sys

import pytest

from payments_platform.core.local.emulator.patching import Patches

CHECK = """
from payments_platform.core.local.emulator import admin, moto_authorization, moto_bucket_policy
from payments_platform.core.local.emulator import moto_fidelity, moto_performance, moto_rotation

SETS = [moto_fidelity.PATCHES, moto_performance.PATCHES, moto_authorization.PATCHES,
        moto_bucket_policy.PATCHES, moto_rotation.PATCHES, admin.PATCHES]

def current():
    return [(p.name, a, vars(p.owner()).get(a)) for s in SETS for p in s.patches for a in p.attributes]

original = current()
for _ in range(2):
    moto_fidelity.install()
    moto_performance.install()
    moto_authorization.install()
    moto_bucket_policy.apply()
    moto_rotation.install(None)
    admin.keep_administrator_across_resets()
    if _ == 0:
        first = current()
changed = [(n, a) for (n, a, before), (_, _, after) in zip(original, first) if before is after]
assert not changed, f"not applied: {changed}"
assert current() == first, "a second install wrapped a patch again"
assert all(s.installed for s in SETS)
assert all("Upstream:" in p.upstream for s in SETS for p in s.patches)
print(sum(len(s.patches) for s in SETS), "patches")
for s in reversed(SETS):
    s.uninstall()
assert current() == original, "uninstall did not put moto back"
"""


def test_every_patch_applies_once_and_uninstalls_to_moto_as_it_was():
    completed = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert int(completed.stdout.split()[0]) >= 12


class Target:
    def greet(self) -> str:
        return "moto"


def test_a_patch_without_an_upstream_note_is_refused_at_declaration():
    patches = Patches("example")
    with pytest.raises(ValueError, match="emulator patch example.greet_louder has no 'Upstream:' note"):

        @patches.replaces(f"{__name__}:Target", "greet")
        def greet_louder(original):
            """Louder."""
            return lambda self: original(self).upper()


def test_install_wraps_once_and_uninstall_restores_the_original():
    patches = Patches("example")

    @patches.replaces(f"{__name__}:Target", "greet")
    def greet_louder(original):
        """Louder. Upstream: nothing, an example."""
        return lambda self: original(self).upper() + "!"

    original = Target.greet
    try:
        patches.install()
        patches.install()
        assert Target().greet() == "MOTO!"  # wrapped once, not twice
        assert patches.patches[0].upstream == "Upstream: nothing, an example."
    finally:
        patches.uninstall()
    assert Target.greet is original and not patches.installed

"""How every emulator patch is made: declared, applied once, undone, and tested the same way.

A patch replaces attributes of a third-party class or module (moto's) with our versions::

    PATCHES = Patches("fidelity")

    @PATCHES.replaces("moto.sqs.models:Queue", "attributes")
    def queue_redrive_policy_format(attributes):
        \"\"\"What it fixes. Upstream: the fix in moto that would retire it.\"\"\"
        return property(...)

The function receives the attributes as they are when the patch is applied (to call through to)
and returns their replacements, in the same order. Its docstring must carry the ``Upstream:``
note: a patch nobody can retire is refused at import. ``install()`` applies a set's patches in
declaration order and any number of times (a second call changes nothing); ``uninstall()`` puts
back what was there, newest first (LocalStack's ``Patch``/``Patches`` is the model).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_lock = threading.RLock()


@dataclass(frozen=True)
class Patch:
    name: str
    target: str  # "package.module:Class" or "package.module" (a module attribute)
    attributes: tuple[str, ...]
    make: Callable[..., Any]
    upstream: str

    def owner(self) -> Any:
        module_name, _, class_name = self.target.partition(":")
        owner: Any = importlib.import_module(module_name)
        return getattr(owner, class_name) if class_name else owner


@dataclass
class _Applied:
    patch: Patch
    owner: Any
    originals: tuple[Any, ...]
    owned: tuple[bool, ...]  # whether each attribute was the owner's own (else inherited: removed again)


class Patches:
    """The patches of one concern (fidelity, performance, authorization...), in the order they apply."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.patches: list[Patch] = []
        self._applied: list[_Applied] = []

    def replaces(self, target: str, *attributes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def declare(make: Callable[..., Any]) -> Callable[..., Any]:
            doc = make.__doc__ or ""
            if "Upstream:" not in doc:
                raise ValueError(f"emulator patch {self.name}.{make.__name__} has no 'Upstream:' note in its docstring")
            upstream = doc[doc.index("Upstream:") :].split("\n\n")[0]
            self.patches.append(Patch(make.__name__, target, attributes, make, " ".join(upstream.split())))
            return make

        return declare

    @property
    def installed(self) -> bool:
        return len(self._applied) == len(self.patches) > 0

    def install(self) -> None:
        with _lock:
            done = {applied.patch.name for applied in self._applied}
            for patch in self.patches:
                if patch.name not in done:
                    self._apply(patch)

    def uninstall(self) -> None:
        with _lock:
            while self._applied:
                applied = self._applied.pop()
                for attribute, original, owned in zip(applied.patch.attributes, applied.originals, applied.owned):
                    if owned:
                        setattr(applied.owner, attribute, original)
                    else:
                        delattr(applied.owner, attribute)

    def _apply(self, patch: Patch) -> None:
        owner = patch.owner()
        originals = tuple(_raw_attribute(owner, attribute) for attribute in patch.attributes)
        owned = tuple(not isinstance(owner, type) or attribute in vars(owner) for attribute in patch.attributes)
        made = patch.make(*originals)
        replacements: Sequence[Any] = made if len(patch.attributes) > 1 else (made,)
        if len(replacements) != len(patch.attributes):
            raise ValueError(f"emulator patch {self.name}.{patch.name} returned {len(replacements)} replacements")
        for attribute, replacement in zip(patch.attributes, replacements):
            setattr(owner, attribute, replacement)
        self._applied.append(_Applied(patch, owner, originals, owned))


def _raw_attribute(owner: Any, attribute: str) -> Any:
    """The attribute as stored (a property object, not its value), so it can be put back as it was."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if attribute in vars(klass):
                return vars(klass)[attribute]
    return getattr(owner, attribute)

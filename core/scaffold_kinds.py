"""What ``payments-platform new-plugin NAME --kind KIND`` writes: a :class:`ScaffoldKind`.

The core writes one kind itself (``queue``: a generic plugin, core/authoring/scaffold.py); every
other kind is a plugin's contribution (``payments_scaffold_kinds``, core/hookspec.py), so a kind
that is about one concern lives with the plugin that owns that concern. Whatever the kind, the core
writes the distribution's ``pyproject.toml`` (the entry point is the core's contract) and every file
lands all or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter, Template
from types import MappingProxyType

# A kind is typed on the command line: ``--kind NAME``.
KIND_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
# What a file's text (and ``summary``, ``next_step``) may use, as ``$name``: ScaffoldKind's docstring.
PLACEHOLDERS = frozenset({"name", "package", "distribution", "slug", "camel", "settings_class", "sid", "requires_api"})
# What a file's path may use, as ``{package}``.
PATH_FIELDS = frozenset({"package"})
# Written by the core for every kind.
CORE_FILES = frozenset({"pyproject.toml"})


@dataclass(frozen=True)
class ScaffoldKind:
    """One kind of plugin distribution ``new-plugin`` can write.

    ``files`` maps each file's path, relative to the distribution (``{package}`` stands for the
    package directory), to its text as a ``string.Template`` over the new plugin's names:
    ``$name`` (the entry-point name), ``$package`` (``payments_<name>``), ``$distribution``
    (``payments-<name>``), ``$slug`` (the name with hyphens, for AWS names), ``$camel``,
    ``$settings_class`` (``<Camel>Settings``), ``$sid`` (``<Camel>Send``) and ``$requires_api`` (the
    plugin API range to declare); ``$$`` is a literal ``$``. The core adds ``pyproject.toml`` with the
    entry point, listing ``{package}`` and each directory under it that has an ``__init__.py``.
    Checked when created: a name that is not a ``--kind`` value, an unknown placeholder or a path
    outside the distribution is refused (``ValueError``), so a broken kind fails in the plugin that
    registers it.
    """

    name: str  # the ``--kind`` value: lowercase letters, digits, - and _
    description: str  # one line: what the example is, listed by ``new-plugin --kind``'s refusal
    files: Mapping[str, str]  # path template → text template; a read-only copy is kept
    summary: str = "The $name plugin for payments-platform"  # the pyproject's description (a template)
    # What ``new-plugin`` prints after "next: pip install -e DIR && pytest DIR; then" (a template).
    next_step: str = 'enable it in an environment of environments.toml: enable = ["$name"]'

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and KIND_NAME.match(self.name)):
            raise ValueError(
                f"scaffold kind name {self.name!r} must be lowercase: a letter, then letters, digits, - or _"
            )
        if not (isinstance(self.description, str) and self.description.strip() and "\n" not in self.description):
            raise ValueError(f"scaffold kind {self.name!r}: description must be one non-empty line")
        if not (isinstance(self.files, Mapping) and self.files):
            raise ValueError(f"scaffold kind {self.name!r}: files must map at least one path to its text")
        for path, text in self.files.items():
            _check_path(self.name, path)
            _check_template(self.name, path, text)
        for label in ("summary", "next_step"):
            _check_template(self.name, label, getattr(self, label))
        # Frozen, so a registered kind cannot change under the host.
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    @property
    def packages(self) -> tuple[str, ...]:
        """``{package}`` and its subpackages as the pyproject lists them (``{package}.function``)."""
        subpackages = sorted(
            path.removesuffix("/__init__.py").replace("/", ".")
            for path in self.files
            if path.startswith("{package}/") and path.endswith("/__init__.py") and path != "{package}/__init__.py"
        )
        return ("{package}", *subpackages)


def _check_path(kind: str, path: object) -> None:
    if not isinstance(path, str) or not path:
        raise ValueError(f"scaffold kind {kind!r}: a file path must be a non-empty string, not {path!r}")
    try:
        fields = {name for _, name, _, _ in Formatter().parse(path) if name is not None}
    except ValueError as exc:
        raise ValueError(f"scaffold kind {kind!r}: file path {path!r}: {exc}") from None
    if not fields <= PATH_FIELDS:
        raise ValueError(
            f"scaffold kind {kind!r}: file path {path!r} uses {sorted(fields - PATH_FIELDS)}; a path may use {{package}}"
        )
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"scaffold kind {kind!r}: file path {path!r} must be relative, inside the distribution")
    if path in CORE_FILES:
        raise ValueError(f"scaffold kind {kind!r}: {path} is written by the core for every kind")


def _check_template(kind: str, where: str, text: object) -> None:
    if not isinstance(text, str):
        raise ValueError(f"scaffold kind {kind!r}: {where} must be text, not {type(text).__name__}")
    template = Template(text)
    if not template.is_valid():
        raise ValueError(f"scaffold kind {kind!r}: {where} has a '$' that is no placeholder (write $$ for '$')")
    unknown = sorted(set(template.get_identifiers()) - PLACEHOLDERS)
    if unknown:
        raise ValueError(
            f"scaffold kind {kind!r}: {where} uses unknown placeholder(s) {', '.join('$' + u for u in unknown)} "
            f"(known: {', '.join(sorted(PLACEHOLDERS))})"
        )

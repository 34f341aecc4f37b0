"""docs/REFERENCE.md, generated from the code: hooks, context keys, policy rules, settings.

``payments-platform docs`` (``make reference``) writes it; tests/core/test_reference.py fails
while the committed file differs from what the code says. Output is deterministic: hooks in
contract order, value types in source order, plugins and rules sorted by name.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from payments_platform.core import context, environment, evidence, hookspec, keys, naming, roles
from payments_platform.core.api_version import PLUGIN_API_VERSION
from payments_platform.core.host import policy
from payments_platform.core.host.plugin_manager import PlatformPluginManager, PluginSource, discover_plugins, hook_names
from payments_platform.core.host.settings_schema import model_checks, settings_fields
from payments_platform.core.host.source_comments import attribute_comments

DEFAULT_PATH = Path("docs/REFERENCE.md")
REGENERATE = "make reference"


# The repository this module is part of (core/authoring/ -> the root), when run from a checkout.
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def repository_distributions(root: Path = REPOSITORY_ROOT) -> frozenset[str]:
    """The plugin distributions of this repository -- its own project and each one under
    extensions/ -- whose plugins the reference documents (normalised names). Whatever else is
    installed documents itself: installing a third-party plugin changes neither the reference
    nor the checks on it. Outside a checkout (an installed wheel), the platform's own only."""
    names = set()
    for pyproject in [root / "pyproject.toml", *sorted(root.glob("extensions/*/pyproject.toml"))]:
        if pyproject.is_file():
            name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
            if name:
                names.add(_normalised(name))
    return frozenset(names or {"payments-platform"})


def repository_plugins(sources: Mapping[str, PluginSource], root: Path = REPOSITORY_ROOT) -> dict[str, PluginSource]:
    """The plugins of ``sources`` (installed ones: ``discover_plugins()``) that this repository's
    distributions provide."""
    own = repository_distributions(root)
    return {name: source for name, source in sources.items() if _normalised(source.distribution) in own}


def _normalised(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()  # PEP 503


def render_reference(sources: dict[str, PluginSource] | None = None) -> str:
    """The whole reference as Markdown, for this repository's plugins (or ``sources``)."""
    sources = repository_plugins(discover_plugins()) if sources is None else sources
    sections = [
        _header(),
        _hooks(),
        _plugin_context(),
        _context_keys(),
        _types(
            "Value types",
            "What a key's value holds (core/keys.py). Strings are often Terraform "
            "tokens (`${aws_sqs_queue.x.arn}`): using one orders your resource after the one it names.",
            _public_dataclasses(keys),
        ),
        _types(
            "Other public types",
            "Every other type a plugin handles: the dataclasses `payments_platform.core` exports (what "
            "`payments_declare()` returns, what `payments_configure()` receives, what facades take and "
            "return) and the values `ctx` hands out (`ctx.aws`, `ctx.naming`, a grant's `Statement`, "
            "`ctx.compliance`'s `Evidence`).",
            public_types(),
        ),
        _builders(),
        _policy_rules(),
        _plugin_settings(sources),
    ]
    return "\n".join(sections).rstrip("\n") + "\n"


def write_reference(path: Path = DEFAULT_PATH) -> bool:
    """Write the reference to ``path``; True when its content changed."""
    text = render_reference()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def _header() -> str:
    return (
        "# payments-platform reference\n\n"
        f"<!-- Generated from the code by `{REGENERATE}` (`payments-platform docs`); do not edit by hand. -->\n\n"
        f"Plugin API version **{PLUGIN_API_VERSION}** (`payments_platform.core.PLUGIN_API_VERSION`; a plugin "
        'may require a range with `PluginDeclaration(requires_api=">=1.0,<2")`; `core/api_version.py` says '
        "what bumps the major and the minor part). How the pieces fit together: "
        "[PLUGIN_AUTHORS.md](PLUGIN_AUTHORS.md).\n\n"
        "- [Hooks](#hooks)\n- [`ctx`](#ctx)\n- [Context keys](#context-keys)\n- [Value types](#value-types)\n"
        "- [Other public types](#other-public-types)\n- [Policy rules](#policy-rules)\n- [Plugin settings](#plugin-settings)\n"
    )


def _hooks() -> str:
    names = sorted(hook_names(), key=lambda name: inspect.getsourcelines(getattr(hookspec, name))[1])
    parts = [
        "## Hooks\n",
        "Implement them with `@hookimpl` (from `payments_platform.core`), in this order of phases.\n",
    ]
    for name in names:
        fn = getattr(hookspec, name)
        parts.append(f"### `{name}{_signature(fn)}`\n\n{_markdown(inspect.getdoc(fn) or '')}\n")
    return "\n".join(parts)


def _plugin_context() -> str:
    """PluginContext's own members, then each facade it builds in ``__init__`` (``self.roles =
    _PluginRoles(...)``): read from the source, so a new facade or method appears by itself."""
    attributes = ", ".join(f"`ctx.{name}`" for name in _plain_attributes(context.PluginContext))
    parts = [
        "## `ctx`\n",
        f"{_own_doc(context.PluginContext)} Every hook but `payments_declare` and `payments_configure` receives it. "
        "`ctx[KEY]` reads a context key, `ctx[KEY] = value` publishes one, `KEY in ctx` asks whether it is there "
        "(see [Context keys](#context-keys)).\n",
        f"Attributes: {attributes}.\n",
        _members("ctx", context.PluginContext),
    ]
    for attribute, cls in _facades(context.PluginContext):
        parts.append(f"### `ctx.{attribute}`\n")
        doc = _own_doc(cls)
        if doc:
            parts.append(f"{doc}\n")
        parts.append(_members(f"ctx.{attribute}", cls))
    return "\n".join(parts)


def _facades(cls: type) -> list[tuple[str, type]]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(target := node.targets[0], ast.Attribute)
            and not target.attr.startswith("_")
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
        ):
            facade = getattr(context, node.value.func.id, None)
            if isinstance(facade, type):
                found.append((target.attr, facade))
    return found


def _plain_attributes(cls: type) -> list[str]:
    """Public attributes ``__init__`` sets to something other than a facade (``self.scope = scope``)."""
    facades = {name for name, _ in _facades(cls)}
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
    return [
        target.attr
        for node in ast.walk(tree)
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute) and not target.attr.startswith("_") and target.attr not in facades
    ]


def _members(prefix: str, cls: type) -> str:
    """Public methods and properties, one line each: ``prefix.name(signature)``: first paragraph."""
    lines = []
    dotted = f"{prefix}." if prefix else ""
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            lines.append(f"- `{dotted}{name}` (read-only): {_first_paragraph(member.fget)}".rstrip(": "))
        elif inspect.isfunction(member):
            lines.append(f"- `{dotted}{name}{_signature(member)}`: {_first_paragraph(member)}".rstrip(": "))
    return "\n".join(lines) + "\n" if lines else ""


def _context_keys() -> str:
    rows = [
        (f"`{key.name}`", f"`{_python_name(key)}`", f"[`{key.type.__name__}`](#{key.type.__name__.lower()})", key.doc)
        for key in keys.WELL_KNOWN_KEYS
    ]
    return (
        "## Context keys\n\n"
        "Read with `ctx[keys.NAME]` (declared in `requires`) or `ctx.get(keys.NAME)` (declared in `uses`); "
        "publish with `ctx[keys.NAME] = value` (declared in `provides`).\n\n"
        + _table(("key", "constant in `core.keys`", "value", "what it is"), rows)
    )


# Values ``ctx`` hands out that ``payments_platform.core`` does not export by name.
RECEIVED_TYPES: tuple[type, ...] = (
    context.AwsAccount,
    environment.RegionPlan,
    naming.Naming,
    roles.Statement,
    evidence.Evidence,
)


def public_types() -> list[type]:
    """The types of "Other public types", sorted by name (each must be fully described:
    tests/core/authoring/test_reference.py)."""
    return sorted({*_exported_dataclasses(), *RECEIVED_TYPES}, key=lambda t: t.__name__)


def documented_types() -> list[type]:
    """Every type the reference describes field by field."""
    return [*_public_dataclasses(keys), *public_types()]


def _types(title: str, intro: str, classes: Iterable[type]) -> str:
    parts = [f"## {title}\n", f"{intro}\n"]
    for cls in classes:
        parts.append(f"### {cls.__name__}\n")
        doc = _own_doc(cls)
        if doc:
            parts.append(f"{doc}\n")
        comments = attribute_comments(cls)
        rows = [
            (f"`{field.name}`", f"`{field.type}`", _dataclass_default(field), comments.get(field.name, ""))
            for field in dataclasses.fields(cls)
        ]
        parts.append(_table(("field", "type", "default", "notes"), rows))
        if cls is naming.Naming:
            parts.append(_naming_kinds())
        members = _members("", cls)
        if members:
            parts.append(members)
    return "\n".join(parts)


def _builders() -> str:
    from payments_platform.core import builders, function_packages

    lines = [
        "## Builders",
        "",
        _markdown((inspect.getdoc(builders) or "").split("\n\n")[0].replace("\n", " ")),
        "",
    ]
    for fn in (
        builders.hardened_bucket,
        builders.platform_function,
        function_packages.function_package,
        builders.deny_unencrypted_uploads,
    ):
        lines.append(f"- `{fn.__name__}{_signature(fn)}`: {_first_paragraph(fn)}")
    return "\n".join(lines) + "\n"


def _naming_kinds() -> str:
    rows = [(f"`{kind}`", str(limit), naming.KIND_DESCRIPTIONS[kind]) for kind, limit in naming.MAX_LENGTH.items()]
    return "Kinds for `name(..., kind=...)` (the AWS length limit checked at synth):\n\n" + _table(
        ("kind", "max length", "for"), rows
    )


def undescribed(cls: type) -> list[str]:
    """What of ``cls`` the reference would show without a description: the type itself, a
    field without a comment, a public method or property without a docstring."""
    missing = [] if _own_doc(cls) else ["(the type's docstring)"]
    comments = attribute_comments(cls)
    missing += [f"field {f.name}" for f in dataclasses.fields(cls) if not comments.get(f.name)]
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        fn = member.fget if isinstance(member, property) else member
        if inspect.isfunction(fn) and not inspect.getdoc(fn):
            missing.append(f"method {name}")
    return missing


def _policy_rules() -> str:
    rules: dict[str, Callable[..., Any]] = {**policy.RULES, **policy.STACK_RULES}
    rows = [(f"`{rule_id}`", _first_paragraph(rules[rule_id])) for rule_id in sorted(rules)]
    return (
        "## Policy rules\n\n"
        "Checked on the synthesized Terraform JSON (core/host/policy.py); a violation fails synth naming the rule, "
        "resource and plugin. Exempt one resource from one rule with `ctx.policy.suppress(construct, rule, reason)`.\n\n"
        + _table(("rule", "what it requires"), rows)
    )


def _plugin_settings(sources: dict[str, PluginSource]) -> str:
    parts = [
        "## Plugin settings\n",
        "Per plugin of this repository's distributions (a plugin installed from another one documents its own "
        "settings; `payments-platform plugins --settings NAME` shows any installed plugin's): "
        "`[defaults.settings.<plugin>]` and `[environments.<env>.settings.<plugin>]` in "
        "environments.toml (an environment's table is merged over the defaults). Unknown keys and wrong types are "
        "errors. `payments-platform plugins --settings NAME` shows the same, with each environment's values.\n",
    ]
    manager = PlatformPluginManager(sorted(sources), sources, environment="(reference)")
    for name in manager.enabled:
        declaration = manager.declaration(name)
        parts.append(f"### {name}\n")
        parts.append(
            f"{declaration.description} (distribution `{sources[name].distribution}`, "
            f"settings model `{declaration.settings.__name__}`)\n"
        )
        parts.append(settings_section(declaration.settings))
    return "\n".join(parts)


def settings_section(model: type) -> str:
    """One settings model as Markdown: its docstring, a table of fields, its cross-field checks."""
    fields = settings_fields(model)
    if not fields:
        return "No settings.\n"
    parts = []
    doc = _own_doc(model)
    if doc:
        parts.append(f"{doc}\n")
    rows = [
        (f"`{f.name}`", f.type, "required" if f.required else f"`{f.default}`", "; ".join(f.constraints), f.description)
        for f in fields
    ]
    parts.append(_table(("setting", "type", "default", "constraints", "description"), rows))
    checks = model_checks(model)
    if checks:
        parts.append(_markdown("Checked across settings: " + "; ".join(checks) + ".\n"))
    return "\n".join(parts)


def _public_dataclasses(module: Any) -> list[type]:
    classes = [
        member
        for name, member in vars(module).items()
        if not name.startswith("_") and dataclasses.is_dataclass(member) and member.__module__ == module.__name__
    ]
    return sorted(classes, key=lambda cls: inspect.getsourcelines(cls)[1])


def _exported_dataclasses() -> list[type]:
    from payments_platform import core

    exported = (getattr(core, name) for name in core.__all__)
    return sorted(
        (t for t in exported if isinstance(t, type) and dataclasses.is_dataclass(t)), key=lambda t: t.__name__
    )


def _python_name(key: Any) -> str:
    return next(name for name, value in vars(keys).items() if value is key)


def _own_doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        return ""  # dataclass's generated signature, not a docstring
    if doc and any(doc is base.__doc__ for base in cls.__mro__[1:]):
        return ""  # inherited
    return _markdown(inspect.cleandoc(doc))


CODE_SPAN = re.compile(r"(``.*?``|`[^`]*`)", re.DOTALL)


def _markdown(doc: str) -> str:
    """A docstring as Markdown: Sphinx roles (``:class:`X` ``) become code, and outside code
    spans ``<`` and ``>`` are escaped (``<tmp>`` would otherwise render as an HTML tag and vanish)."""
    doc = re.sub(r":[a-z]+:`([^`]+)`", r"`\1`", doc)
    return "".join(
        part if CODE_SPAN.fullmatch(part) else part.replace("<", "&lt;").replace(">", "&gt;")
        for part in CODE_SPAN.split(doc)
    )


def _first_paragraph(fn: Any) -> str:
    doc = inspect.getdoc(fn) or ""
    return _markdown(doc.split("\n\n")[0].replace("\n", " "))


def _signature(fn: Any) -> str:
    signature = inspect.signature(fn)
    params, starred = [], False
    for param in signature.parameters.values():
        if param.name == "self":
            continue
        name = param.name
        if param.kind is param.VAR_POSITIONAL:
            name, starred = f"*{name}", True
        elif param.kind is param.VAR_KEYWORD:
            name = f"**{name}"
        elif param.kind is param.KEYWORD_ONLY and not starred:
            params.append("*")
            starred = True
        text = name if param.annotation is inspect.Parameter.empty else f"{name}: {_annotation(param.annotation)}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {param.default!r}"
        params.append(text)
    returns = (
        ""
        if signature.return_annotation is inspect.Signature.empty
        else f" -> {_annotation(signature.return_annotation)}"
    )
    return f"({', '.join(params)}){returns}"


def _annotation(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _dataclass_default(field: dataclasses.Field[Any]) -> str:
    if isinstance(field.default, type):
        return f"`{field.default.__name__}`"
    if field.default is not dataclasses.MISSING:
        return f"`{field.default!r}`"
    if field.default_factory is not dataclasses.MISSING:
        return f"`{field.default_factory()!r}`"
    return "required"


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    def cell(text: str) -> str:
        return _markdown(str(text).replace("|", "\\|").replace("\n", " "))

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"

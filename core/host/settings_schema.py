"""A plugin's settings model described for people: field, type, default, constraints, description.

Read from the pydantic model itself (annotations, ``Field`` constraints, validators'
docstrings, the comments beside each field), so ``plugins --settings`` and docs/REFERENCE.md
can never disagree with what the host validates.
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from payments_platform.core.declaration import PluginSettings
from payments_platform.core.host.source_comments import attribute_comments

BOUNDS = {annotated_types.Ge: "≥", annotated_types.Gt: ">", annotated_types.Le: "≤", annotated_types.Lt: "<"}


@dataclass(frozen=True)
class SettingField:
    name: str
    type: str
    default: str  # as written in environments.toml; "" when the setting is required
    required: bool
    constraints: tuple[str, ...]
    description: str
    default_value: Any = None  # the default itself (JSON-ready: lists, not tuples)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default_value,
            "required": self.required,
            "constraints": list(self.constraints),
            "description": self.description,
        }


def settings_fields(model: type[PluginSettings]) -> list[SettingField]:
    """Every field of ``model`` in declaration order."""
    comments = {}
    for cls in reversed(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, PluginSettings):
            comments.update(attribute_comments(cls))
    checks = _field_validator_notes(model)
    fields = []
    for name, info in model.model_fields.items():
        required = info.is_required()
        fields.append(
            SettingField(
                name=name,
                type=type_name(info.annotation),
                default="" if required else toml_value(_default(info)),
                required=required,
                constraints=(*_constraints(info), *checks.get(name, ())),
                description=info.description or comments.get(name, ""),
                default_value=None if required else _json_ready(_default(info)),
            )
        )
    return fields


def model_checks(model: type[PluginSettings]) -> list[str]:
    """Checks across fields (``model_validator``s): their docstrings, else their names."""
    decorators = model.__pydantic_decorators__.model_validators
    return [_describe(decorator.func) for _, decorator in sorted(decorators.items())]


def toml_value(value: Any) -> str:
    """``value`` as it would be written in environments.toml (``(unset)`` for None)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, typing.Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def type_name(annotation: Any) -> str:
    """A readable type: ``int``, ``"api_key" | "iam"``, ``list of str``, ``str | (unset)``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " | ".join(toml_value(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("(unset)" if a is type(None) else type_name(a) for a in args)
    if origin in (tuple, list, set, frozenset) and args:
        return f"list of {type_name(args[0])}"
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (dict, typing.Mapping) and len(args) == 2:
        return f"table of {type_name(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def _json_ready(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, typing.Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    return value


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None if info.default is PydanticUndefined else info.default


def _constraints(info: FieldInfo) -> list[str]:
    notes = []
    for item in info.metadata:
        symbol = BOUNDS.get(type(item))
        if symbol:
            notes.append(f"{symbol} {_bound(item)}")
        elif isinstance(item, annotated_types.MinLen):
            notes.append(f"at least {item.min_length} item(s)")
        elif isinstance(item, annotated_types.MaxLen):
            notes.append(f"at most {item.max_length} item(s)")
        elif getattr(item, "pattern", None):
            notes.append(f"matches {item.pattern}")
        elif callable(getattr(item, "func", None)) and inspect.getdoc(item.func):
            notes.append(_describe(item.func))
    return notes


def _bound(item: Any) -> Any:
    return next(getattr(item, slot) for slot in ("ge", "gt", "le", "lt") if hasattr(item, slot))


def _field_validator_notes(model: type[PluginSettings]) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for _, decorator in sorted(model.__pydantic_decorators__.field_validators.items()):
        for field in decorator.info.fields:
            notes.setdefault(field, []).append(_describe(decorator.func))
    return notes


def _describe(func: Any) -> str:
    func = getattr(func, "__func__", func)
    doc = inspect.getdoc(func)
    return doc.split("\n\n")[0].replace("\n", " ") if doc else f"checked by {func.__name__}()"

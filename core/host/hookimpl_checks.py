"""What the host refuses when it registers a plugin, and where a plugin's code failed.

The host calls each plugin's implementation itself, phase by phase in dependency order
(plugin_manager.py), so pluggy's call-loop options have nothing to act on: a wrapper would
never wrap, ``tryfirst`` would never run first. Accepting them silently would let an author
believe they work, so each is refused at registration, naming the function and its
file:line. ``specname`` works (the host looks implementations up by hook name) and is
allowed. A ``payments_*`` function without ``@hookimpl`` is refused too: pluggy would
skip it and the build would succeed without its resources.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import pluggy

from payments_platform.core.errors import did_you_mean

HOOK_PREFIX = "payments_"

_NOTHING_TO_WRAP = "the host calls each implementation once, in phase order; there is no hook call to wrap"
_ORDER_FROM_PHASES = (
    "order comes from phases and `requires`/`uses`, not call order (declare `uses` to run after a plugin)"
)
# Why each pluggy option cannot be honoured by a host that calls implementations itself.
REFUSED_OPTIONS: dict[str, str] = {
    "wrapper": _NOTHING_TO_WRAP,
    "hookwrapper": _NOTHING_TO_WRAP,
    "tryfirst": _ORDER_FROM_PHASES,
    "trylast": _ORDER_FROM_PHASES,
    "optionalhook": "every hook is in the contract; an implementation of an unknown hook would never be called",
}


def source_location(function: Callable[..., Any]) -> str:
    """``file:line`` where ``function`` is defined (relative to the working directory when inside it)."""
    target = _unwrapped(function)
    path = _source_file(target)
    code = getattr(target, "__code__", None)
    if not path or code is None:
        return "<unknown location>"
    return f"{_display_path(path)}:{code.co_firstlineno}"


def _unwrapped(function: Callable[..., Any]) -> Any:
    return inspect.unwrap(getattr(function, "__func__", function))


def _source_file(target: Any) -> str:
    try:
        return inspect.getsourcefile(target) or inspect.getfile(target)
    except TypeError:
        return ""


def _display_path(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def registration_problems(
    plugin: Any, label: str, parse_opts: Callable[[Any, str], Any], hooks: Iterable[str]
) -> list[str]:
    """One line per problem with how ``plugin`` marks its hook implementations.

    ``parse_opts`` is pluggy's ``PluginManager.parse_hookimpl_opts``: the same discovery
    pluggy itself performs on ``register``.
    """
    known = set(hooks)
    problems: list[str] = []
    implemented: dict[str, str] = {}
    for attr in sorted(dir(plugin)):
        opts = parse_opts(plugin, attr)
        if opts is None:
            function = inspect.getattr_static(plugin, attr, None)
            if attr.startswith(HOOK_PREFIX) and _is_function(function):
                problems.append(
                    f"{label}: {attr} ({source_location(_function_of(function))}) is not marked @hookimpl, "
                    "so it would never be called: add @hookimpl"
                )
            continue
        function = getattr(plugin, attr)
        where = f"{attr} ({source_location(function)})"
        for option, reason in REFUSED_OPTIONS.items():
            if opts.get(option):
                problems.append(f"{label}: {where} uses @hookimpl({option}=True), which the platform refuses: {reason}")
        hook = opts.get("specname") or attr
        if hook not in known:
            suggestion = _hook_suggestion(hook, known)
            problems.append(f"{label}: {where} implements '{hook}', which is not a hook{suggestion}")
        elif hook in implemented:
            problems.append(
                f"{label}: {implemented[hook]} and {where} both implement {hook}; "
                "the host calls one implementation per plugin and hook"
            )
        else:
            implemented[hook] = where
    return problems


def _is_function(value: Any) -> bool:
    return inspect.isroutine(value) or isinstance(value, (staticmethod, classmethod))


def _function_of(value: Any) -> Callable[..., Any]:
    return value.__func__ if isinstance(value, (staticmethod, classmethod)) else value


def _hook_suggestion(hook: str, known: set[str]) -> str:
    # Compare the part after the shared prefix: with it, every name looks alike.
    stem = hook.removeprefix(HOOK_PREFIX)
    hint = did_you_mean(stem, (name.removeprefix(HOOK_PREFIX) for name in known))
    return hint.replace("'", f"'{HOOK_PREFIX}", 1) if hint else ""


def failure_site(traceback: TracebackType | None, impl: pluggy.HookImpl) -> str:
    """``file:line`` of the innermost frame in the plugin's own code, else where the hook is defined."""
    is_own = _own_code(impl.function)
    site = source_location(impl.function)
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        if is_own(filename):
            site = f"{_display_path(filename)}:{traceback.tb_lineno}"
        traceback = traceback.tb_next
    return site


def _own_code(function: Callable[..., Any]) -> Callable[[str], bool]:
    """The plugin's own code: the package folder holding the hook's module (helpers beside it
    count), or the module file alone when it is a top-level module (its folder is site-packages)."""
    target = _unwrapped(function)
    path = _source_file(target)
    if not path:
        return lambda filename: False
    module = inspect.getmodule(target)
    spec = getattr(module, "__spec__", None)
    own_file = os.path.realpath(path)
    if spec is not None and not spec.parent:
        return lambda filename: os.path.realpath(filename) == own_file
    folder = os.path.dirname(own_file) + os.sep
    return lambda filename: os.path.realpath(filename).startswith(folder)

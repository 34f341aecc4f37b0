"""Control evidence: which Terraform resource, and which of its attributes, meet a requirement.

Plugins register through ``ctx.compliance.evidence(...)`` (any build phase); the host checks
each registration, stamps it with the plugin's name, and reads the attribute values from the
synthesized configuration later -- the control map shows what Terraform receives, not what
the plugin meant to write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from payments_platform.core.errors import RegistrationError
from payments_platform.core.pci_requirements import REQUIREMENTS, STANDARD

MIN_NOTE = 10


@dataclass(frozen=True)
class Evidence:
    """One registration of ``ctx.compliance.evidence``: a resource that helps meet a PCI DSS requirement."""

    # the PCI DSS v4.0 requirement id, e.g. "3.5.1"
    requirement: str
    # the plugin that registered it
    plugin: str
    path: str  # construct path of the resource, found in the synth's "//" metadata
    # how the resource meets the requirement
    note: str
    attributes: tuple[str, ...] = ()  # dotted attribute paths that must be set
    expect: tuple[tuple[str, Any], ...] = ()  # dotted attribute path → required literal value


@dataclass
class ControlRegistry:
    items: list[Evidence] = field(default_factory=list)

    def add(self, evidence: Evidence) -> Evidence:
        for other in self.items:
            if (other.requirement, other.path) == (evidence.requirement, evidence.path):
                raise RegistrationError(
                    f"plugin '{evidence.plugin}' registered evidence for requirement {evidence.requirement} on "
                    f"'{evidence.path}', already registered by plugin '{other.plugin}'"
                )
        self.items.append(evidence)
        return evidence

    def for_requirement(self, requirement: str) -> list[Evidence]:
        return sorted((e for e in self.items if e.requirement == requirement), key=lambda e: (e.plugin, e.path))


class PluginCompliance:
    """``ctx.compliance``: one plugin's way to register control evidence."""

    def __init__(self, registry: ControlRegistry, plugin: str) -> None:
        self._registry = registry
        self._plugin = plugin

    def evidence(
        self,
        requirement: str,
        resource: Any,
        *,
        note: str,
        attributes: Sequence[str] = (),
        expect: Mapping[str, Any] | None = None,
    ) -> Evidence:
        """Record that ``resource`` (a Terraform resource construct) helps meet ``requirement``
        (a PCI DSS v4.0 id such as ``"3.5.1"``): ``attributes`` must be set in the synth,
        ``expect`` maps attributes to the literal values they must hold; ``note`` says how."""
        where = f"plugin '{self._plugin}' registered evidence for"
        if requirement not in REQUIREMENTS:
            raise RegistrationError(f"{where} unknown {STANDARD} requirement '{requirement}'")
        path = getattr(getattr(resource, "node", None), "path", None)
        if not isinstance(path, str) or not hasattr(resource, "terraform_resource_type"):
            raise RegistrationError(
                f"{where} requirement {requirement} on {resource!r}, which is not a Terraform resource"
            )
        if not attributes and not expect:
            raise RegistrationError(f"{where} requirement {requirement} on '{path}' without attributes to show")
        if len(note.strip()) < MIN_NOTE:
            raise RegistrationError(
                f"{where} requirement {requirement} on '{path}' without a note saying how it meets it"
            )
        return self._registry.add(
            Evidence(
                requirement=requirement,
                plugin=self._plugin,
                path=path,
                note=note.strip(),
                attributes=tuple(attributes),
                expect=tuple(sorted((expect or {}).items())),
            )
        )

"""Compliance as part of the build: control evidence registered by plugins, the checkov gate
against a reviewed baseline, and the PCI DSS control map read from the synthesized configuration.

    requirements.py  the PCI DSS v4.0 requirements evidence may be registered for
    registry.py      ``ctx.compliance``: plugins register evidence (resource + attributes)
    checkov.py       run the pinned checkov (its own tool environment) and read its findings
    baseline.py      compliance/checkov-baseline.toml: reviewed findings, each with a reason
    control_map.py   requirement → resources and attribute values from the synth, checkov, baseline
    gate.py          synth + checkov + baseline for a set of environments (CLI, make compliance)
"""

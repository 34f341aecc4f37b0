"""The PCI DSS v4.0 requirements the platform can show evidence for.

Evidence may only be registered against an id listed here (a typo must not create a row no
assessor asked for); every id listed appears in the control map, evidenced or flagged missing.
Titles paraphrase the standard's requirement text.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD = "PCI DSS v4.0"


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str

    @property
    def sort_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.id.split("."))


REQUIREMENTS: dict[str, Requirement] = {
    r.id: r
    for r in (
        Requirement("1.3.1", "Inbound traffic to the cardholder data environment is restricted to what is necessary"),
        Requirement(
            "1.3.2", "Outbound traffic from the cardholder data environment is restricted to what is necessary"
        ),
        Requirement(
            "3.3.1",
            "Sensitive authentication data (including the card verification code) is not retained after authorization",
        ),
        Requirement("3.5.1", "PAN is rendered unreadable anywhere it is stored"),
        Requirement("3.6", "Cryptographic keys used to protect stored account data are secured"),
        Requirement("3.7.4", "Cryptographic keys are changed at the end of their cryptoperiod"),
        Requirement("4.2.1", "Strong cryptography protects PAN during transmission over open, public networks"),
        Requirement(
            "6.2.4",
            "Software engineering techniques prevent or mitigate common attacks (e.g. injection, malformed input)",
        ),
        Requirement(
            "6.4.2",
            "An automated technical solution detects and prevents web-based attacks on public-facing web applications",
        ),
        Requirement(
            "6.5.1",
            "Changes to system components in production follow established procedures (only approved code deploys)",
        ),
        Requirement("7.2", "Access to system components and data is defined and assigned by least privilege"),
        Requirement("10.2", "Audit logs record user activity and events to detect anomalies and suspicious activity"),
        Requirement("10.3", "Audit logs are protected from destruction and unauthorized modification"),
        Requirement(
            "10.5.1",
            "Audit log history is retained for at least 12 months, the most recent three months immediately available",
        ),
        Requirement(
            "12.10.1", "An incident response plan exists and is ready to be activated (alerting reaches the responders)"
        ),
    )
}


def requirement_ids() -> list[str]:
    """Every known id, in the standard's order."""
    return [r.id for r in sorted(REQUIREMENTS.values(), key=lambda r: r.sort_key)]

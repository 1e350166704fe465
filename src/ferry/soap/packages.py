"""The packages a ferry instance reports in Logon's session information, as a Campaign v8 FFDA instance names them.

The Adobe SDK's `client.hasPackage("nms:core")` reads them from `<userInfo><installed-package …/>`: ferry reports
what it serves and nothing more, so a script's "is this installed?" branch matches what ferry answers.
"""

from __future__ import annotations

from ferry.soap.writer import attr

# (namespace, name, what it stands for in ferry): see docs/campaign-compat.md.
INSTALLED_PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("nms", "core", "recipients, services and subscriptions (nms:recipient, nms:service, nms:subscription)"),
    ("nms", "ffda", "Enterprise (FFDA) deployment: staging, Ingest / IngestExt and the replication workflow"),
)


def installed_packages_xml() -> str:
    """`<installed-package namespace='nms' name='core'/>…`, children of `<userInfo>`."""
    return "".join(f"<installed-package namespace='{attr(namespace)}' name='{attr(name)}'/>"
                   for namespace, name, _ in INSTALLED_PACKAGES)

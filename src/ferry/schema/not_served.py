"""What ferry does not serve of Campaign: its other schemas and methods, answered with one coded fault.

A call naming a Campaign schema ferry does not hold (`nms:deliveryMapping`, `xtk:folder`, …) or a Campaign method
it does not implement (`xtk:persist#NewInstance`, `xtk:session#Encrypt`, …) gets `FRY-400030`, saying so, instead
of a generic "unknown schema" or "no warehouse table". A schema id in no Campaign namespace that ferry does not
know stays unknown, as Campaign answers for a missing schema (an empty `getSchema`).
"""

from __future__ import annotations

from ferry import errors
from ferry.errors import FerryError

# Campaign's own namespaces (a customer schema never uses them).
CAMPAIGN_NAMESPACES = frozenset({"xtk", "nms", "nl", "ncm", "crm", "nsm", "xxl"})

# Campaign schemas clients and Adobe's SDK samples commonly name, that ferry does not serve.
CAMPAIGN_SCHEMAS = frozenset({
    "nms:deliveryMapping", "nms:delivery", "nms:extAccount", "nms:rtEvent", "nms:batchEvent", "nms:group",
    "nms:operation", "nms:webApp", "nms:broadLog", "nms:broadLogRcp", "nms:trackingLog", "nms:trackingLogRcp",
    "nms:seedMember", "nms:mirrorPage", "nms:typology", "nms:typologyRule", "nms:address", "nms:visitor",
    "nms:country", "nms:budget", "nms:plan", "nms:program", "nms:campaign", "nms:offer", "nms:proposition",
    "nms:rcpGrpRel", "nms:messageCenter", "nms:eventHisto", "nms:appSubscriptionRcp", "nms:mobileApp",
    "xtk:folder", "xtk:workflow", "xtk:builder", "xtk:image", "xtk:srcSchema", "xtk:enum", "xtk:fileRes",
    "xtk:jssp", "xtk:javascript", "xtk:form", "xtk:navtree", "xtk:specFile", "xtk:job", "xtk:report",
    "xtk:sql", "xtk:dataTransfer", "xtk:fileTransfer", "xtk:group", "xtk:operatorGroup", "xtk:rights",
    "xtk:strings", "xtk:xslt", "xtk:formRendering", "xtk:package", "xtk:entityBackupNew", "xtk:dictionary",
})

# Campaign methods ferry describes (so that an unmodified client sends them) and answers with FRY-400030.
SESSION_METHODS = ("Encrypt", "EncryptPassword", "EncryptServerPassword", "HashPassword", "ReEncryptPassword",
                   "GetNewIds", "GetNewIdsEx", "GetModifiedEntities")
PERSIST_METHODS = ("NewInstance", "Duplicate")
# Described on xtk:workflow so the SDK sends them; ferry's workflows have no activities to signal.
WORKFLOW_METHODS = ("PostEvent",)


def is_campaign_schema(schema_id: str) -> bool:
    """True for a Campaign schema ferry does not serve."""
    return schema_id in CAMPAIGN_SCHEMAS


def schema_fault(schema_id: str, what: str = "") -> FerryError:
    """The FRY-400030 refusal of a Campaign schema ferry does not serve."""
    doing = f" ({what})" if what else ""
    return FerryError(errors.NOT_SERVED, f"ferry does not serve the Campaign schema {schema_id}{doing}: it serves "
                      "the FFDA ingestion path (xtk:session, xtk:queryDef, xtk:option, xtk:operator, "
                      "nms:replicationStrategy, nms:subscription) and the data schemas applied to it")


def method_fault(service: str, method: str) -> FerryError:
    """The FRY-400030 refusal of a Campaign method ferry does not implement."""
    return FerryError(errors.NOT_SERVED, f"ferry does not serve the Campaign method {service}#{method}: see "
                      "docs/campaign-compat.md for the methods it implements")

"""Schema descriptions served through `xtk:persist#GetEntityIfMoreRecent` (reference acc-js-sdk-protocol.md §5)."""

from __future__ import annotations

from ferry.schema.registry import SchemaRegistry
from ferry.soap import catalog
from ferry.soap.service_schemas import register, registered

__all__ = ["ENTITY_SCHEMA", "XTK_SESSION", "describe", "register"]

# Ingest / IngestExt / Write / WriteCollection / GetEntityIfMoreRecent sit in the persist interface, as in
# Campaign v8: the SDK then calls them with URN `xtk:persist|xtk:session`.
XTK_SESSION = """<schema namespace="xtk" name="session" implements="xtk:persist" label="Sessions">
  <interface name="persist">
    <method name="Write" static="true"><parameters><param name="doc" type="DOMDocument"/></parameters></method>
    <method name="WriteCollection" static="true"><parameters><param name="doc" type="DOMDocument"/></parameters>
    </method>
    <method name="Ingest" static="true"><parameters>
      <param name="doc" type="DOMDocument"/><param name="sUuids" type="string" inout="out"/></parameters></method>
    <method name="IngestExt" static="true"><parameters><param name="doc" type="DOMDocument"/></parameters></method>
    <method name="GetEntityIfMoreRecent" static="true"><parameters>
      <param name="pk" type="string"/><param name="md5" type="string"/>
      <param name="doc" type="DOMDocument" inout="out"/><param name="mustExist" type="boolean"/></parameters></method>
  </interface>
  <element name="session"/>
  <element name="userInfo"/>
  <methods>
    <method name="Logon" static="true"><parameters>
      <param name="login" type="string"/><param name="password" type="string"/>
      <param name="parameters" type="DOMElement"/>
      <param name="sessionToken" type="string" inout="out"/><param name="sessionInfo" type="DOMElement" inout="out"/>
      <param name="securityToken" type="string" inout="out"/></parameters></method>
    <method name="Logoff" static="true"/>
    <method name="GetServerTime" static="true"><parameters>
      <param name="serverTime" type="datetime" inout="out"/></parameters></method>
    <method name="GetOption" static="true"><parameters><param name="name" type="string"/>
      <param name="value" type="string" inout="out"/><param name="type" type="byte" inout="out"/></parameters></method>
    <method name="GetUserInfo" static="true"><parameters>
      <param name="userInfo" type="sessionUserInfo" inout="out"/></parameters></method>
  </methods>
</schema>"""

ENTITY_SCHEMA = "xtk:schema"


def describe(registry: SchemaRegistry, pk: str) -> str | None:
    """The entity named by `pk` (`xtk:schema|ns:name`): xtk:session, a staged schema or its `Stg`; None if unknown."""
    entity, sep, schema_id = pk.partition("|")
    if not sep or entity.strip() != ENTITY_SCHEMA:
        return None
    schema_id = schema_id.strip()
    if schema_id == "xtk:session":
        return XTK_SESSION
    extra = registered(schema_id)
    if extra is not None:
        return extra
    return catalog.describe_data(registry, schema_id)  # every built-in and user schema, with sqlname and keys

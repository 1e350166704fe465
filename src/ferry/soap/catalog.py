"""The schema descriptions ferry serves through `xtk:persist#GetEntityIfMoreRecent` (pk `xtk:schema|ns:name`).

Services: `xtk:session` (in `ferry.soap.schemas`), `xtk:queryDef` (ExecuteQuery, exactly as the protocol reference
§5), `nms:replicationStrategy` (StartReplicateStagingData), `xtk:workflow` (Start, StartWithParameters, Stop),
plus whatever other modules add with `ferry.soap.service_schemas.register` (e.g. `nms:subscription`). Data schemas
(every built-in and user schema, and the `…Stg` staging schema of a staged one) are described from the registry with
attributes (name, type, length, label, sqlname) and keys, so `client.application.getSchema()` can build its schema
object.
"""

from __future__ import annotations

from ferry import system_views
from ferry.schema.model import Schema
from ferry.schema.registry import SchemaRegistry
from ferry.schema.staging import derive_staging_schema
from ferry.soap import service_schemas
from ferry.soap.writer import attr
from ferry.warehouse.tables import system_attributes

# SelectAll is an instance method that changes the query (answered as `entity`); BuildQuery / BuildQueryEx give the
# statement ferry would run (admins only); Analyze gives the query's select nodes with their types and labels.
XTK_QUERYDEF = """<schema namespace="xtk" name="queryDef" implements="xtk:persist" label="Queries">
  <element name="queryDef"/>
  <methods>
    <method name="ExecuteQuery" const="true"><parameters>
      <param name="output" type="DOMDocument" inout="out"/></parameters></method>
    <method name="SelectAll"><parameters>
      <param name="duplicate" type="boolean"/></parameters></method>
    <method name="BuildQuery" const="true"><parameters>
      <param name="sql" type="string" inout="out"/></parameters></method>
    <method name="BuildQueryEx" const="true"><parameters>
      <param name="sql" type="string" inout="out"/><param name="format" type="string" inout="out"/>
    </parameters></method>
    <method name="Analyze" const="true"><parameters>
      <param name="output" type="DOMDocument" inout="out"/></parameters></method>
  </methods>
</schema>"""

REPLICATION_STRATEGY = """<schema namespace="nms" name="replicationStrategy" label="Replication strategies">
  <element name="replicationStrategy" label="Replication strategy"/>
  <methods>
    <method name="StartReplicateStagingData" static="true"><parameters>
      <param name="strSchema" type="string"/></parameters></method>
  </methods>
</schema>"""

# Static, by the workflow's internal name, as the SDK calls them: `NLWS.xtkWorkflow.start("importer")`.
XTK_WORKFLOW = """<schema namespace="xtk" name="workflow" label="Workflows">
  <element name="workflow" label="Workflow"/>
  <methods>
    <method name="Start" static="true"><parameters>
      <param name="strWorkflowId" type="string"/></parameters></method>
    <method name="StartWithParameters" static="true"><parameters>
      <param name="strWorkflowId" type="string"/>
      <param name="elemParameters" type="DOMElement"/></parameters></method>
    <method name="Stop" static="true"><parameters>
      <param name="strWorkflowId" type="string"/></parameters></method>
    <method name="PostEvent" static="true"><parameters>
      <param name="strWorkflowId" type="string"/>
      <param name="strActivity" type="string"/>
      <param name="strTransition" type="string"/>
      <param name="elemParameters" type="DOMElement"/>
      <param name="bComplete" type="boolean"/></parameters></method>
  </methods>
</schema>"""


def install() -> None:
    """Serve the descriptions of the services ferry implements besides xtk:session (idempotent)."""
    service_schemas.register("xtk:queryDef", XTK_QUERYDEF)
    service_schemas.register("nms:replicationStrategy", REPLICATION_STRATEGY)
    service_schemas.register("xtk:workflow", XTK_WORKFLOW)


def data_schema_xml(schema: Schema, *, implements: str | None = None, system: bool = True) -> str:
    """A data schema as Campaign compiles it: `<schema><element><key/>…<attribute/>…</element></schema>`.

    `system`: also list the @created / @lastModified ferry keeps on warehouse tables."""
    head = f'<schema namespace="{attr(schema.namespace)}" name="{attr(schema.name)}" label="{attr(schema.label)}"'
    if implements:
        head += f' implements="{attr(implements)}"'
    if schema.staging_source:
        head += f' stgSrcSchema="{attr(schema.staging_source)}"'
    lines = [head + ">"]
    for enum in schema.enumerations:
        lines.append(f'  <enumeration name="{attr(enum.name)}" basetype="{attr(enum.basetype)}" '
                     f'label="{attr(enum.label)}">')
        lines.extend(f'    <value name="{attr(item.name)}" label="{attr(item.label)}" value="{attr(item.value)}"/>'
                     for item in enum.values)
        lines.append("  </enumeration>")
    element = f'  <element name="{attr(schema.name)}" label="{attr(schema.label)}"'
    element += f' sqltable="{attr(schema.sql_table)}"'
    if schema.autopk:
        element += ' autopk="true"'
    if schema.autouuid:
        element += ' autouuid="true"'
    if schema.auto_stg:
        element += ' autoStg="true"'
    lines.append(element + ">")
    for key in schema.keys:
        internal = ' internal="true"' if key.internal else ""
        fields = "".join(f'<keyfield xpath="@{attr(name)}"/>' for name in key.fields)
        lines.append(f'    <key name="{attr(key.name)}"{internal}>{fields}</key>')
    # A warehouse schema also shows @created / @lastModified; a staging schema has only its own columns.
    stamps = () if schema.staging_source or not system else system_attributes(schema)
    for attribute in (*schema.attributes, *stamps):
        text = f'    <attribute name="{attr(attribute.name)}" type="{attr(attribute.type.value)}"'
        if attribute.length:
            text += f' length="{attribute.length}"'
        text += f' label="{attr(attribute.label or attribute.name)}" sqlname="{attr(attribute.sqlname)}"'
        if attribute.not_null:
            text += ' notNull="true"'
        if attribute.enum:
            text += f' enum="{attr(schema.id)}:{attr(attribute.enum)}"'
        lines.append(text + "/>")
    lines.append("  </element>")
    lines.append("</schema>")
    return "\n".join(lines)


def describe_data(registry: SchemaRegistry, schema_id: str) -> str | None:
    """A system view (xtk:option, xtk:operator, xtk:enumValue), a built-in or user schema, or the staging schema
    (`ns:nameStg`) of a staged one; None when unknown."""
    view = system_views.view(schema_id)
    if view is not None:
        # xtk:operator implements xtk:persist as in Campaign, so NewInstance / Duplicate reach ferry (and are refused).
        implements = "xtk:persist" if schema_id == system_views.OPERATOR.id else None
        return data_schema_xml(view.schema, implements=implements, system=False)
    schema = registry.get(schema_id)
    if schema is not None:
        return data_schema_xml(schema)
    if schema_id.endswith("Stg"):
        source = registry.get(schema_id[:-3])
        if source is not None and source.staged:
            staging = derive_staging_schema(source)
            if staging.id == schema_id:
                return data_schema_xml(staging)
    return None


install()

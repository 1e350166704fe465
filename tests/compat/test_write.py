"""v7 `Write` / `WriteCollection`: straight to the warehouse, one transaction per call, Campaign's faults."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio

PERSIST = "xtk:persist|xtk:session"


def _emails(compat: Any) -> dict[str, Any]:
    return {row["email"]: row for row in compat.warehouse_rows()}


async def test_write_operations(compat: Any) -> None:
    ok = await compat.soap(PERSIST, "Write", compat.doc('<recipient xtkschema="nms:recipient" _operation="insert" '
                                                 'email="dee@x.com" firstName="Dee"/>'))
    assert ok.fault is None, ok.body
    # insertOrUpdate is the default, reconciled on the schema's key (@email): a partial update.
    await compat.soap("xtk:session", "Write", compat.doc('<recipient xtkschema="nms:recipient" email="ann@x.com" '
                                                  'lastName="Jones"/>'))
    # update of a missing record is silent; delete by key; `none` does nothing.
    for xml in ('<recipient xtkschema="nms:recipient" _operation="update" email="ghost@x.com" firstName="G"/>',
                '<recipient xtkschema="nms:recipient" _operation="delete" email="bob@x.com"/>',
                '<recipient xtkschema="nms:recipient" _operation="none" email="cid@y.org" firstName="Nope"/>'):
        reply = await compat.soap(PERSIST, "Write", compat.doc(xml))
        assert reply.fault is None, reply.body
    rows = _emails(compat)
    assert sorted(rows) == ["ann@x.com", "cid@y.org", "dee@x.com"]
    assert (rows["ann@x.com"]["firstName"], rows["ann@x.com"]["lastName"]) == ("Ann", "Jones")
    assert rows["cid@y.org"]["firstName"] == "Cid"
    assert rows["dee@x.com"]["id"]  # a new record gets its internal id


async def test_write_collection_shapes_and_atomicity(compat: Any) -> None:
    sdk_shape = ('<recipient xtkschema="nms:recipient"><recipient _operation="insert" email="e1@x.com"/>'
                 '<recipient _operation="insert" email="e2@x.com"/></recipient>')
    assert (await compat.soap(PERSIST, "WriteCollection", compat.doc(sdk_shape))).fault is None
    collection = ('<recipient-collection xtkschema="nms:recipient"><recipient _operation="insert" email="e3@x.com"/>'
                  '<recipient _key="@email" email="e1@x.com" firstName="One"/></recipient-collection>')
    assert (await compat.soap(PERSIST, "WriteCollection", compat.doc(collection))).fault is None
    before = _emails(compat)
    assert {"e1@x.com", "e2@x.com", "e3@x.com"} <= set(before) and before["e1@x.com"]["firstName"] == "One"
    # A duplicate insert faults and nothing of the call is written (one transaction).
    duplicate = ('<recipient xtkschema="nms:recipient"><recipient _operation="insert" email="e4@x.com"/>'
                 '<recipient _operation="insert" email="ann@x.com"/></recipient>')
    reply = await compat.soap(PERSIST, "WriteCollection", compat.doc(duplicate))
    assert reply.fault is not None and "ODB-240000" in reply.fault and "FRY-400011" in reply.fault
    assert "Record 2" in reply.fault
    assert _emails(compat) == before


async def test_write_refusals(compat: Any) -> None:
    before = _emails(compat)
    for xml, code in (('<recipient email="x@x.com"/>', "FRY-100002"),
                      ('<recipient xtkschema="nms:recipient" email="x@x.com" nope="1"/>', "FRY-100005"),
                      ('<recipient xtkschema="nms:recipient" _operation="explode" email="x@x.com"/>', "FRY-100010"),
                      ('<recipient xtkschema="nms:recipient" gender="many" email="x@x.com"/>', "FRY-100006")):
        reply = await compat.soap(PERSIST, "Write", compat.doc(xml))
        assert reply.fault is not None and reply.fault.startswith("SOP-330011 ") and code in reply.fault, reply.fault
    record = compat.doc('<recipient xtkschema="nms:recipient" email="x@x.com"/>')
    forbidden = await compat.soap(PERSIST, "Write", record, login="dan")
    assert forbidden.fault is not None and "FRY-600003" in forbidden.fault
    assert _emails(compat) == before


async def test_write_without_any_key_creates_a_record(compat: Any) -> None:
    # No _key, no @email, no @id: Campaign's Write inserts a new record (the default insertOrUpdate included).
    for method, xml in (("Write", '<recipient xtkschema="nms:recipient" firstName="Nokey"/>'),
                        ("Write", '<recipient xtkschema="nms:recipient" _operation="insertOrUpdate" lastName="Nk"/>'),
                        ("WriteCollection", '<recipient xtkschema="nms:recipient"><recipient firstName="Coll"/>'
                                            '</recipient>')):
        reply = await compat.soap(PERSIST, method, compat.doc(xml))
        assert reply.fault is None, reply.body
    schema = compat.runtime.registry.get("nms:recipient")
    new = [row for row in compat.runtime.warehouse.read(schema) if row["email"] is None]
    assert sorted((row["firstName"] or "", row["lastName"] or "") for row in new) == [
        ("", "Nk"), ("Coll", ""), ("Nokey", "")]
    assert len({row["id"] for row in new}) == 3 and all(row["id"] for row in new)


async def test_write_messages_name_the_method_called(compat: Any) -> None:
    for method, xml in (("Write", '<recipient xtkschema="nms:recipient" _operation="update" firstName="X"/>'),
                        ("WriteCollection", '<recipient xtkschema="nms:recipient"><recipient _operation="delete" '
                                            'firstName="X"/></recipient>')):
        reply = await compat.soap(PERSIST, method, compat.doc(xml))
        assert reply.fault is not None and "FRY-100011" in reply.fault, reply.body
        assert f"{method} {'update' if method == 'Write' else 'delete'} needs a key" in reply.fault
        assert "Ingest" not in reply.fault
        assert f"the method '{method}'" in reply.fault

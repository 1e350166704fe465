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

"""XML records: attribute names as a schema knows them, never taken from another namespace."""

from __future__ import annotations

import pytest

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.documents import records_from_xml_bytes


def test_a_namespaced_attribute_cannot_override_a_plain_one() -> None:
    # Issue 27: `r:testcol1` was read as `testcol1` and replaced the value the record gave it.
    with pytest.raises(FerryError) as caught:
        records_from_xml_bytes(b'<sampleTable xmlns:r="urn:r" testcol1="mine" r:testcol1="theirs"/>')
    assert caught.value.code == errors.UNKNOWN_ATTRIBUTE
    assert caught.value.attribute == "testcol1" and "namespace (urn:r)" in caught.value.message


def test_a_default_namespace_on_the_record_still_reads_its_attributes() -> None:
    [record] = records_from_xml_bytes(b'<sampleTable xmlns="urn:x" testcol1="mine"/>')
    assert dict(record.fields) == {"testcol1": "mine"}

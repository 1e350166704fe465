"""Who sees and starts which workflow: the workflows that run as an operator whose rights it holds; admins all."""

from __future__ import annotations

import pytest

from ferry.auth import Authenticator, Operator
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.staging import StagingDatabase
from ferry.workflows import access, definitions
from ferry.workflows.schedule import Schedule


def test_operators_see_the_workflows_of_operators_whose_rights_they_hold(staging_db: StagingDatabase,
                                                                         settings: Settings) -> None:
    auth = Authenticator(staging_db.pool, settings)
    admin = auth.add_operator("boss", "pw-boss-123", admin=True)
    loader = auth.add_operator("loader", "pw-loader-1", schemas=["nms:recipient"])
    bigger = auth.add_operator("bigger", "pw-bigger-1", schemas=["nms:recipient", "nms:subscription"])
    reader = auth.add_operator("reader", "pw-reader-1", read_schemas=["nms:recipient"])
    every = Schedule(every_seconds=3600)
    definitions.add(staging_db.pool, "asLoader", "logInfo(1)", schedule=every, operator_login="loader")
    definitions.add(staging_db.pool, "asBigger", "logInfo(1)", schedule=every, operator_login="bigger")
    definitions.add(staging_db.pool, "asOwner", "logInfo(1)", schedule=every)

    def names(operator: Operator) -> list[str]:
        return [w.name for w in access.visible(staging_db.pool, operator)]

    assert names(admin) == ["asBigger", "asLoader", "asOwner"]
    assert names(bigger) == ["asBigger", "asLoader"]
    assert names(loader) == ["asLoader"]
    assert names(reader) == []
    with pytest.raises(FerryError) as caught:
        access.get_visible(staging_db.pool, loader, "asBigger")
    assert caught.value.code.code == "FRY-140001"  # answered as unknown, not confirmed
    assert access.get_visible(staging_db.pool, bigger, "asLoader").name == "asLoader"
    disabled = auth.disable("bigger")
    assert names(disabled) == []

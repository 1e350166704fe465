"""Counting the queries that confirm cached sessions, for the tests that a staging write confirms them instead."""

from __future__ import annotations

from typing import Any


class ConfirmQueries:
    """Installed on a `Revocations`, counts its confirmation queries (`_valid`) in `count`, answering as before."""

    def __init__(self, revocations: Any) -> None:
        self.count = 0
        check = revocations._valid

        def counted(hashes: list[bytes]) -> set[bytes]:
            self.count += 1
            result: set[bytes] = check(hashes)
            return result

        revocations._valid = counted

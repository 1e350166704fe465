"""The product hashes passwords with argon2id at RFC 9106's low-memory cost (the suite itself uses a cheap one)."""

from __future__ import annotations

import subprocess
import sys


def test_a_fresh_process_hashes_with_argon2id_64_mib_3_passes() -> None:
    code = ("from ferry.auth.passwords import hash_password, verify_password, needs_rehash\n"
            "h = hash_password('pw')\n"
            "print(h, verify_password(h, 'pw'), verify_password(h, 'nope'), needs_rehash(h))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    stored, right, wrong, stale = done.stdout.split()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (right, wrong, stale) == ("True", "False", "False")


def test_a_hash_weaker_than_the_products_needs_rehash() -> None:
    code = ("from argon2 import PasswordHasher\n"
            "from ferry.auth.passwords import needs_rehash\n"
            "print(needs_rehash(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash('pw')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True"

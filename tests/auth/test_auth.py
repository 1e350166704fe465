"""Operators and sessions against a real PostgreSQL: hashing, logon, token checks, rights, rate limit."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import psycopg
import pytest

from ferry.auth import Authenticator, AuthError
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.staging import StagingDatabase


def make_auth(db: StagingDatabase, settings: Settings, **overrides: float) -> Authenticator:
    return Authenticator(db.pool, dataclasses.replace(settings, **overrides))


@pytest.fixture
def auth(staging_db: StagingDatabase, settings: Settings) -> Authenticator:
    return make_auth(staging_db, settings)


def test_passwords_are_stored_as_argon2id_hashes_never_plain(auth: Authenticator, staging_db: StagingDatabase) -> None:
    auth.add_operator("ann", "s3cret-pw", schemas=["nms:recipient"])
    with psycopg.connect(staging_db.url) as conn:
        row = conn.execute("SELECT password_hash FROM ferry.operators WHERE login = 'ann'").fetchone()
    assert row is not None
    assert row[0].startswith("$argon2id$")
    assert "s3cret-pw" not in row[0]


def test_logon_returns_campaign_like_tokens_stored_only_hashed(auth: Authenticator,
                                                               staging_db: StagingDatabase) -> None:
    created = auth.add_operator("ann", "pw", schemas=["nms:recipient"])
    result = auth.logon("ann", "pw")
    assert result.operator == created
    assert result.session_token.startswith("___") and result.security_token.startswith("@")
    for token in (result.session_token, result.security_token):
        assert ";" not in token and " " not in token and "=" not in token
    with psycopg.connect(staging_db.url) as conn:
        stored = conn.execute("SELECT session_hash, security_hash FROM ferry.sessions").fetchall()
    assert len(stored) == 1
    assert result.session_token.encode() not in bytes(stored[0][0])
    assert auth.check(result.session_token, result.security_token) == created


@pytest.mark.parametrize(("login", "password"), [("ann", "wrong"), ("nobody", "pw"), ("", "")])
def test_bad_credentials_get_xsv_350022(auth: Authenticator, login: str, password: str) -> None:
    auth.add_operator("ann", "pw")
    with pytest.raises(AuthError) as caught:
        auth.logon(login, password)
    assert caught.value.campaign_code == "XSV-350022"
    assert caught.value.code.code == "FRY-600001"
    assert caught.value.faultstring.startswith("XSV-350022 ")


def test_disabled_operator_gets_the_same_refusal_as_a_wrong_password(auth: Authenticator) -> None:
    auth.add_operator("ann", "pw")
    auth.add_operator("bob", "pw")
    with pytest.raises(AuthError) as wrong:
        auth.logon("bob", "nope")
    auth.disable("ann")
    with pytest.raises(AuthError) as disabled:
        auth.logon("ann", "pw")
    assert disabled.value.faultstring == wrong.value.faultstring


def assert_session_invalid(auth: Authenticator, session: str | None, security: str | None) -> None:
    with pytest.raises(AuthError) as caught:
        auth.check(session, security)
    assert caught.value.campaign_code == "XSV-350008"
    assert caught.value.http_status == 401
    assert caught.value.faultstring == "XSV-350008 Session has expired or is invalid. Please reconnect."


def test_token_checks_refuse_missing_unknown_and_mismatched_pairs(auth: Authenticator) -> None:
    auth.add_operator("ann", "pw")
    auth.add_operator("bob", "pw")
    ann = auth.logon("ann", "pw")
    bob = auth.logon("bob", "pw")
    assert auth.check(ann.session_token, ann.security_token).login == "ann"  # now cached
    assert_session_invalid(auth, None, ann.security_token)
    with pytest.raises(AuthError) as missing:  # said as such: the session itself may be fine
        auth.check(ann.session_token, None)
    assert missing.value.faultstring == ("XSV-350008 The security token is missing: send the securityToken that "
                                         "Logon returned in the X-Security-Token header.")
    assert missing.value.http_status == 401
    assert_session_invalid(auth, "", "")
    assert_session_invalid(auth, "___forged", ann.security_token)
    assert_session_invalid(auth, ann.session_token, "@forged")
    # Another operator's security token never completes a pair, cached or not.
    assert_session_invalid(auth, ann.session_token, bob.security_token)
    assert_session_invalid(auth, bob.session_token, ann.security_token)


def test_sessions_expire_after_session_ttl(staging_db: StagingDatabase, settings: Settings) -> None:
    auth = make_auth(staging_db, settings, session_ttl=0.3)
    auth.add_operator("ann", "pw")
    session = auth.logon("ann", "pw")
    assert auth.check(session.session_token, session.security_token).login == "ann"
    time.sleep(0.5)
    assert_session_invalid(auth, session.session_token, session.security_token)


def test_logoff_revokes_at_once_even_when_cached(auth: Authenticator, staging_db: StagingDatabase,
                                                 settings: Settings) -> None:
    auth.add_operator("ann", "pw")
    session = auth.logon("ann", "pw")
    auth.check(session.session_token, session.security_token)
    auth.logoff(session.session_token)
    assert_session_invalid(auth, session.session_token, session.security_token)
    # Another process (no cache) sees the revocation too.
    assert_session_invalid(make_auth(staging_db, settings), session.session_token, session.security_token)


def test_disable_revokes_open_sessions(auth: Authenticator) -> None:
    auth.add_operator("ann", "pw")
    session = auth.logon("ann", "pw")
    auth.check(session.session_token, session.security_token)
    auth.disable("ann")
    assert_session_invalid(auth, session.session_token, session.security_token)


def test_set_password_changes_logon_and_revokes_sessions(auth: Authenticator) -> None:
    auth.add_operator("ann", "old")
    session = auth.logon("ann", "old")
    auth.set_password("ann", "new")
    assert_session_invalid(auth, session.session_token, session.security_token)
    with pytest.raises(AuthError):
        auth.logon("ann", "old")
    assert auth.logon("ann", "new").operator.login == "ann"


def test_rights_are_per_schema_and_admin_may_do_everything(auth: Authenticator) -> None:
    ann = auth.add_operator("ann", "pw", schemas=["dem:sampleTable"])
    root = auth.add_operator("root", "pw", admin=True)
    assert auth.can_ingest(ann, "dem:sampleTable")
    assert not auth.can_ingest(ann, "nms:recipient")
    assert auth.can_ingest(root, "nms:recipient")
    with pytest.raises(AuthError) as caught:
        auth.require_ingest(ann, "nms:recipient")
    assert caught.value.http_status == 403
    assert caught.value.code.code == "FRY-600003"


def test_rate_limit_refuses_with_429_past_the_budget(staging_db: StagingDatabase, settings: Settings) -> None:
    auth = make_auth(staging_db, settings, rate_limit=2)
    ann = auth.add_operator("ann", "pw")
    bob = auth.add_operator("bob", "pw")
    auth.rate_limit(ann)
    auth.rate_limit(ann)
    with pytest.raises(AuthError) as caught:
        auth.rate_limit(ann)
    assert caught.value.http_status == 429
    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    auth.rate_limit(bob)  # budgets are per operator


def test_rate_limit_zero_means_unlimited(auth: Authenticator) -> None:
    ann = auth.add_operator("ann", "pw")
    for _ in range(1000):
        auth.rate_limit(ann)
    assert auth.settings.rate_limit == 0


def test_ensure_admin_only_when_no_operator_exists(auth: Authenticator, staging_db: StagingDatabase,
                                                   settings: Settings) -> None:
    assert auth.ensure_admin("first")
    assert not auth.ensure_admin("second")
    assert auth.logon("admin", "first").operator.admin
    other = make_auth(staging_db, settings)
    assert not other.ensure_admin("third")
    assert [op.login for op in auth.list_operators()] == ["admin"]


def test_ensure_admin_does_nothing_when_another_operator_exists(auth: Authenticator) -> None:
    auth.add_operator("ann", "pw")
    assert not auth.ensure_admin("secret")
    assert auth.get_operator("admin") is None


def test_operator_management_errors(auth: Authenticator) -> None:
    auth.add_operator("ann", "pw")
    with pytest.raises(FerryError) as exists:
        auth.add_operator("ann", "pw")
    assert exists.value.code.code == "FRY-600005"
    with pytest.raises(FerryError) as unknown:
        auth.disable("nobody")
    assert unknown.value.code.code == "FRY-600006"
    for login, password, schemas in (("bad login", "pw", ()), ("x", "", ()), ("x", "pw", ("no-colon",))):
        with pytest.raises(FerryError) as bad:
            auth.add_operator(login, password, schemas=schemas)
        assert bad.value.code.code == "FRY-600007"
    listed = auth.list_operators()
    assert [(op.login, op.admin, op.disabled) for op in listed] == [("ann", False, False)]


def test_check_async_matches_check(auth: Authenticator) -> None:
    auth.add_operator("ann", "pw")
    session = auth.logon("ann", "pw")

    async def scenario() -> None:
        assert (await auth.check_async(session.session_token, session.security_token)).login == "ann"
        assert (await auth.check_async(session.session_token, session.security_token)).login == "ann"
        with pytest.raises(AuthError):
            await auth.check_async(session.session_token, "@wrong")

    asyncio.run(scenario())

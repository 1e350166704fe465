"""Console security over httpx's ASGITransport: login redirects, CSRF on every form, admin-only row actions,
cookie flags, logout revoking the session."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.anyio

PAGES = ["/console", "/console/", "/console/runs", f"/console/runs/{uuid.uuid4()}", "/console/rows",
         "/console/rows?state=skipped", f"/console/lookup?q={uuid.uuid4()}", "/console/schemas"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_without_a_session_redirect_to_login(console: Any, path: str) -> None:
    reply = await console.client.get(path)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/console/login"


async def test_a_forged_cookie_redirects_to_login_and_is_dropped(console: Any) -> None:
    console.client.cookies.set("ferry_console", "___ABC|@forged", path="/console")
    reply = await console.client.get("/console")
    assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
    assert "ferry_console=" in reply.headers["set-cookie"]


@pytest.mark.parametrize("path", ["/console/sync", "/console/rows/requeue", "/console/rows/discard",
                                  "/console/logout"])
async def test_posts_without_a_session_redirect_to_login(console: Any, path: str) -> None:
    reply = await console.client.post(path, data={"csrf": "x", "schema": "nms:recipient"})
    assert reply.status_code == 303 and reply.headers["location"] == "/console/login"


@pytest.mark.parametrize("token", [None, "", "wrong-token-wrong-token-wrong"])
async def test_login_post_without_the_right_csrf_token_is_refused(console: Any, token: str | None) -> None:
    await console.client.get("/console/login")
    data = {"login": "root", "password": "pw"}
    if token is not None:
        data["csrf"] = token
    reply = await console.client.post("/console/login", data=data)
    assert reply.status_code == 403
    assert "FRY-900001" in reply.text
    assert "ferry_console=" not in reply.headers.get("set-cookie", "")


async def test_login_cookie_flags_and_security_headers(console: Any) -> None:
    page = await console.client.get("/console/login")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-frame-options"] == "DENY"
    token = console.csrf(page.text)
    reply = await console.client.post("/console/login", data={"login": "root", "password": "pw",
                                                               "csrf": token})
    assert reply.status_code == 303 and reply.headers["location"] == "/console"
    cookie = next(value for value in reply.headers.get_list("set-cookie") if value.startswith("ferry_console="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/console" in flags
    assert "secure" not in flags  # plain http here; see the https test


async def test_cookie_is_secure_over_https(console: Any) -> None:
    client = console.client
    client.base_url = "https://ferry"  # type: ignore[assignment]
    page = await client.get("/console/login")
    token = console.csrf(page.text)
    reply = await client.post("/console/login", data={"login": "root", "password": "pw", "csrf": token})
    cookie = next(value for value in reply.headers.get_list("set-cookie") if value.startswith("ferry_console="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


async def test_wrong_password_shows_the_form_again(console: Any) -> None:
    page = await console.client.get("/console/login")
    token = console.csrf(page.text)
    reply = await console.client.post("/console/login", data={"login": "root", "password": "nope",
                                                               "csrf": token})
    assert reply.status_code == 401
    assert "Wrong login or password" in reply.text


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_session_posts_without_the_right_csrf_token_are_refused(console: Any, token: str | None) -> None:
    good = await console.login("root")
    (row,) = await console.ingest([{"email": "a@x"}])
    console.fail_row(row)
    for path, data in [("/console/sync", {"schema": "nms:recipient"}),
                       ("/console/rows/requeue", {"schema": "nms:recipient", "uuid": row}),
                       ("/console/rows/discard", {"schema": "nms:recipient", "uuid": row}),
                       ("/console/logout", {})]:
        if token is not None:
            data["csrf"] = token
        reply = await console.client.post(path, data=data)
        assert reply.status_code == 403, path
        assert "FRY-900001" in reply.text
    assert console.row_state(row) == ("failed", "poison row for the test")
    # The session is still valid: the refused logout did not log out.
    assert (await console.client.get("/console")).status_code == 200
    assert good


async def test_a_non_admin_cannot_requeue_or_discard(console: Any) -> None:
    (row,) = await console.ingest([{"email": "b@x"}])
    console.fail_row(row)
    csrf = await console.login("viewer")
    page = await console.client.get("/console/rows?schema=nms:recipient&state=failed")
    assert page.status_code == 200 and row in page.text
    assert 'data-action="requeue"' not in page.text  # no buttons for non-admins
    for action in ("requeue", "discard"):
        reply = await console.client.post(f"/console/rows/{action}",
                                          data={"csrf": csrf, "schema": "nms:recipient", "uuid": row})
        assert reply.status_code == 403
        assert "FRY-900002" in reply.text
    assert console.row_state(row) == ("failed", "poison row for the test")
    with psycopg.connect(console.runtime.db.url) as conn:
        actions = conn.execute("SELECT count(*) FROM ferry.row_actions").fetchone()
    assert actions == (0,)


async def test_an_admin_requeues_and_discards_and_both_are_recorded(console: Any) -> None:
    first, second = await console.ingest([{"email": "c@x"}, {"email": "d@x"}])
    console.fail_row(first)
    console.fail_row(second, "rejected by the warehouse")
    csrf = await console.login("root")
    reply = await console.client.post("/console/rows/requeue", data={"csrf": csrf, "schema": "nms:recipient",
                                                                      "uuid": first, "note": "schema fixed"})
    assert reply.status_code == 303
    assert console.row_state(first) == ("staged", None)
    reply = await console.client.post("/console/rows/discard",
                                      data={"csrf": csrf, "schema": "nms:recipient", "uuid": second})
    assert reply.status_code == 303
    assert console.row_state(second) == ("failed", "rejected by the warehouse")
    again = await console.client.post("/console/rows/discard",
                                      data={"csrf": csrf, "schema": "nms:recipient", "uuid": second})
    assert again.status_code == 409
    staged = await console.client.post("/console/rows/requeue",
                                       data={"csrf": csrf, "schema": "nms:recipient", "uuid": first})
    assert staged.status_code == 409  # only failed rows
    with psycopg.connect(console.runtime.db.url) as conn:
        actions = conn.execute("SELECT row_uuid::text, action, operator, reason, note FROM ferry.row_actions "
                               "ORDER BY id").fetchall()
    assert actions == [(first, "requeue", "root", "poison row for the test", "schema fixed"),
                       (second, "discard", "root", "rejected by the warehouse", None)]
    listed = await console.client.get("/console/rows?schema=nms:recipient&state=failed&show=discarded")
    assert second in listed.text and first not in listed.text
    history = await console.client.get(f"/console/lookup?q={first}")
    assert "console requeue" in history.text and "schema fixed" in history.text


async def test_logout_revokes_the_session(console: Any) -> None:
    csrf = await console.login("root")
    cookie = console.client.cookies.get("ferry_console")
    assert cookie
    reply = await console.client.post("/console/logout", data={"csrf": csrf})
    assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
    console.client.cookies.set("ferry_console", cookie, path="/console")  # replaying the old cookie
    assert (await console.client.get("/console")).status_code == 303


async def test_sync_now_without_a_scheduler_runs_the_sync(console: Any) -> None:
    rows = await console.ingest([{"email": "e@x"}, {"email": "f@x"}])
    csrf = await console.login("root")
    reply = await console.client.post("/console/sync", data={"csrf": csrf, "schema": "nms:recipient"})
    assert reply.status_code == 303 and reply.headers["location"].startswith("/console/runs/")
    run = await console.client.get(reply.headers["location"])
    assert run.status_code == 200 and "succeeded" in run.text
    assert all(console.row_state(row)[0] == "synced" for row in rows)
    for path in ["/console", "/console/runs", "/console/schemas", f"/console/lookup?q={rows[0]}",
                 "/console/rows?state=skipped"]:
        page = await console.client.get(path)
        assert page.status_code == 200, path
        assert "<svg" in page.text or path != "/console"

"""The dictionary router answers exactly as Starlette's ordered router would."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from modelyard.http.routing import StaticFirstRouter

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _say(text: str):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{text} {dict(request.path_params)}")

    return endpoint


async def test_static_lookup_keeps_route_order_and_methods() -> None:
    routes = [
        Route("/a/{x}", _say("param"), methods=["GET"]),
        Route("/a/static", _say("shadowed"), methods=["GET"]),
        Route("/b", _say("b-get"), methods=["GET"]),
        Route("/b", _say("b-post"), methods=["POST"]),
    ]
    router = StaticFirstRouter(routes)
    assert ("/a/static", "GET") not in router.static
    assert router.static[("/b", "POST")].path == "/b"
    app = Starlette()
    app.router = router
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/a/static")).text == "param {'x': 'static'}"
        assert (await client.get("/b")).text == "b-get {}"
        assert (await client.post("/b")).text == "b-post {}"
        assert (await client.head("/b")).status_code == 200
        assert (await client.delete("/b")).status_code == 405
        assert (await client.get("/nowhere")).status_code == 404


async def test_a_partial_table_is_completed_by_the_first_request_it_cannot_answer() -> None:
    """create_app serves the tracking routes first; a request no route of that part
    answers fully (a 404, or a 405 on a path another method serves) loads the whole
    table and is answered from it, in the whole table's order."""
    whole = [
        Route("/b", _say("b-get"), methods=["GET"]),
        Route("/late/{x}", _say("late-param"), methods=["GET"]),
        Route("/late/fixed", _say("late-static"), methods=["GET"]),
        Route("/b", _say("b-post"), methods=["POST"]),
    ]
    loads: list[int] = []

    def rest() -> list[Route]:
        loads.append(1)
        return whole

    router = StaticFirstRouter(whole[:1], rest=rest)
    app = Starlette()
    app.router = router
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/b")).text == "b-get {}"
        assert loads == []  # answered by the part
        assert (await client.post("/b")).text == "b-post {}"  # a 405 in the part
        assert loads == [1]
        assert (await client.get("/late/fixed")).text == "late-param {'x': 'fixed'}"
        assert (await client.get("/nowhere")).status_code == 404
        assert loads == [1]  # once

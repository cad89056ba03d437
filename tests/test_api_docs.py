"""/docs (Swagger UI) and /redoc work offline: their assets come from the package, not a CDN. Checked in
real headless Chromium against a real uvicorn server, with every request that leaves 127.0.0.1 aborted."""
from __future__ import annotations

import re

import httpx

import pytest
from playwright.sync_api import expect

from api_fixtures import indexed_copy, live_server

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    lib = indexed_copy(tmp_path_factory.mktemp("docs"), names=["coffee.jpg", "chelsea.jpg"])
    with live_server(lib) as base:
        yield base
    lib.close()


def test_docs_pages_reference_only_local_assets(server):
    for page in ("/docs", "/redoc"):
        html = httpx.get(server + page, timeout=10).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: *'([^']+)'", html)
        assert urls, html
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], (page, urls)
        for u in urls:
            r = httpx.get(server + u, timeout=10)
            assert r.status_code == 200 and len(r.content) > 1000, (page, u, r.status_code)


def offline_page(browser, server):
    ctx = browser.new_context()
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(server):
            r.continue_()
        else:
            outside.append((r.request.resource_type, r.request.url))
            r.abort()

    ctx.route("**/*", route)
    return ctx, ctx.new_page(), outside


def test_swagger_ui_lists_the_endpoints_offline(browser, server):
    ctx, page, outside = offline_page(browser, server)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("pixseek")
    ops = page.locator(".opblock-summary-path")
    expect(ops.first).to_be_visible()
    shown = {p.replace("\u200b", "") for p in ops.all_inner_texts()}
    declared = set(httpx.get(server + "/openapi.json", timeout=10).json()["paths"])
    assert "/api/search/image" in declared and shown == declared, (shown ^ declared)
    # expanding one endpoint renders its parameters: the UI works, not just the HTML
    page.locator(".opblock-summary", has_text="/api/items/{item_id}").first.click()
    expect(page.locator(".opblock-body .parameters").first).to_be_visible()
    ctx.close()
    assert not errors, errors
    assert not outside, f"requests that left the machine: {outside}"


def test_redoc_renders_offline(browser, server):
    ctx, page, outside = offline_page(browser, server)
    page.goto(server + "/redoc")
    expect(page.locator("h1", has_text="pixseek")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("/api/search/image").first).to_be_attached()
    ctx.close()
    # ReDoc's "API docs by Redocly" badge is a CDN image (cosmetic; it shows as alt text offline)
    assert not [u for kind, u in outside if kind != "image"], f"requests that left the machine: {outside}"

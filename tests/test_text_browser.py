"""Text search on the web page, in real headless Chromium: warnings beside the query, the weak divider,
and relevance feedback on text hits with the marks kept in the URL (issues 14, 18)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from test_web_browser import names, page, server, shot  # noqa: F401  (fixtures; `browser` is conftest's)

pytestmark = pytest.mark.system


def test_text_query_says_what_it_ignored_and_refines_with_marks(page: Page):
    page.fill("#q", "animal qwxzzv")
    page.keyboard.press("Enter")
    # the horse first: a horse, and named one (the file's words are read through the hierarchy), then the cat
    expect(page.locator("#results .card.rank-1 .name")).to_have_text("horse.png")
    assert names(page)[:2] == ["horse.png", "chelsea.jpg"]
    expect(page.locator("#query-meta")).to_contain_text("no label matches 'qwxzzv'")
    expect(page.locator("#results .divider")).to_have_text("Weaker matches")

    cards = page.locator("#results .card")
    liked = cards.nth(3)
    liked_id = liked.get_attribute("data-id")
    liked.locator("button.mark.like").click()
    cards.nth(0).locator("button.mark.unlike").click()
    page.locator("#refine").click()
    expect(page).to_have_url(re.compile(rf"#/q/animal%20qwxzzv\?like={liked_id}&unlike=\d+$"))
    expect(page.locator("#results .card.rank-1")).to_have_attribute("data-id", liked_id)
    assert names(page)[0] != "horse.png"  # "less like this" moved the horse down
    expect(page.locator(f"#results .card[data-id='{liked_id}'] button.mark.like")).to_have_attribute("aria-pressed", "true")
    shot(page, "web-text-refine.png")

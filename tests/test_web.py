"""The web page: the real aiohttp server on 127.0.0.1, in Debian's headless Chromium.

The browser tests click and type as a person would, with the shipped flows and a real state
database in a temporary folder. What a browser cannot show (refused requests, headers, limits)
is checked over plain HTTP with aiohttp's client. Every wait is on a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    async_playwright,
    expect,
)

from bot.channels.web.server import (
    COOKIE,
    CSP,
    DOCUMENT_TTL,
    HOST_COOKIE,
    MAX_BODY,
    REFUSED_WAIT,
    WebChannel,
)
from bot.config import Settings, WebSettings
from bot.engine.conversation import Event, Output
from bot.flows.checker import Sources, check
from bot.flows.model import Bundle
from bot.flows.problems import ContentError
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore

from .browser import chromium_missing, launch
from .helpers import Q_DANGER, Q_HOW, Q_INJURED, Q_PROTOCOL, Q_WHEN, Q_WHO, SECRET

pytestmark = pytest.mark.asyncio(loop_scope="module")

Q_WHAT = "Was ist passiert? Wählen Sie"
WELCOME = "Guten Tag, hier ist Lotse."
WORDS = "Ich weiß, wo Ihr Auto steht."
INJECTION = '<img src="x" id="injected"> <script>window.injected = 1</script> **fett**'

expect.set_options(timeout=15_000)


# --- the server ------------------------------------------------------------------------------


class Site:
    """A running web channel over a real state database."""

    def __init__(self, channel: WebChannel, service: ConversationService, folder: Path) -> None:
        self.channel = channel
        self.service = service
        self.db = folder / "state.db"

    @property
    def url(self) -> str:
        return self.channel.url

    def rows(self) -> int:
        """Conversations on disk, read as another process would."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT count(*) FROM conversations").fetchone()[0])

    def keys_kept(self) -> int:
        """Keys in the key file that seal a stored state (not overwritten with zeros)."""
        data = self.db.with_suffix(".keys").read_bytes()
        return sum(data[i:i + 32] != bytes(32) for i in range(0, len(data), 32))

    def on_disk(self, text: str) -> bool:
        """Whether `text` is anywhere in the database files, deleted pages and WAL included."""
        needle = text.encode("utf-8")
        return any(path.exists() and needle in path.read_bytes()
                   for path in (self.db, self.db.with_name("state.db-wal")))


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    result = check(Sources.shipped())
    assert result.bundle is not None
    return result.bundle


@contextlib.asynccontextmanager
async def serving(bundle: Bundle, folder: Path, **settings: Any) -> AsyncIterator[Site]:
    store = StateStore(folder / "state.db")
    service = ConversationService(bundle, store, KeyHasher(SECRET))
    channel = WebChannel(service, WebSettings(listen="127.0.0.1:0", **settings))
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(stop))
    try:
        await asyncio.wait_for(channel.ready.wait(), 10)
        yield Site(channel, service, folder)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        store.close()


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds (for what happens on the server after a page left)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


# --- the browser -----------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    if chromium_missing():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    async with async_playwright() as playwright:
        launched = await launch(playwright)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) the size of a phone; page errors fail the test,
    and so does anything the Content-Security-Policy blocked."""
    context = await browser.new_context(accept_downloads=True, locale="de-DE",
                                        viewport={"width": 390, "height": 844})
    problems: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}")
                if msg.type == "error" else None)

    context.on("page", watch)
    yield context
    await context.close()
    assert not problems, problems


def current(page: Page, question: str) -> Any:
    """The question waiting now, once it says `question`."""
    return page.locator(".question", has=page.locator(".options.live")).filter(
        has_text=question).last


async def answer(page: Page, question: str, label: str) -> None:
    await current(page, question).get_by_role("button", name=label, exact=True).click()


async def choose(page: Page, question: str, labels: list[str]) -> None:
    """Ticks these answers of a question of several answers and sends them."""
    asked = current(page, question)
    for label in labels:
        await asked.get_by_label(label, exact=True).check()
    await asked.get_by_role("button", name="Auswahl senden").click()


async def write(page: Page, question: str, text: str) -> None:
    await expect(page.locator(".question").last).to_contain_text(question)
    await expect(page.locator("#input")).to_be_focused()
    await page.locator("#input").fill(text)
    await page.locator("#input").press("Enter")
    await expect(page.locator(".msg.user").last).to_have_text(re.compile(re.escape(text)))


async def first_questions(page: Page) -> None:
    await answer(page, Q_DANGER, "Nein")
    await answer(page, Q_WHO, "Es ist mir passiert")
    await answer(page, Q_INJURED, "Nein")
    await choose(page, Q_WHAT, ["Drohung"])
    await answer(page, Q_HOW, "Persönlich, am Schalter oder im Büro")
    await answer(page, Q_WHEN, "Heute")


# --- in the browser --------------------------------------------------------------------------


async def test_a_whole_conversation_by_clicks_reaches_a_document_and_contacts(
        bundle: Bundle, tmp_path: Path, context: BrowserContext) -> None:
    async with serving(bundle, tmp_path) as site:
        page = await context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        response = await page.goto(site.url)
        assert response is not None and response.headers["content-security-policy"] == CSP
        await expect(page.locator(".msg.bot").first).to_contain_text(WELCOME)
        await first_questions(page)
        await answer(page, Q_PROTOCOL, "Ja")
        await write(page, "Um wie viel Uhr", "gegen 10:30 Uhr")
        await answer(page, "Wo ist es passiert", "Überspringen")
        await write(page, "Erzählen Sie der Reihe nach", INJECTION)
        await write(page, "Was genau wurde gesagt", WORDS)
        for question in ("Wer war es", "Wer war dabei", "Wurden Sie verletzt",
                         "Was haben Sie danach", "Wie geht es Ihnen", "Was haben Sie aufbewahrt"):
            await answer(page, question, "Überspringen")
        review = page.locator(".msg.bot", has_text="Bitte sehen Sie noch einmal durch")
        await expect(review).to_contain_text(INJECTION)  # shown as text, word for word
        await answer(page, "Ist alles richtig?", "Ja, alles richtig")

        offer = page.locator(".document").last
        pdf_link = offer.get_by_role("link", name=re.compile("PDF herunterladen"))
        txt_link = offer.get_by_role("link", name=re.compile("Als Text herunterladen"))
        pdf_url, txt_url = (await pdf_link.get_attribute("href"),
                            await txt_link.get_attribute("href"))
        async with page.expect_download() as info:
            await pdf_link.click()
        download = await info.value
        assert download.suggested_filename.startswith("gedaechtnisprotokoll-")
        assert download.suggested_filename.endswith(".pdf")
        assert Path(str(await download.path())).read_bytes().startswith(b"%PDF")
        await expect(offer).to_contain_text("heruntergeladen")
        text = await context.request.get(f"{site.url}{txt_url}")
        assert text.status == 200 and WORDS in await text.text()
        assert text.headers["content-disposition"].startswith("attachment;")
        for used in (pdf_url, txt_url):  # one-time links
            assert (await context.request.get(f"{site.url}{used}")).status == 404
        await expect(page.locator("#injected")).to_have_count(0)
        assert await page.evaluate("window.injected") is None

        await answer(page, "Weiß Ihre Führungskraft", "Ja")
        await answer(page, "Belastet Sie der Vorfall", "Ja")
        web = page.locator(".contacts a[href='https://ukh.de']")
        await expect(web).to_have_attribute("rel", "noopener noreferrer")
        await answer(page, "Mehr dazu?", "Nein, weiter")
        await answer(page, "wie eine Anzeige", "Nein")
        phone = page.locator(".contacts").last.get_by_role("link", name="0561 282070")
        await expect(phone).to_have_attribute("href", "tel:0561282070")
        await answer(page, "anonym für die Statistik", "Ja, anonym melden")
        await answer(page, "Kam es von außen", "Von außen")
        motive = current(page, "mehrere Antworten")
        await motive.get_by_label("Rassistisch").check()
        await motive.get_by_label("Antisemitisch").check()
        await motive.get_by_role("button", name="Auswahl senden").click()
        await expect(current(page, "In welchem Arbeitsbereich")).to_be_visible()
        echoed = page.locator(".msg.user .text").last
        await expect(echoed).to_have_text("Rassistisch, Antisemitisch")
        # Answered questions keep no live buttons: only the one waiting now can be pressed.
        assert await page.locator(".options.live").count() == 1
        live = page.locator(".question button:not([disabled]), .question input:not([disabled])")
        assert await live.count() == await current(page, "Arbeitsbereich").locator(
            "button").count()
        # However long the conversation, the emergency button and the quick exit stay in view.
        await expect(page.get_by_role("button", name=re.compile("^Notfall"))).to_be_in_viewport()
        await expect(page.get_by_role("link", name="Schnell verlassen")).to_be_in_viewport()
        # Everything came from this server: no fonts, scripts or pixels from elsewhere.
        assert requested and all(url.startswith(site.url) for url in requested), requested


async def test_quick_exit_leaves_at_once_and_leaves_nothing_behind(
        bundle: Bundle, tmp_path: Path, context: BrowserContext) -> None:
    marker = "Schalter-7-Marke"
    async with serving(bundle, tmp_path) as site:
        page = await context.new_page()
        await page.goto(site.url)
        await first_questions(page)
        await answer(page, Q_PROTOCOL, "Ja")
        await write(page, "Um wie viel Uhr", "gegen 10:30 Uhr")
        await write(page, "Wo ist es passiert", marker)
        await expect(page.locator(".question").last).to_contain_text("Erzählen Sie")
        assert site.rows() == 1 and site.keys_kept() == 1
        assert not site.on_disk(marker)  # the state is sealed: never on disk in the clear
        assert [c["name"] for c in await context.cookies()] == [COOKIE]

        await page.get_by_role("link", name="Schnell verlassen").click()
        await expect(page).to_have_url("about:blank")
        await eventually(lambda: site.rows() == 0)
        await eventually(lambda: site.keys_kept() == 0)  # its key overwritten with zeros
        assert await context.cookies() == []
        assert await page.go_back() is None  # the page replaced itself: Back does not return
        assert page.url == "about:blank"

        again = await context.new_page()
        await again.goto(site.url)
        await expect(again.locator(".msg.bot").first).to_contain_text(WELCOME)
        await expect(again.locator("#log")).not_to_contain_text("Willkommen zurück")


async def test_keyboard_only_from_the_first_question_to_the_quick_exit(
        bundle: Bundle, tmp_path: Path, context: BrowserContext) -> None:
    async with serving(bundle, tmp_path) as site:
        page = await context.new_page()
        await page.goto(site.url)
        focused = page.locator(":focus")
        await expect(current(page, Q_DANGER)).to_be_visible()
        await expect(focused).to_have_text("Ja")  # the focus waits on the first answer
        await page.keyboard.press("Tab")
        await expect(focused).to_have_text("Nein")
        await page.keyboard.press("Enter")
        await expect(current(page, Q_WHO)).to_be_visible()
        await expect(focused).to_have_text("Es ist mir passiert")
        await page.keyboard.press("Space")
        await expect(current(page, Q_INJURED)).to_be_visible()
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await expect(current(page, Q_WHAT)).to_be_visible()
        await page.keyboard.press("Tab")  # what happened can be several things: ticks
        await expect(focused).to_have_attribute("type", "checkbox")
        await page.keyboard.press("Space")
        await expect(current(page, Q_WHAT).get_by_label("Drohung", exact=True)).to_be_checked()
        for _ in range(9):  # the other kinds of incident, then the button
            await page.keyboard.press("Tab")
        await expect(focused).to_have_text("Auswahl senden")
        await page.keyboard.press("Enter")
        await expect(current(page, Q_HOW)).to_be_visible()
        await page.keyboard.press("Enter")
        await expect(page.locator(".question").last).to_contain_text(Q_WHEN)
        await expect(page.locator("#input")).to_be_focused()
        await page.keyboard.type("gestern")
        await page.keyboard.press("Enter")
        await expect(current(page, Q_PROTOCOL)).to_be_visible()

        # Backwards from the answer: quick exit, language, emergency, the skip link; the focus
        # always shows.
        for name in ("Schnell verlassen", "English", "Notfall 110 / 112",
                     "Zum Eingabefeld springen"):
            await page.keyboard.press("Shift+Tab")
            await expect(focused).to_have_text(name)
            style = await focused.evaluate("e => getComputedStyle(e).outlineStyle")
            assert style == "solid", name
        await page.keyboard.press("Enter")
        await expect(page.locator("#input")).to_be_focused()
        for name in ("Es passiert immer wieder – lieber ein Vorfallstagebuch", "Nein", "Ja",
                     "Schnell verlassen", "English", "Notfall 110 / 112"):
            await page.keyboard.press("Shift+Tab")
            await expect(focused).to_have_text(name)
        await page.keyboard.press("Enter")
        await expect(page.locator(".contacts a[href='tel:110']").first).to_be_visible()
        await expect(current(page, Q_PROTOCOL)).to_be_visible()  # asked again, below
        await expect(focused).to_have_text("Ja")

        assert site.rows() == 1
        await page.keyboard.press("Escape")
        await page.keyboard.press("Escape")
        await expect(page).to_have_url("about:blank")
        await eventually(lambda: site.rows() == 0)


async def test_both_languages_switch_the_page_and_the_conversation(
        bundle: Bundle, tmp_path: Path, context: BrowserContext) -> None:
    async with serving(bundle, tmp_path) as site:
        page = await context.new_page()
        await page.goto(site.url)
        await answer(page, Q_DANGER, "Nein")
        await page.get_by_role("button", name="Switch to English").click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await answer(page, "Are you writing about something", "It happened to me")
        await expect(page.get_by_role("link", name="Quick exit")).to_be_visible()
        await expect(page.get_by_role("button", name=re.compile("^Emergency"))).to_be_visible()
        await expect(page.locator("#input")).to_have_attribute("placeholder", "Write an answer …")
        await answer(page, "Are you injured?", "No")
        await page.get_by_role("button", name="Auf Deutsch wechseln").click()
        await expect(page.locator("html")).to_have_attribute("lang", "de")
        await choose(page, Q_WHAT, ["Drohung"])
        await expect(page.get_by_role("link", name="Schnell verlassen")).to_be_visible()
        await expect(current(page, Q_HOW)).to_be_visible()
        # Each message keeps its language, for a screen reader's voice.
        english = page.locator(".msg", has_text="Are you injured?").last
        await expect(english).to_have_attribute("lang", "en")
        await expect(current(page, Q_HOW).locator("xpath=ancestor-or-self::*[@lang][1]")
                     ).to_have_attribute("lang", "de")

        # A page opened again continues the conversation in its language.
        await page.get_by_role("button", name="Switch to English").click()
        await expect(current(page, "How or where did it happen?")).to_be_visible()
        again = await context.new_page()
        await again.goto(site.url)
        await expect(again.locator("html")).to_have_attribute("lang", "en")
        await expect(current(again, "How or where did it happen?")).to_be_visible()


TO_THE_COMPANION = ("Nein", "Ich bin Führungskraft", "Nein", "heute", "Ja, am selben Tag", "1",
                    "Nein, oder noch nicht bekannt")
"""Typed, from the start to the supervisor companion's first item: nobody in danger, a
supervisor, the person safe, learned today, an insult, not unfit for work."""


async def test_the_companion_walks_item_by_item_with_buttons_and_prints(
        bundle: Bundle, tmp_path: Path, context: BrowserContext) -> None:
    async with serving(bundle, tmp_path) as site:
        page = await context.new_page()
        await page.goto(site.url)
        await answer(page, Q_DANGER, "Nein")
        await answer(page, Q_WHO, "Ich bin Führungskraft")
        await answer(page, "Ist die Person gerade in Gefahr", "Ja")
        await answer(page, "Ist die Lage jetzt sicher", "Ja, die Lage ist sicher")
        await write(page, "Wann haben Sie von dem Vorfall erfahren", "heute")
        await answer(page, "War der Vorfall an diesem Tag", "Ja, am selben Tag")
        await choose(page, "Was ist passiert", ["Beleidigung oder Beschimpfung"])
        await answer(page, "arbeitsunfähig", "Nein, oder noch nicht bekannt")
        # One item per screen, its three answers and "Mehr dazu" as buttons.
        await answer(page, "Punkt 1 von 14", "Erledigt")
        await answer(page, "Punkt 2 von 14", "Mehr dazu")
        await expect(page.locator("#log")).to_contain_text("Ruhiger Ort, genug Zeit")
        await answer(page, "Punkt 2 von 14", "Später")
        await answer(page, "Punkt 3 von 14", "Trifft nicht zu")
        await answer(page, "Punkt 4 von 14", "Was ist offen?")
        await answer(page, "Noch offen: 12 von 14", "Drucken")
        offer = page.locator(".document").last
        async with page.expect_download() as info:
            await offer.get_by_role("link", name=re.compile("PDF")).click()
        assert (await info.value).suggested_filename.startswith("checkliste-")

        # "vergessen", typed: erased on the server, and from the page as well.
        await page.locator("#input").fill("vergessen")
        await page.locator("#input").press("Enter")
        await expect(page.locator("#log")).to_contain_text("Ich habe das Gespräch gelöscht")
        await expect(page.locator(".document, .msg.user")).to_have_count(0)
        await expect(page.get_by_role("button", name="Neu beginnen")).to_be_focused()
        assert site.rows() == 0 and not site.channel._downloads


async def test_without_javascript_the_page_shows_the_emergency_numbers(
        bundle: Bundle, tmp_path: Path, browser: Browser) -> None:
    async with serving(bundle, tmp_path) as site:
        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        await page.goto(site.url)
        await expect(page.get_by_role("link", name="110").first).to_have_attribute(
            "href", "tel:110")
        await expect(page.locator(".noscript")).to_contain_text("Diese Seite braucht JavaScript")
        await expect(page.locator("#app")).to_be_hidden()
        await expect(page.get_by_role("link", name="Schnell verlassen")).to_be_visible()
        assert await context.cookies() == [] and site.rows() == 0
        await context.close()


# --- over plain HTTP -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def post(http: aiohttp.ClientSession, site: Site, path: str,
               body: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{site.url}{path}", json=body or {},
                         headers={"X-Lotse": "1", **(headers or {})}) as response:
        return response.status, await response.json()


def texts(data: dict[str, Any]) -> str:
    return "\n".join(str(o.get("text", "")) for o in data["outputs"])


async def test_healthz_says_ok_and_adds_an_extra_check(bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path) as site, client() as http, \
            http.get(f"{site.url}/healthz") as response:
        assert response.status == 200 and await response.json() == {"status": "ok"}
    checks: dict[str, object] = {"status": "ok", "telegram": "up"}
    async with serving(bundle, tmp_path / "2") as site, client() as http:
        site.channel.health = lambda: checks
        async with http.get(f"{site.url}/healthz") as response:
            assert response.status == 200 and (await response.json())["telegram"] == "up"
        checks["status"] = "degraded"
        async with http.get(f"{site.url}/healthz") as response:
            assert response.status == 503


async def test_healthz_says_503_while_writes_fail_and_ok_after_one_succeeds(
        bundle: Bundle, tmp_path: Path) -> None:
    """Issue #26, item 10: on a full disk every turn failed while /healthz still said ok."""
    async with serving(bundle, tmp_path) as site, client() as http:
        assert (await post(http, site, "/api/start"))[0] == 200
        store = site.service.store

        def full() -> None:
            raise sqlite3.OperationalError("database or disk is full")

        store.commit = full  # type: ignore[method-assign]
        assert (await post(http, site, "/api/say", {"text": "Nein"}))[0] == 500
        for _ in range(2):  # it stays so, with no turn in between
            async with http.get(f"{site.url}/healthz") as response:
                assert response.status == 503
                assert await response.json() == {"status": "failing",
                                                 "reason": "writes failing"}
        del store.commit  # space again
        assert (await post(http, site, "/api/say", {"text": "Nein"}))[0] == 200
        async with http.get(f"{site.url}/healthz") as response:
            assert response.status == 200 and await response.json() == {"status": "ok"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data


async def test_every_answer_carries_strict_headers_and_the_page_has_no_inline_code(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path) as site, client() as http:
        for path in ("/", "/app.js", "/style.css", "/healthz", "/download/nothing"):
            async with http.get(f"{site.url}{path}") as response:
                headers = response.headers
                assert headers["Content-Security-Policy"] == CSP
                assert "script-src 'self';" in CSP and "unsafe-inline" not in CSP
                assert "frame-ancestors 'none'" in CSP
                assert headers["X-Content-Type-Options"] == "nosniff"
                assert headers["Referrer-Policy"] == "no-referrer"
                assert headers["Cache-Control"] == "no-store"
                assert "camera=()" in headers["Permissions-Policy"]
                assert "Set-Cookie" not in headers  # looking costs no cookie
                if path == "/":
                    page = await response.text()
        status, _ = await post(http, site, "/api/start")
        assert status == 200
    parser = _Tags()
    parser.feed(page)
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts == [{"src": "/app.js", "defer": None}] and not parser.script_text.strip()
    for tag, attrs in parser.tags:
        assert "style" not in attrs and not any(name.startswith("on") for name in attrs), tag
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"^(https?:)?//", value) or tag == "a", (tag, value)
    assert 'href="tel:110"' in page and 'href="tel:112"' in page  # in the <noscript> block
    assert "<style" not in page


async def test_the_session_cookie_is_httponly_and_samesite_strict(
        bundle: Bundle, tmp_path: Path) -> None:
    for secure in (False, True):
        async with serving(bundle, tmp_path / str(secure), secure_cookie=secure) as site, \
                client() as http:
            async with http.post(f"{site.url}/api/start", json={},
                                 headers={"X-Lotse": "1"}) as response:
                cookies = response.headers.getall("Set-Cookie")
            assert len(cookies) == 1
            cookie = cookies[0]
            assert cookie.startswith(f"{HOST_COOKIE if secure else COOKIE}=")
            value = cookie.split(";")[0].split("=", 1)[1]
            assert len(value) >= 43  # 256 random bits
            flags = [f.strip().lower() for f in cookie.split(";")[1:]]
            assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
            assert ("secure" in flags) is secure
            assert not any(f.startswith(("expires", "max-age")) for f in flags)
            if secure:
                continue  # a Secure cookie is not sent back over plain http
            # The next request continues the same conversation and sets no new cookie.
            async with http.post(f"{site.url}/api/start", json={},
                                 headers={"X-Lotse": "1"}) as response:
                assert "Set-Cookie" not in response.headers
                assert "Willkommen zurück" in texts(await response.json())


def cookie_of(response: aiohttp.ClientResponse, name: str = COOKIE) -> str | None:
    """The value the response sets for the session cookie, if it sets one."""
    found = response.cookies.get(name)
    return found.value if found is not None else None


async def start(site: Site, cookie: str | None = None, name: str = COOKIE,
                ) -> tuple[str, str | None]:
    """POST /api/start from a browser holding `cookie` (or none): its text and the new cookie."""
    headers = {"X-Lotse": "1", **({"Cookie": f"{name}={cookie}"} if cookie else {})}
    async with aiohttp.ClientSession() as http, \
            http.post(f"{site.url}/api/start", json={}, headers=headers) as response:
        assert response.status == 200
        return texts(await response.json()), cookie_of(response, name)


async def test_a_session_id_the_server_did_not_issue_is_not_accepted(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path) as site:
        # Mallory invents an id of the right form and plants it in Anna's browser.
        invented = "A" * 43
        shown, issued = await start(site, invented)
        assert issued is not None and invented not in issued and WELCOME in shown
        async with aiohttp.ClientSession() as anna:
            anna.cookie_jar.update_cookies({COOKIE: issued})
            status, data = await post(anna, site, "/api/say", {"text": "Nein"})
            assert status == 200 and Q_WHO in texts(data)
        # With the invented id Mallory finds nothing of Anna's, nor with a forged check.
        for forged in (invented, f"{invented}.{'0' * 32}",
                       issued[:-1] + ("1" if issued[-1] != "1" else "2"),
                       issued.partition(".")[0]):
            shown, again = await start(site, forged)
            assert "Willkommen zurück" not in shown and Q_WHO not in shown, forged
            assert again is not None and again != issued
        shown, again = await start(site, issued)  # Anna's own cookie still continues
        assert again is None and "Willkommen zurück" in shown and Q_WHO in shown


async def test_a_conversation_begins_under_a_new_session_id(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path) as site, client() as mallory:
        # Mallory gets an id the server issued, ends its conversation and plants the id.
        await post(mallory, site, "/api/start")
        planted = cookie_of_jar(mallory)
        status, _ = await post(mallory, site, "/api/say", {"text": "vergessen"})
        assert status == 200 and site.rows() == 0
        shown, issued = await start(site, planted)  # Anna begins
        assert WELCOME in shown and issued is not None and issued != planted
        async with aiohttp.ClientSession() as anna:
            anna.cookie_jar.update_cookies({COOKIE: issued})
            status, data = await post(anna, site, "/api/say", {"text": "Nein"})
            assert status == 200 and Q_WHO in texts(data)
        shown, _ = await start(site, planted)  # what Mallory sees: a conversation of its own
        assert "Willkommen zurück" not in shown and Q_WHO not in shown
        shown, again = await start(site, issued)
        assert again is None and "Willkommen zurück" in shown and Q_WHO in shown


def cookie_of_jar(http: aiohttp.ClientSession, name: str = COOKIE) -> str:
    return next(c.value for c in http.cookie_jar if c.key == name)


async def test_over_https_the_cookie_is_host_only_and_the_plain_name_is_not_read(
        bundle: Bundle, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with serving(bundle, tmp_path, secure_cookie=True) as site, client() as http:
        async with http.post(f"{site.url}/api/start", json={},
                             headers={"X-Lotse": "1"}) as response:
            cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{HOST_COOKIE}=")
        flags = [f.strip().lower() for f in cookie.split(";")[1:]]
        assert "secure" in flags and "path=/" in flags
        assert not any(f.startswith("domain") for f in flags)
        issued = cookie.split(";")[0].split("=", 1)[1]
        shown, again = await start(site, issued, HOST_COOKIE)
        assert again is None and "Willkommen zurück" in shown
        # The same value under the plain name (as a sibling subdomain could set it): not read.
        shown, _ = await start(site, issued, COOKIE)
        assert "Willkommen zurück" not in shown
    async with serving(bundle, tmp_path / "plain") as site, client() as http:
        caplog.clear()
        for _ in range(2):
            async with http.post(f"{site.url}/api/start", json={},
                                 headers={"X-Lotse": "1", "X-Forwarded-Proto": "https"}):
                http.cookie_jar.clear()
        told = [r for r in caplog.records if "web.secure_cookie" in r.getMessage()]
        assert len(told) == 1  # the proxy says HTTPS, the setting does not: said once


@pytest.mark.parametrize("headers", [
    {"X-Lotse": ""},
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "null"},
], ids=["no-header", "foreign-origin", "cross-site", "same-site", "null-origin"])
async def test_a_post_from_elsewhere_is_refused_and_changes_nothing(
        bundle: Bundle, tmp_path: Path, headers: dict[str, str]) -> None:
    async with serving(bundle, tmp_path) as site, client() as http:
        status, _ = await post(http, site, "/api/start")
        assert status == 200 and site.rows() == 1
        before = sqlite_rows(site)
        for path, body in (("/api/say", {"text": "vergessen"}),
                           ("/api/pick", {"flow": "employee", "node": "safety",
                                          "choice": "yes"}),
                           ("/api/exit", {}), ("/api/start", {})):
            status, data = await post(http, site, path, body, headers)
            assert status == 403 and data["error"] == "refused", path
        assert sqlite_rows(site) == before
        # and a plain form post (no JSON) is refused as well
        async with http.post(f"{site.url}/api/say", data={"text": "vergessen"},
                             headers={"X-Lotse": "1"}) as response:
            assert response.status == 415
        assert sqlite_rows(site) == before


def sqlite_rows(site: Site) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{site.db}?mode=ro", uri=True)) as conn:
        return list(conn.execute("SELECT key, state, seen FROM conversations"))


async def test_a_100_kb_message_is_refused_politely_and_the_conversation_goes_on(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path) as site, client() as http:
        await post(http, site, "/api/start")
        before = sqlite_rows(site)
        status, data = await post(http, site, "/api/say", {"text": "x" * 100_000})
        assert status == 413 and data["error"] == "too_long"
        assert data["message"] == bundle.text("too_long", "de")
        assert sqlite_rows(site) == before
        status, data = await post(http, site, "/api/say", {"text": "x" * (MAX_BODY // 2)})
        assert status == 200 and bundle.text("too_long", "de") in texts(data)  # the engine's
        status, data = await post(http, site, "/api/say", {"text": "Nein"})
        assert status == 200 and Q_WHO in texts(data)


async def test_json_nested_thousands_deep_is_a_bad_request_and_logs_no_address(
        bundle: Bundle, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    deep = "[" * 5_000 + "]" * 5_000
    async with serving(bundle, tmp_path) as site, client() as http:
        caplog.clear()  # "web page on http://127.0.0.1:…": the server's own address
        for path in ("/api/start", "/api/say", "/api/pick", "/api/exit"):
            for body in (deep, '{"text": ' + deep + "}", "[" * 5_000):
                async with http.post(f"{site.url}{path}", data=body, headers={
                        "X-Lotse": "1", "Content-Type": "application/json"}) as response:
                    assert response.status == 400, path
                    assert (await response.json())["error"] == "bad_request"
        assert site.rows() == 0
        status, data = await post(http, site, "/api/start")
        assert status == 200 and WELCOME in texts(data)  # the server is fine
        logged = [logging.Formatter().format(record) for record in caplog.records]
        assert not any("127.0.0.1" in line for line in logged), logged
        assert not any(r.levelno >= logging.ERROR for r in caplog.records), logged


async def test_a_failure_nobody_expected_is_a_500_logged_without_the_address(
        bundle: Bundle, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("a bug")

    caplog.set_level(logging.DEBUG)
    async with serving(bundle, tmp_path) as site, client() as http:
        await post(http, site, "/api/start")
        caplog.clear()
        monkeypatch.setattr(site.service, "language", broken)
        async with http.get(f"{site.url}/download/some-token") as response:
            assert response.status == 500 and (await response.json())["error"] == "failed"
        logged = [logging.Formatter().format(record) for record in caplog.records]
        assert any("/download/{token}" in line and "a bug" in line for line in logged), logged
        assert not any("127.0.0.1" in line or "some-token" in line for line in logged), logged


async def test_a_document_link_works_once_and_only_for_its_own_session(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path) as site, client() as http, client() as stranger:
        await post(http, site, "/api/start")
        for said in (*TO_THE_COMPANION, "drucken"):
            status, data = await post(http, site, "/api/say", {"text": said})
            assert status == 200
        offered = [o for o in data["outputs"] if o["type"] == "document"]
        assert len(offered) == 1
        pdf, txt = offered[0]["files"]
        assert pdf["name"].endswith(".pdf") and txt["name"].endswith(".txt")
        await post(stranger, site, "/api/start")  # a session of its own
        async with stranger.get(f"{site.url}{pdf['url']}") as response:
            assert response.status == 404
        async with http.get(f"{site.url}/download/unknown-token") as response:
            assert response.status == 404 and "nur einmal" in await response.text()
        async with http.get(f"{site.url}{pdf['url']}") as response:
            assert response.status == 200 and (await response.read()).startswith(b"%PDF")
            assert response.headers["Content-Type"] == "application/pdf"
        async with http.get(f"{site.url}{pdf['url']}") as response:
            assert response.status == 404
        assert len(site.channel._downloads) == 1  # the text file, until it is fetched or old
        later = site.channel.clock() + DOCUMENT_TTL + 1
        site.channel.clock = lambda: later
        async with http.get(f"{site.url}{txt['url']}") as response:
            assert response.status == 404
        assert not site.channel._downloads
        status, data = await post(http, site, "/api/say", {"text": "drucken"})
        assert [o for o in data["outputs"] if o["type"] == "document"]
        assert len(site.channel._downloads) == 2
        status, data = await post(http, site, "/api/exit")
        assert status == 200 and data == {"exit": "about:blank"}
        assert not site.channel._downloads
        assert site.rows() == 1  # only the stranger's conversation is left


async def test_the_exit_url_is_escaped_and_must_be_a_web_address(
        bundle: Bundle, tmp_path: Path) -> None:
    odd = 'https://example.org/?q="><b>x</b>'
    for given, shown in ((odd, 'href="https://example.org/?q=&quot;&gt;&lt;b&gt;x&lt;/b&gt;"'),
                         ("javascript:alert(1)", 'href="about:blank"')):
        async with serving(bundle, tmp_path / str(len(given)), exit_url=given) as site, \
                client() as http, http.get(site.url) as response:
            assert shown in await response.text()


async def test_stopping_lets_a_request_in_flight_finish(bundle: Bundle, tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    release = asyncio.Event()
    entered = asyncio.Event()

    class HeldService:
        """The service, each turn held until `release` is set."""

        def __init__(self, service: ConversationService) -> None:
            self.service = service

        async def handle(self, key: ConversationKey, event: Event,
                         event_id: str | None = None) -> tuple[Output, ...]:
            entered.set()
            await release.wait()
            return await self.service.handle(key, event, event_id)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.service, name)

    held = HeldService(ConversationService(bundle, store, KeyHasher(SECRET)))
    channel = WebChannel(cast(ConversationService, held), WebSettings(listen="127.0.0.1:0"))
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(stop))
    await asyncio.wait_for(channel.ready.wait(), 10)
    async with client() as http:
        request = asyncio.create_task(http.post(f"{channel.url}/api/start", json={},
                                                headers={"X-Lotse": "1"}))
        await asyncio.wait_for(entered.wait(), 10)
        stop.set()
        await asyncio.sleep(0)
        release.set()
        response = await asyncio.wait_for(request, 10)
        assert response.status == 200 and WELCOME in texts(await response.json())
        response.release()
        await asyncio.wait_for(task, 15)
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(f"{channel.url}/healthz"):
                pass
    store.close()


async def test_half_a_surrogate_pair_in_a_typed_answer_does_not_break_the_turn(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path) as site, client() as http:
        await post(http, site, "/api/start")
        for said in ("Nein", "1", "Nein", "Drohung", "1", "heute", "Ja"):
            status, data = await post(http, site, "/api/say", {"text": said})
        assert "Um wie viel Uhr" in texts(data)
        status, data = await post(http, site, "/api/say", {"text": "gegen \ud800 10 Uhr"})
        assert status == 200 and "Wo ist es passiert" in texts(data)


# --- new conversations are rationed ----------------------------------------------------------


@contextlib.asynccontextmanager
async def client_from(address: str, keep_cookies: bool = True,
                      ) -> AsyncIterator[aiohttp.ClientSession]:
    """A browser at another client address (any of 127.0.0.0/8 reaches the server on
    127.0.0.1), keeping its cookie, or a script that never sends one back."""
    jar: aiohttp.abc.AbstractCookieJar = (aiohttp.CookieJar(unsafe=True) if keep_cookies
                                          else aiohttp.DummyCookieJar())
    async with aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(
            local_addr=(address, 0))) as session:
        yield session


async def begin(http: aiohttp.ClientSession, site: Site,
                lang: str = "de") -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    async with http.post(f"{site.url}/api/start", json={"lang": lang},
                         headers={"X-Lotse": "1"}) as response:
        return response.status, await response.json(), response.headers.copy()


async def test_a_client_past_its_cap_of_new_conversations_gets_429_with_110_and_112(
        bundle: Bundle, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with serving(bundle, tmp_path, new_per_address=3) as site, \
            client_from("127.0.0.2") as anna, client_from("127.0.0.2", False) as script:
        waits = waited(site)
        status, data, _ = await begin(anna, site)  # Anna, behind the same address as the script
        assert status == 200 and WELCOME in texts(data)
        status, data = await post(anna, site, "/api/say", {"text": "Nein"})
        assert status == 200 and Q_WHO in texts(data)
        for _ in range(2):
            status, data, _ = await begin(script, site)
            assert status == 200 and WELCOME in texts(data)
        assert site.rows() == 3
        for lang in ("de", "en", "de"):
            status, data, headers = await begin(script, site, lang)
            assert status == 429 and data["error"] == "busy"
            assert data["message"] == bundle.text("rate_limited", lang)
            assert "110" in data["message"] and "112" in data["message"]
            assert headers["Retry-After"] == "200"  # 10 minutes / 3: one comes back in 200 s
            assert "Set-Cookie" not in headers
        for path, body in (("/api/say", {"text": "notfall"}),
                           ("/api/pick", {"flow": "employee", "node": "x", "choice": "y"})):
            async with script.post(f"{site.url}{path}", json=body,
                                   headers={"X-Lotse": "1"}) as response:
                assert response.status == 429 and "110" in (await response.json())["message"]
        assert site.rows() == 3  # nothing of the refused ones was stored
        # The first refusal is answered at once, the rest of the flood after a wait: a script
        # that waits for its answers is slowed down to one request a second per connection.
        assert waits == [REFUSED_WAIT] * 4
        # Anna's conversation, already running, goes on as if nothing happened.
        status, data = await post(anna, site, "/api/say", {"text": "1"})
        assert status == 200 and "Willkommen zurück" not in texts(data)
        status, data, headers = await begin(anna, site)
        assert status == 200 and "Willkommen zurück" in texts(data)
        assert "Set-Cookie" not in headers
        # Another address still gets its own.
        async with client_from("127.0.0.3") as bert:
            status, data, headers = await begin(bert, site)
            assert status == 200 and WELCOME in texts(data) and "Set-Cookie" in headers
        # The allowance comes back with time: one after 200 s.
        started = site.channel.clock()
        site.channel.clock = lambda: started + 201
        assert (await begin(script, site))[0] == 200
        assert (await begin(script, site))[0] == 429
    refusals = [r for r in caplog.records if "refusing new web conversations" in r.getMessage()]
    # One line a minute at most (seven refusals, two lines: the second 201 s later).
    assert len(refusals) == 2 and all("web.new_per_address" in r.getMessage() for r in refusals)
    assert "127.0.0.2" not in caplog.text and "127.0.0.3" not in caplog.text  # the clients


def waited(site: Site) -> list[float]:
    """The waits before refusals, recorded instead of slept."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
    site.channel.sleep = sleep
    return waits


async def test_new_conversations_overall_are_capped_and_running_ones_go_on(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path, new_per_minute=4) as site, \
            client_from("127.0.0.2") as anna:
        waited(site)
        assert (await begin(anna, site))[0] == 200
        for n in range(3, 6):  # three more clients, one conversation each: the cap is reached
            async with client_from(f"127.0.0.{n}") as other:
                assert (await begin(other, site))[0] == 200
        async with client_from("127.0.0.9", False) as late:
            status, data, headers = await begin(late, site)
            assert status == 429 and "110" in data["message"] and "112" in data["message"]
            assert headers["Retry-After"] == "15"  # 600 a minute would say 1
            started = site.channel.clock()
            site.channel.clock = lambda: started + 16
            assert (await begin(late, site))[0] == 200
            assert (await begin(late, site))[0] == 429
        assert site.rows() == 5
        status, data = await post(anna, site, "/api/say", {"text": "Nein"})
        assert status == 200 and Q_WHO in texts(data)


async def test_a_reverse_proxy_is_not_one_client(bundle: Bundle, tmp_path: Path) -> None:
    """Behind a proxy on the same host every request comes from 127.0.0.1: the per-address cap
    would be one for everyone, so it does not apply to `web.proxy_addresses`."""
    async with serving(bundle, tmp_path, new_per_address=2) as site, \
            client_from("127.0.0.1", False) as proxy:
        for _ in range(5):
            assert (await begin(proxy, site))[0] == 200
    async with serving(bundle, tmp_path / "2", new_per_address=2, proxy_addresses=()) as site, \
            client_from("127.0.0.1", False) as direct:
        waited(site)
        assert [(await begin(direct, site))[0] for _ in range(3)] == [200, 200, 429]


async def test_the_page_shows_the_emergency_numbers_when_no_conversation_can_begin(
        bundle: Bundle, tmp_path: Path, browser: Browser) -> None:
    async with serving(bundle, tmp_path, new_per_minute=1) as site, \
            client_from("127.0.0.2") as first:
        assert (await begin(first, site))[0] == 200
        context = await browser.new_context(locale="de-DE")
        page = await context.new_page()
        await page.goto(site.url)
        status = page.locator("#status")
        await expect(status).to_contain_text("110")
        await expect(status).to_contain_text("112")
        await context.close()


async def test_the_caps_are_settings_with_sane_defaults_and_checked(tmp_path: Path) -> None:
    web = Settings.load(None, {}).web
    assert (web.new_per_address, web.new_per_address_minutes, web.new_per_minute,
            web.proxy_addresses) == (60, 10.0, 600, ("127.0.0.1", "::1"))
    web = Settings.load(None, {"LOTSE_WEB_NEW_PER_ADDRESS": "0",
                               "LOTSE_WEB_PROXY_ADDRESSES": "10.0.0.5, fd00::1"}).web
    assert web.new_per_address == 0 and web.proxy_addresses == ("10.0.0.5", "fd00::1")
    config = tmp_path / "lotse.yaml"
    config.write_text("web:\n  listen: 127.0.0.1:8080\n  new_per_minute: -5\n"
                      "  proxy_addresses: [nginx]\n", encoding="utf-8")
    with pytest.raises(ContentError) as raised:
        Settings.load(config, {})
    assert [str(p) for p in raised.value.problems] == [
        f"{config}:3:19: 'web.new_per_minute' must be 0 (no cap) or more"]
    with pytest.raises(ContentError) as raised:
        Settings.load(None, {"LOTSE_WEB_PROXY_ADDRESSES": "nginx"})
    assert "LOTSE_WEB_PROXY_ADDRESSES" in str(raised.value) and "not an IP address" in str(
        raised.value)

"""The web chat page, on aiohttp: a static page and a small JSON API, no account, no tracking.

The page posts what the user did and gets the outputs back as plain data, which it renders as
text. A session cookie (HttpOnly, SameSite=Strict; `__Host-` over HTTPS) names the conversation:
a random id the server issued, with its keyed check. An id the server did not issue is not
accepted, and a conversation always begins under a new id, so no one can fix a person's id
beforehand and read along.

Security, in layers: a strict Content-Security-Policy; every POST must carry `X-Lotse: 1` (a
cross-site page cannot send it without a CORS preflight, never granted), JSON, and a
same-origin `Origin` / `Sec-Fetch-Site`. Documents wait in memory only, under a one-time URL
bound to the session, for `DOCUMENT_TTL` at most, each person's apart (pending_documents.py);
they are rationed per address and conversation before they are rendered. Nothing is logged
that says who wrote what (the access log is off), and the quick exit erases the conversation
the `forget` way.

New conversations are rationed (`web.new_per_address`, `web.new_per_minute`): one client, or
many, cannot fill the state with empty conversations. A refused one costs no lock, no database
and no engine, and gets `429` with the emergency numbers; a conversation already running is
never counted, so a flood cannot refuse or slow it.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import ipaddress
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any

from aiohttp import web

from bot.channels.document_files import RenderBusy, document_files
from bot.channels.web.outputs import message, output_json
from bot.channels.web.pending_documents import (
    DOCUMENT_TTL,
    DocumentRation,
    PendingDocuments,
    PendingFile,
)
from bot.channels.web.requests import client_key, safe_exit_url, same_origin
from bot.config import WebSettings
from bot.engine.conversation import Document, Ended, Event, Picked, Resume, Said
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey
from bot.service.ratelimit import RateLimit, Verdict

log = logging.getLogger(__name__)

COOKIE = "lotse_session"
HOST_COOKIE = f"__Host-{COOKIE}"
"""The cookie's name over HTTPS (`web.secure_cookie`): the browser takes it only when Secure,
for the whole host (Path=/) and from this host alone, never set by a sibling subdomain."""
MAX_BODY = 16 * 1024
"""Bytes per request body: a long answer fits (the engine takes 4,000 characters)."""
RENDERS_WAITING = 2
"""Documents of one client (or conversation) waiting for the render worker at once; one more
is refused kindly rather than queued."""
ADDRESSES_TRACKED = 10_000
"""Client addresses whose new conversations are counted at once (a few hundred bytes each: a
few MB at most). The one quiet longest is forgotten first and starts afresh; a flood from more
addresses than this meets `web.new_per_minute`."""
REFUSED_WAIT = 1.0
"""Seconds a refusal waits before it is answered when its client was refused already in this
flood (the first refusal is answered at once): a script that waits for answers then sends one
request a second per connection instead of thousands, which would otherwise take the event
loop from the conversations running. A person sees the emergency numbers a second later."""
REFUSED_WAITING = 1_000
"""Refusals waiting at once, at most; beyond, they are answered at once (bounded memory)."""

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; manifest-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
                          "serial=(), accelerometer=(), gyroscope=(), "
                          "magnetometer=()",
    "Cache-Control": "no-store",
}
"""On every response. no-store everywhere: the page holds a conversation, and nothing of it
may stay in a cache or in the back/forward cache after the quick exit."""

_SESSION = re.compile(r"^([A-Za-z0-9_-]{43})\.([0-9a-f]{32})$")
"""An issued session: 256 random bits, a dot, and 128 bits of its keyed check."""
_EVENT_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_STATIC = {
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}


def _page_file(name: str) -> bytes:
    return resources.files("bot.channels.web").joinpath("static", name).read_bytes()


class WebChannel:
    name = "web"

    def __init__(self, service: ConversationService, settings: WebSettings) -> None:
        self.service = service
        self.settings = settings
        self.health: Callable[[], Mapping[str, object]] | None = None
        """If set, its entries join `GET /healthz`; a "status" other than "ok" answers 503."""
        self.shutdown_timeout = 10.0
        self.clock: Callable[[], float] = time.monotonic
        """Monotonic seconds: ages the documents."""
        self.exit_url = safe_exit_url(settings.exit_url)
        host, _, port = settings.listen.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        """The port asked for; after start, the port bound (for listen "host:0")."""
        self.ready = asyncio.Event()
        self.cookie = HOST_COOKIE if settings.secure_cookie else COOKIE
        self._told_https = False
        self._downloads = PendingDocuments(lambda: self.clock())
        self._ration = DocumentRation(settings.documents_per_address, lambda: self.clock())
        self._per_address = RateLimit(
            settings.new_per_address,
            settings.new_per_address / (settings.new_per_address_minutes * 60),
            tracked=ADDRESSES_TRACKED, clock=lambda: self.clock(),
        ) if settings.new_per_address > 0 else None
        self._overall = RateLimit(settings.new_per_minute, settings.new_per_minute / 60,
                                  tracked=1, clock=lambda: self.clock(),
                                  ) if settings.new_per_minute > 0 else None
        self._proxies = frozenset(ipaddress.ip_address(a) for a in settings.proxy_addresses)
        self._address_key = secrets.token_bytes(32)
        """Addresses are counted under a keyed hash that lives as long as the process: the
        table of counts holds no client address in the clear."""
        self._told_busy = -math.inf
        self._waiting = 0
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        """How a refusal waits (`REFUSED_WAIT`); tests record the waits instead."""
        index = _page_file("index.html").decode("utf-8")
        self._index = index.replace("{{EXIT_URL}}", html.escape(self.exit_url, quote=True))
        self._static = {path: (_page_file(name), kind) for path, (name, kind) in _STATIC.items()}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._failures])
        app.on_response_prepare.append(self._headers)
        app.router.add_get("/", self.page)
        for path in self._static:
            app.router.add_get(path, self.static)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_post("/api/start", self.start)
        app.router.add_post("/api/say", self.say)
        app.router.add_post("/api/pick", self.pick)
        app.router.add_post("/api/exit", self.quick_exit)
        app.router.add_get("/download/{token}", self.download)
        return app

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then let requests in flight finish (bounded)."""
        runner = web.AppRunner(self.app(), access_log=None,
                               shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as err:
                log.error("the web page cannot listen on %s (web.listen): %s",
                          self.settings.listen, err.strerror or err)
                raise
            for address in runner.addresses:
                if isinstance(address, tuple) and len(address) >= 2:
                    self.port = int(address[1])
                    break
            log.info("web page on http://%s:%d/", self.host, self.port)
            self.ready.set()
            await stop.wait()
        finally:
            self.ready.clear()
            await runner.cleanup()
            self._downloads.clear()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @web.middleware
    async def _failures(self, request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                        ) -> web.StreamResponse:
        """A failure no handler expected is answered 500 and logged here, by its route: left
        to aiohttp, its log line would name the client's address."""
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            route = request.match_info.route.resource
            log.exception("web request failed (%s %s)", request.method,
                          route.canonical if route is not None else "?")
            return self._error(500, "failed", None)

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=self._index, content_type="text/html", charset="utf-8")

    async def static(self, request: web.Request) -> web.Response:
        data, kind = self._static[request.path]
        return web.Response(body=data, content_type=kind, charset="utf-8")

    async def healthz(self, request: web.Request) -> web.Response:
        body: dict[str, object] = {"status": "ok"}
        if self.health is not None:
            try:
                body.update(self.health())
            except Exception:
                log.exception("health check failed")
                body["status"] = "failing"
        if self.service.write_failed_at is not None:  # every turn fails (a full disk?)
            body.update(status="failing", reason="writes failing")
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    async def start(self, request: web.Request) -> web.Response:
        """The page was opened: continue the session's conversation, or begin one."""
        return await self._turn(request, None)

    async def say(self, request: web.Request) -> web.Response:
        def said(data: Mapping[str, Any], lang: str | None) -> Event | None:
            text = data.get("text")
            if not isinstance(text, str) or not text.strip():
                return None
            return Said(text, lang)  # half a surrogate pair in it: the engine replaces it
        return await self._turn(request, said)

    async def pick(self, request: web.Request) -> web.Response:
        def picked(data: Mapping[str, Any], lang: str | None) -> Event | None:
            parts = [data.get(name) for name in ("flow", "node", "choice")]
            if not all(isinstance(p, str) and 0 < len(p) <= 200 for p in parts):
                return None
            return Picked(str(parts[0]), str(parts[1]), str(parts[2]), lang)
        return await self._turn(request, picked)

    async def _turn(self, request: web.Request,
                    make: Callable[[Mapping[str, Any], str | None], Event | None] | None,
                    ) -> web.Response:
        """One request, one turn; `make` reads the event, None: the page was opened (Resume)."""
        data = await self._read(request)
        if isinstance(data, web.Response):
            return data
        lang = self._lang(data.get("lang"))
        session = self._session(request)
        if session is None or not await self.service.has_conversation(
                ConversationKey("web", session)):
            # A conversation begins (none runs under this session): under a new id, so that
            # an id someone planted in this browser beforehand never names what is said now.
            session = secrets.token_urlsafe(32)
            self._check_https(request)
            fresh = True
        else:
            fresh = False
        key = ConversationKey("web", session)
        event = make(data, lang) if make is not None else Resume(lang)
        if event is None:
            return self._error(400, "bad_request", lang)
        if fresh:
            refused = await self._admit(request, lang)
            if refused is not None:
                return refused
        event_id = data.get("id")
        if not (isinstance(event_id, str) and _EVENT_ID.match(event_id)):
            event_id = None
        try:
            outputs = await self.service.handle(key, event, event_id)
        except Exception:
            log.exception("web turn failed (%s)", type(event).__name__)
            return self._error(500, "failed", lang)
        if any(isinstance(o, Ended) and o.erased for o in outputs):
            self._downloads.drop(session)  # "forget" typed: nothing of it stays here either
        shown: list[dict[str, Any]] = []
        for output in outputs:
            if isinstance(output, Document):
                shown.append(await self._offer(request, session, output))
            else:
                item = output_json(output)
                if item is not None:
                    shown.append(item)
        lang = self.service.language(key) or next(
            (o.lang for o in outputs if isinstance(o, Document)), lang) or self._default
        response = web.json_response({"lang": lang, "outputs": shown})
        if fresh:
            self._set_cookie(response, session)
        return response

    async def _admit(self, request: web.Request, lang: str | None) -> web.Response | None:
        """None if a new conversation may begin now; else the `429` that refuses it, before
        any lock, database or engine. The client's own allowance is asked first, so a client
        over it spends nothing of everyone's."""
        client = client_key(request.remote, self._proxies, self._address_key)
        verdict = Verdict.ALLOW
        limit = self._per_address
        if limit is not None and client is not None:
            verdict = limit.check(client)
        if verdict is Verdict.ALLOW and self._overall is not None:
            limit = self._overall
            verdict = limit.check("")
        if verdict is Verdict.ALLOW or limit is None:
            return None
        if verdict is Verdict.DROP and self._waiting < REFUSED_WAITING:
            self._waiting += 1
            try:
                await self.sleep(REFUSED_WAIT)
            finally:
                self._waiting -= 1
        return self._busy(lang, limit, "web.new_per_address" if limit is self._per_address
                          else "web.new_per_minute")

    def _busy(self, lang: str | None, limit: RateLimit, setting: str) -> web.Response:
        """429 with the emergency numbers (the engine's own `rate_limited` text, which names
        110 and 112: whoever is refused may be in danger) and when to try again: the seconds
        one new conversation takes to come back, at most."""
        now = self.clock()
        if now - self._told_busy >= 60:
            self._told_busy = now
            log.warning("refusing new web conversations: more than %s allows (this line at most "
                        "once a minute; running conversations go on)", setting)
        lang = lang or self._default
        response = web.json_response(
            {"error": "busy", "message": self.service.bundle.text("rate_limited", lang)},
            status=429)
        response.headers["Retry-After"] = str(max(1, math.ceil(1 / limit.per_second)))
        return response

    async def quick_exit(self, request: web.Request) -> web.Response:
        """Erase the conversation now, the `forget` way, and forget the session."""
        data = await self._read(request)
        if isinstance(data, web.Response):
            return data
        session = self._session(request)
        if session is not None:
            self._downloads.drop(session)
            try:
                await self.service.handle(ConversationKey("web", session), Said("vergessen"))
            except Exception:
                log.exception("quick exit: erasing the conversation failed")
                return self._error(500, "failed", self._lang(data.get("lang")))
        response = web.json_response({"exit": self.exit_url})
        response.del_cookie(self.cookie, path="/", secure=self.settings.secure_cookie,
                            httponly=True, samesite="Strict")
        return response

    async def _offer(self, request: web.Request, session: str,
                     document: Document) -> dict[str, Any]:
        """Build both files in memory and offer each under a one-time URL; or, over the
        client's or the conversation's allowance, say so kindly (with 110 and 112)."""
        client = client_key(request.remote, self._proxies, self._address_key)
        try:
            if not self._ration.allows(client, session):
                raise RenderBusy
            built = await document_files(document, client or session, RENDERS_WAITING)
        except RenderBusy:
            return {"type": "say", "text": self.service.bundle.text(
                "web.documents_busy", self.service.bundle.pick_language(document.lang))}
        tokens = self._downloads.add(session, client or session, (
            PendingFile(file.data, file.filename, file.mime) for file in built))
        files = [{"kind": file.filename.rpartition(".")[2], "url": f"/download/{token}",
                  "name": file.filename, "size": len(file.data)}
                 for token, file in zip(tokens, built, strict=True)]
        return {"type": "document", "title": document.title, "files": files,
                "minutes": int(DOCUMENT_TTL // 60)}

    async def download(self, request: web.Request) -> web.Response:
        """The file, once, to the session it was made for; then it is gone."""
        download = self._downloads.take(request.match_info["token"], self._session(request))
        if download is None:
            return web.Response(status=404, text=message("gone", self._session_lang(request)),
                                content_type="text/plain", charset="utf-8")
        return web.Response(body=download.data, headers={
            "Content-Type": download.content_type,
            "Content-Disposition": f'attachment; filename="{download.filename}"',
        })

    @property
    def _default(self) -> str:
        return self.service.bundle.default_language

    def _lang(self, value: object) -> str | None:
        return value if isinstance(value, str) and value in self.service.bundle.languages \
            else None

    def _session(self, request: web.Request) -> str | None:
        """The session id of the request's cookie, if the server issued it; else None."""
        match = _SESSION.match(request.cookies.get(self.cookie) or "")
        if match is None or not hmac.compare_digest(match[2], self._check(match[1])):
            return None
        return match[1]

    def _check(self, session: str) -> str:
        """The keyed check of a session id: with the server's secret (the one that hashes
        conversation keys, so issued ids stay valid across restarts), apart from state keys."""
        return self.service.hasher(ConversationKey("web-session", session))[:32]

    def _set_cookie(self, response: web.StreamResponse, session: str) -> None:
        # No expiry: gone when the browser closes; the conversation expires on the server.
        response.set_cookie(self.cookie, f"{session}.{self._check(session)}", path="/",
                            httponly=True, samesite="Strict",
                            secure=self.settings.secure_cookie or None)

    def _check_https(self, request: web.Request) -> None:
        """Lotse cannot see HTTPS behind a proxy; the proxy's X-Forwarded-Proto is only a hint
        (a client can send it too), so it never changes the cookie, but it is worth a warning."""
        if (not self.settings.secure_cookie and not self._told_https
                and request.headers.get("X-Forwarded-Proto", "").lower() == "https"):
            self._told_https = True
            log.warning("the web page seems to be served over HTTPS (X-Forwarded-Proto) but "
                        "web.secure_cookie is false: set it, so the session cookie is Secure "
                        "and __Host- (docs/web.md)")

    def _error(self, status: int, key: str, lang: str | None) -> web.Response:
        return web.json_response({"error": key, "message": message(key, lang or self._default)},
                                 status=status)

    async def _read(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The JSON body of a POST from our own page, or the answer that refuses it."""
        if not same_origin(request):
            log.warning("refused a request that did not come from the page")
            return self._error(403, "refused", None)
        if request.content_type != "application/json":
            return self._error(415, "bad_request", None)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return self._too_long(request)
        try:
            data = await request.json()
        except web.HTTPRequestEntityTooLarge:
            return self._too_long(request)
        except (ValueError, RecursionError):
            # RecursionError: JSON nested deeper than the parser goes ("[[[[…" thousands deep).
            # It is the client's mistake like any other malformed body: 400, nothing logged.
            return self._error(400, "bad_request", None)
        if not isinstance(data, dict):
            return self._error(400, "bad_request", None)
        return data

    def _too_long(self, request: web.Request) -> web.Response:
        lang = self._session_lang(request)
        response = web.json_response(
            {"error": "too_long", "message": self.service.bundle.text("too_long", lang)},
            status=413)
        response.force_close()  # the rest of the body is not read
        return response

    def _session_lang(self, request: web.Request) -> str:
        """The language of the session's conversation, else the default."""
        session = self._session(request)
        lang = self.service.language(ConversationKey("web", session)) if session else None
        return lang or self._default

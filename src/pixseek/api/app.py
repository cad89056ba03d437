"""The FastAPI app: ``create_app(library, settings)``. Routes are thin: parse, run the service on a
thread pool (never on the event loop), shape the answer with :mod:`pixseek.api.schemas`."""

import asyncio
import functools
import hmac
import json
import logging
import mimetypes
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np
import uvicorn
from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from uvicorn.protocols.http.h11_impl import H11Protocol
from fastapi_offline import FastAPIOffline

from pixseek.api import schemas as S
from pixseek.api.backends import (Compare, Comparison, Duplicates, TextSearch, compare_backend, duplicates_backend,
                                  text_backend)
from pixseek.api.errors import ApiError, api_error_for_image, error_body, install_error_handlers
from pixseek.api.limits import BodyLimitMiddleware
from pixseek.api.metrics import CONTENT_TYPE_LATEST, ApiMetrics, MetricsMiddleware
from pixseek.api.service import Filters, SearchService, Snapshot, iso_time, upload_name
from pixseek.api.settings import ApiSettings, host_name
from pixseek.api.thumbs import ThumbnailCache
from pixseek.errors import ImageError
from pixseek.io.video import format_timestamp
from pixseek.search import Library
from pixseek.search.library import MAX_EXPAND
from pixseek.store.catalog import ItemRow
from pixseek.web import STATIC_DIR

log = logging.getLogger("pixseek.api")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class HostCheckMiddleware:
    """Answer 400 ``invalid-host`` (JSON) to a request whose ``Host`` is not one of ``allowed``:
    a page on another domain that re-binds its DNS name to this server's address then cannot read
    the library. (Starlette's TrustedHostMiddleware does the same check but answers in plain text;
    this keeps the API's one error shape.)"""

    def __init__(self, app, allowed: tuple[str, ...]):
        self.app = app
        self.allowed = frozenset(host_name(h) for h in allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        raw = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
        if host_name(raw) in self.allowed:
            return await self.app(scope, receive, send)
        shown = raw if len(raw) <= 100 else raw[:100] + "..."
        body = json.dumps(error_body(400, "invalid-host", f"invalid host {shown!r}: this server does not answer to "
                                     "that name (start it with --allowed-host NAME to allow one)")).encode()
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for the request head: a connection that has not sent
    a complete request line and headers ``header_timeout`` seconds after connecting, or after its
    previous response, is closed (uvicorn itself only times out idle keep-alive connections, so
    half-sent requests were held forever). Made per server by :func:`server_config`."""

    header_timeout: ClassVar[float] = 10.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def _waiting(self) -> bool:  # no request in progress: the next bytes are a request head
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        if self._waiting() and not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._waiting() and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if not self._waiting():  # a complete head arrived: the app has the request now
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


def server_config(app, settings: ApiSettings, *, host: str = "127.0.0.1", port: int = 8000,
                  **kwargs) -> uvicorn.Config:
    """The uvicorn configuration that serves ``app`` with ``settings``' connection bounds: request
    head within ``header_timeout_s`` and ``max_header_bytes``, keep-alive idle ``keep_alive_s``."""
    protocol = type("PixseekH11Protocol", (HeaderDeadlineProtocol,), {"header_timeout": settings.header_timeout_s})
    return uvicorn.Config(app, host=host, port=port, http=protocol, timeout_keep_alive=settings.keep_alive_s,
                          h11_max_incomplete_event_size=settings.max_header_bytes, server_header=False, **kwargs)


def create_app(library: Library, settings: ApiSettings | None = None, *, text_search: TextSearch | None = None,
               compare: Compare | None = None, duplicates: Duplicates | None = None) -> FastAPI:
    """The HTTP API and web page over an open ``library``.

    ``text_search`` / ``compare`` / ``duplicates`` override the backends found at start-up
    (:mod:`pixseek.api.backends`); without them, text queries are tag searches over the stored
    labels, compare is the cosine of the two embeddings, and the duplicates view answers 501.
    """
    settings = settings or ApiSettings()
    text_search = text_search or text_backend(library)
    service = SearchService(library, settings, text_search=text_search)
    thumbs = ThumbnailCache(service.thumb_dir, settings.thumb_px, settings.max_pixels)
    compare = compare or compare_backend(library)
    duplicates = duplicates or duplicates_backend(library)
    search_pool = ThreadPoolExecutor(settings.search_threads, thread_name_prefix="pixseek-search")
    write_pool = ThreadPoolExecutor(1, thread_name_prefix="pixseek-write")  # writes are serialised

    def sizes() -> tuple[int, int, int]:
        service.catch_up()
        with service.lock.read():
            return library.counts()

    metrics = ApiMetrics(sizes)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        warm = asyncio.get_running_loop().run_in_executor(search_pool, service.warm_up)
        try:
            yield
        finally:
            warm.cancel()
            search_pool.shutdown(wait=False, cancel_futures=True)
            write_pool.shutdown(wait=True)

    # /docs and /redoc: Swagger UI and ReDoc served from the package fastapi-offline (no CDN, works offline)
    app = FastAPIOffline(title="pixseek", version="1", lifespan=lifespan,
                         description="Image search by example, by tag or text; compare; list; admin add/remove.")
    app.state.service = service
    app.state.metrics = metrics
    install_error_handlers(app)

    async def on_search(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(search_pool, functools.partial(fn, *args))

    async def on_writer(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(write_pool, functools.partial(fn, *args))

    # -- dependencies ---------------------------------------------------------------------------
    def admin(request: Request) -> None:
        if settings.api_key is None:
            raise ApiError(403, "read-only", "this server is read-only: start it with --api-key "
                                             "(or PIXSEEK_API_KEY) to allow changes")
        supplied = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization", "")
        if not supplied and auth.lower().startswith("bearer "):
            supplied = auth[7:].strip()
        if not supplied or not hmac.compare_digest(supplied.encode(), settings.api_key.encode()):
            raise ApiError(401, "unauthorized", "missing or wrong API key (X-API-Key header)",
                           headers={"WWW-Authenticate": "Bearer"})

    def filters(tag: Annotated[str | None, Query(max_length=100, description="Only items with this label.")] = None,
                folder: Annotated[str | None, Query(max_length=500, description="Only items under this folder (relative to its root).")] = None,
                since: Annotated[date | None, Query(description="Taken (EXIF date, else modified) on or after (YYYY-MM-DD).")] = None,
                until: Annotated[date | None, Query(description="Taken on or before (YYYY-MM-DD).")] = None,
                not_tag: Annotated[str | None, Query(max_length=100, description="Leave out items with this label.")] = None,
                not_folder: Annotated[str | None, Query(max_length=500, description="Leave out items under this folder.")] = None,
                camera: Annotated[str | None, Query(max_length=100, description="EXIF camera make/model contains this.")] = None,
                ) -> Filters:
        return Filters(tag or None, folder or None, since, until, not_tag or None, not_folder or None, camera or None)

    K = Annotated[int, Query(ge=1, le=settings.max_k, description="Number of hits.")]
    FiltersDep = Annotated[Filters, Depends(filters)]
    Stack = Annotated[bool, Query(description="Stack near-duplicates under their best hit (`copies`).")]
    MarksQ = Annotated[str | None, Query(max_length=400, pattern=r"^[0-9, ]*$",
                                         description="Comma-separated item ids (relevance feedback).")]
    MarksF = Annotated[str | None, Form(max_length=400, pattern=r"^[0-9, ]*$",
                                        description="Comma-separated item ids (relevance feedback).")]

    Expand = Annotated[int, Query(ge=0, le=MAX_EXPAND, description="Query expansion (alpha-QE): average in this "
                                  "many nearest items first (0: off, the default).")]

    def marks(like: str | None, unlike: str | None) -> dict:
        split = lambda v: [int(x) for x in (v or "").replace(" ", "").split(",") if x]  # noqa: E731
        return {"like": split(like), "unlike": split(unlike)}

    async def read_upload(upload: UploadFile) -> tuple[str, bytes]:
        name = upload_name(upload.filename)
        ctype = (upload.content_type or "").split(";")[0].strip().lower()
        if ctype and not ctype.startswith("image/") and ctype != "application/octet-stream":
            raise ApiError(415, "unsupported-media-type", f"{name}: expected an image, got {ctype}",
                           {"file": name, "content_type": ctype})
        data = await upload.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise ApiError(413, "payload-too-large", f"{name}: larger than {settings.max_upload_bytes} bytes",
                           {"file": name})
        if not data:
            raise ApiError(422, "empty-file", f"{name}: file is empty (0 bytes)", {"file": name})
        return name, data

    def decode(name: str, data: bytes):
        try:
            return service.decode_upload(data, name)
        except ImageError as err:
            raise api_error_for_image(err, name) from err

    # -- views ----------------------------------------------------------------------------------
    def item_view(snap: Snapshot, row: ItemRow, labels: list[tuple[str, float]] = ()) -> dict:
        v = row.sha256[:12]
        name = Path(row.path).name
        rel = snap.guard.relative(row.path)
        video = row.kind == "video" and row.t_sec is not None  # a frame: named by its time, opened playing from it
        return {"id": row.id, "path": row.path, "name": f"{name} @ {format_timestamp(row.t_sec)}" if video else name,
                "t_sec": row.t_sec if video else None, "folder": str(Path(rel).parent) if "/" in rel else "",
                "width": row.width, "height": row.height, "size": row.size, "modified": iso_time(row.mtime_ns),
                "thumb_url": f"/api/items/{row.id}/thumb?v={v}", "image_url": f"/api/items/{row.id}/image?v={v}" + (f"#t={row.t_sec:.1f}" if video else ""),
                "labels": [{"label": lab, "prob": round(p, 4)} for lab, p in labels]}

    def items_view(rows: list[ItemRow], top: int = 3) -> list[dict]:
        """Runs on the search pool (it reads the catalog's tags)."""
        snap = service.current
        labels = library.tags_of(r.id for r in rows)
        return [item_view(snap, r, labels.get(r.id, [])[:top]) for r in rows]

    def hits_view(hits) -> list[dict]:
        """(row, Hit) pairs -> views with score, rank, weak flag, shot span and stacked copies."""
        views = items_view([row for row, _ in hits])
        out = []
        for r, ((row, hit), view) in enumerate(zip(hits, views), 1):
            view |= {"score": round(hit.score, 5), "rank": r, "weak": hit.weak,
                     "copies": [{"id": c.id, "path": c.path, "score": round(c.score, 5)} for c in hit.copies]}
            if hit.t_start is not None:
                view |= {"t_start": hit.t_start, "t_end": hit.t_end}
            out.append(view)
        return out

    def shaped(hits) -> tuple[list[dict], int]:
        return hits_view(hits), library.index_size

    async def search_response(query: dict, hits, t0: float, kind: str) -> dict:
        views, ntotal = await on_search(shaped, hits)
        took = time.perf_counter() - t0
        metrics.search_seconds.labels(kind).observe(took)
        return {"query": query, "hits": views, "took_ms": round(took * 1000, 2), "index_size": ntotal}

    # -- page, health, metrics ------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": REVALIDATE})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", response_model=S.Health, tags=["ops"])
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", response_model=S.Ready, tags=["ops"], responses={503: {"model": S.Ready}})
    async def readyz(response: Response):
        _, vectors, ntotal = await on_search(sizes)
        ready = service.ready and ntotal == vectors
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "starting", "index_size": ntotal, "catalog_vectors": vectors}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus():
        body = await on_search(metrics.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/info", response_model=S.Info, tags=["library"])
    async def info():
        files, vectors, _ = await on_search(sizes)
        return {"model_id": library.model_id, "files": files, "vectors": vectors, "index": library.index_kind,
                "read_only": settings.read_only, "max_upload_bytes": settings.max_upload_bytes,
                "max_pixels": settings.max_pixels,
                "features": {"text_search": "text" if text_search else "tags",
                             "compare": "pixseek.compare" if compare else "embedding-cosine",
                             "duplicates": duplicates is not None}}

    # -- search ---------------------------------------------------------------------------------
    @app.post("/api/search/image", response_model=S.SearchResponse, tags=["search"],
              responses={413: {}, 415: {}, 422: {}})
    async def search_image(file: Annotated[UploadFile, File(description="Query image.")],
                           flt: FiltersDep, k: K = settings.default_k, stack: Stack = True,
                           like: MarksF = None, unlike: MarksF = None, expand: Expand = 0):
        """Images most similar to an uploaded one; ``like`` / ``unlike`` (item ids) refine it; ``expand``
        averages in its nearest items first (alpha-QE, off by default)."""
        t0 = time.perf_counter()
        name, data = await read_upload(file)

        def run():
            image = decode(name, data)
            return image, service.search_image(image, k, flt, stack, **marks(like, unlike), expand=expand)

        image, hits = await on_search(run)
        query = {"kind": "image", "name": name, "width": image.width, "height": image.height}
        return await search_response(query, hits, t0, "image")

    @app.get("/api/items/{item_id}/similar", response_model=S.SearchResponse, tags=["search"])
    async def search_similar(item_id: int, flt: FiltersDep, k: K = settings.default_k, stack: Stack = True,
                             like: MarksQ = None, unlike: MarksQ = None, expand: Expand = 0):
        """More like a stored item (the item itself is left out); ``like`` / ``unlike`` refine it;
        ``expand`` averages in its nearest items first (alpha-QE, off by default)."""
        t0 = time.perf_counter()
        row, hits = await on_search(functools.partial(service.search_item, item_id, k, flt, stack,
                                                      **marks(like, unlike), expand=expand))
        return await search_response({"kind": "item", "name": Path(row.path).name, "item_id": row.id,
                                "width": row.width, "height": row.height}, hits, t0, "item")

    @app.get("/api/search/text", response_model=S.SearchResponse, tags=["search"])
    async def search_text(q: Annotated[str, Query(min_length=1, max_length=300, description="Words or a tag.")],
                          flt: FiltersDep, k: K = settings.default_k, stack: Stack = True,
                          like: MarksQ = None, unlike: MarksQ = None):
        """Text query (``-word`` avoids a word): the same filters, stacks, relevance floor and feedback
        (``like`` / ``unlike``) as an image search; ``warnings`` says when a word was not understood."""
        t0 = time.perf_counter()
        kind, hits, matched, warnings = await on_search(functools.partial(service.search_text, q, k, flt, stack,
                                                                          **marks(like, unlike)))
        query = {"kind": kind, "text": q, "warnings": warnings,
                 "matched_labels": [{"label": lab, "prob": round(p, 4)} for lab, p in matched]}
        return await search_response(query, hits, t0, kind)

    @app.post("/api/compare", response_model=S.CompareResponse, tags=["search"], responses={413: {}, 415: {}, 422: {}})
    async def compare_images(a: Annotated[UploadFile, File()], b: Annotated[UploadFile, File()]):
        """How similar two uploaded images are."""
        (na, da), (nb, db) = await read_upload(a), await read_upload(b)

        def run():
            ia, ib = decode(na, da), decode(nb, db)
            with service.reading():
                return ia, ib, compared(ia, ib)

        def compared(ia, ib):
            if compare is not None:
                result = compare(ia, ib)
            else:
                cos = float(np.dot(service.embed(ia), service.embed(ib)))
                result = Comparison(max(0.0, min(1.0, cos)), None, f"embedding-cosine:{library.model_id}",
                                    {"cosine": round(cos, 6)})
            return result

        ia, ib, result = await on_search(run)
        return {"similarity": round(result.similarity, 6), "verdict": result.verdict, "method": result.method,
                "a": {"name": na, "width": ia.width, "height": ia.height},
                "b": {"name": nb, "width": ib.width, "height": ib.height}, "details": result.details}

    # -- items ----------------------------------------------------------------------------------
    @app.get("/api/items", response_model=S.ItemList, tags=["library"])
    async def list_items(flt: FiltersDep, offset: Annotated[int, Query(ge=0)] = 0,
                         limit: Annotated[int, Query(ge=1, le=500)] = 60):
        total, rows = await on_search(service.list_items, flt, offset, limit)
        return {"total": total, "offset": offset, "limit": limit, "items": await on_search(items_view, rows)}

    @app.get("/api/facets", response_model=S.Facets, tags=["library"])
    async def facets():
        f = await on_search(service.facets)
        return {"tags": [{"value": t, "count": c} for t, c in f["tags"]],
                "folders": [{"value": d, "count": c} for d, c in f["folders"]],
                "oldest": f["oldest"], "newest": f["newest"]}

    @app.get("/api/items/{item_id}", response_model=S.Item, tags=["library"])
    async def get_item(item_id: int):
        row = await on_search(service.item, item_id)
        return (await on_search(items_view, [row], 5))[0]

    def not_modified(request: Request, etag: str, cache: str) -> Response | None:
        inm = request.headers.get("if-none-match", "")
        if etag in {t.strip() for t in inm.split(",")} or inm.strip() == "*":
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache})
        return None

    @app.get("/api/items/{item_id}/thumb", tags=["library"], response_class=Response,
             responses={200: {"content": {"image/jpeg": {}}}})
    async def thumb(item_id: int, request: Request, v: str | None = None):
        """A JPEG thumbnail, made once and cached on disk; immutable when ``v`` names the current content."""
        row = await on_search(service.item, item_id)
        at = row.t_sec if row.kind == "video" else None
        etag = thumbs.etag(row.sha256, at)
        cache = IMMUTABLE if v == row.sha256[:12] else REVALIDATE
        if (resp := not_modified(request, etag, cache)) is not None:
            return resp

        def make():
            before = thumbs.generated
            try:
                path = thumbs.get(service.source_file(row), row.sha256, at)
            except ImageError as err:
                raise ApiError(422, err.kind, f"{Path(row.path).name}: {err.cause}") from err
            if thumbs.generated > before:
                metrics.thumbs_generated.inc()
            return path.read_bytes()

        body = await on_search(make)
        return Response(body, media_type="image/jpeg", headers={"ETag": etag, "Cache-Control": cache})

    @app.get("/api/items/{item_id}/image", tags=["library"], response_class=FileResponse)
    async def original(item_id: int, request: Request, v: str | None = None):
        """The original file, only when its real path is inside the indexed roots."""
        row = await on_search(service.item, item_id)
        real = await on_search(service.source_file, row)
        etag = f'"{row.sha256[:32]}"'
        cache = "private, max-age=3600" if v == row.sha256[:12] else REVALIDATE
        if (resp := not_modified(request, etag, cache)) is not None:
            return resp
        media = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
        if not media.startswith(("image/", "video/")):
            media = "application/octet-stream"
        return FileResponse(real, media_type=media, headers={"ETag": etag, "Cache-Control": cache},
                            content_disposition_type="inline", filename=real.name)

    @app.get("/api/duplicates", response_model=S.DuplicatesResponse, tags=["library"], responses={501: {}})
    async def list_duplicates():
        if duplicates is None:
            raise ApiError(501, "feature-unavailable", "duplicate detection is not installed on this server")
        def run():
            with service.reading():
                groups = duplicates()
            out = []
            for ids, score, *more in groups:  # a seam may add (tier, keeper path)
                rows = library.items(ids)
                keeper = next((r.id for r in rows if len(more) > 1 and r.path == more[1]), None)
                out.append({"items": items_view(rows), "score": score, "tier": more[0] if more else None,
                            "keeper": keeper})
            return out

        return {"method": "pixseek.compare", "groups": await on_search(run)}

    @app.post("/api/duplicates/move", response_model=S.MoveResponse, tags=["admin"], dependencies=[Depends(admin)],
              responses={400: {}, 401: {}, 403: {}, 404: {}})
    async def move_duplicates(body: S.MoveRequest):
        """Move the other copies of a duplicate group out of the library folders (into ``<db>.moved/``)
        and drop them from the library; the kept item stays where it is."""
        return {"moved": await on_writer(service.move_copies, body.keep, body.move)}

    # -- admin ----------------------------------------------------------------------------------
    def report_view(report, rows: list[ItemRow] = ()) -> dict:
        return {**report.to_dict(), "items": items_view(list(rows))}

    @app.post("/api/items", response_model=S.IndexReport, tags=["admin"], dependencies=[Depends(admin)],
              responses={401: {}, 403: {}, 413: {}, 415: {}, 422: {}})
    async def add_items(files: Annotated[list[UploadFile], File(description="Images to store and index.")]):
        uploads = [await read_upload(f) for f in files]
        for name, data in uploads:  # refuse the whole request before writing anything
            await on_search(decode, name, data)
        report, rows = await on_writer(service.add_uploads, uploads)
        return await on_search(report_view, report, rows)

    @app.post("/api/admin/index", response_model=S.IndexReport, tags=["admin"], dependencies=[Depends(admin)],
              responses={401: {}, 403: {}, 404: {}})
    async def index_folder(body: S.IndexRequest):
        """Index a file or folder that lies inside the indexed roots (server-side paths only; no URLs)."""
        report = await on_writer(service.index_path, body.path, body.prune)
        return await on_search(report_view, report)

    @app.delete("/api/items/{item_id}", response_model=S.RemoveResponse, tags=["admin"],
                dependencies=[Depends(admin)], responses={401: {}, 403: {}, 404: {}})
    async def remove_item(item_id: int):
        """Drop an item from the catalog and index (the file itself is left alone)."""
        return {"removed": await on_writer(service.remove, [item_id])}

    # -- middleware (outermost last) ------------------------------------------------------------
    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path == "/":  # the page; /docs keeps FastAPI's own (CDN-hosted) Swagger UI working
            response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["X-API-Key", "Authorization"])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes + 64 * 1024)
    app.add_middleware(MetricsMiddleware, metrics=metrics, router_app=app)
    if settings.allowed_hosts is not None:  # outermost: a foreign Host is refused before anything runs
        app.add_middleware(HostCheckMiddleware, allowed=settings.allowed_hosts)
    return app

"""The FastAPI application: the search API, gallery pictures by name, and the page's static files."""

from __future__ import annotations

import io
import time
from importlib import resources
from urllib.parse import quote

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image, ImageOps, UnidentifiedImageError

from personsearch.serve.schemas import (
    MAX_TOP_K,
    ErrorOut,
    GalleryInfo,
    HitOut,
    PictureList,
    SearchResponse,
    TextQuery,
)
from personsearch.serve.service import SearchService, ServedHit, TextSearchUnavailableError, UnknownPictureError

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# what browsers send for pictures Pillow reads; checked again against the decoded format
UPLOAD_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
}
MULTIPART_OVERHEAD = 64 * 1024  # form fields and boundaries around the uploaded file
CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'"
ERRORS = {code: {"model": ErrorOut} for code in (400, 404, 413, 415, 501)}


def _timestamp(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}"


def _hit_out(hit: ServedHit) -> HitOut:
    return HitOut(
        rank=hit.rank, score=hit.score, detection_score=hit.detection_score, box=hit.box, picture=hit.picture,
        picture_url=f"/api/picture?name={quote(hit.picture, safe='')}", frame=hit.frame, time_s=hit.time_s,
        timestamp=_timestamp(hit.time_s),
    )  # fmt: skip


def parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise HTTPException(400, f"box must be four numbers x1,y1,x2,y2 in pixels; got {text!r}")
    return values


async def read_upload(upload: UploadFile, max_bytes: int) -> Image.Image:
    """The uploaded picture, decoded; 413 when too large, 415 when not a supported picture type."""
    name = upload.filename or "upload"
    expected = UPLOAD_TYPES.get((upload.content_type or "").split(";")[0].strip().lower())
    if expected is None:
        raise HTTPException(
            415, f"{name}: type {upload.content_type!r} is not a supported picture "
                 f"(send {', '.join(sorted(UPLOAD_TYPES))})")  # fmt: skip
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(413, f"{name}: larger than the {max_bytes // (1024 * 1024)} MiB upload limit")
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = image.format
            image.load()
            picture = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise HTTPException(415, f"{name}: not a readable picture ({type(exc).__name__}: {exc})") from None
    if found != expected and not (expected == "JPEG" and found == "MPO"):
        raise HTTPException(415, f"{name}: sent as {upload.content_type} but the file is {found}")
    return picture


def create_app(service: SearchService, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> FastAPI:
    # FastAPI's explorer pages load scripts from a CDN; the app serves nothing from elsewhere (/openapi.json stays)
    app = FastAPI(title="personsearch", summary="Find a person in a gallery by a picture or a description.",
                  docs_url=None, redoc_url=None)
    static = resources.files("personsearch.serve") / "static"

    @app.middleware("http")
    async def guard(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_upload_bytes + MULTIPART_OVERHEAD:
            limit = max_upload_bytes // (1024 * 1024)
            return JSONResponse({"detail": f"request larger than the {limit} MiB upload limit"}, status_code=413)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/api/info", response_model=GalleryInfo)
    def info() -> GalleryInfo:
        facts = service.facts()
        return GalleryInfo(**vars(facts), max_upload_bytes=max_upload_bytes)

    @app.get("/api/pictures", response_model=PictureList)
    def pictures(offset: int = Query(0, ge=0), limit: int = Query(200, ge=1, le=5000)) -> PictureList:
        names = service.picture_names
        return PictureList(total=len(names), offset=offset, names=names[offset : offset + limit])

    @app.get("/api/picture", responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorOut}})
    def picture(name: str = Query(..., description="a picture name from /api/pictures or a hit")) -> Response:
        try:
            data = service.picture_jpeg(name)
        except UnknownPictureError:
            raise HTTPException(404, f"no picture named {name!r} in this gallery") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/api/search", response_model=SearchResponse, responses=ERRORS)
    async def search(
        box: str = Form(..., description="the query person's box x1,y1,x2,y2 in the picture's pixels"),
        image: UploadFile | None = File(None, description="the query picture (JPEG, PNG, WebP, BMP, GIF, TIFF)"),
        picture: str | None = Form(None, description="or: the name of a gallery picture to query with"),
        top_k: int = Form(10, ge=1, le=MAX_TOP_K),
    ) -> SearchResponse:
        if (image is None) == (picture is None):
            raise HTTPException(400, "send exactly one query picture: an uploaded 'image' or a gallery 'picture' name")
        query_box = parse_box(box)
        if image is not None:
            query = await read_upload(image, max_upload_bytes)
        else:
            try:
                query = await run_in_threadpool(service.picture, picture)
            except UnknownPictureError:
                raise HTTPException(404, f"no picture named {picture!r} in this gallery") from None
        started = time.perf_counter()
        try:
            hits = await run_in_threadpool(service.search_image, query, query_box, top_k)
        except ValueError as exc:  # a box outside the picture, a degenerate box
            raise HTTPException(400, str(exc)) from None
        return SearchResponse(query="image", top_k=top_k, elapsed_ms=(time.perf_counter() - started) * 1000,
                              hits=[_hit_out(hit) for hit in hits])

    @app.post("/api/text-search", response_model=SearchResponse, responses=ERRORS)
    def text_search(body: TextQuery) -> SearchResponse:
        started = time.perf_counter()
        try:
            hits = service.search_text(body.description, body.top_k)
        except TextSearchUnavailableError as exc:
            raise HTTPException(501, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return SearchResponse(query="text", top_k=body.top_k, elapsed_ms=(time.perf_counter() - started) * 1000,
                              hits=[_hit_out(hit) for hit in hits])

    return app

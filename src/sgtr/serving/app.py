"""The ``sgtr serve`` application: ``create_app(recognizer, ...)`` → a FastAPI app.

* ``POST /read`` — multipart form: ``files`` (one or more images), ``kind`` (``auto``, ``crop`` or ``photo``) and
  ``explain`` (``true`` for the explain figure of each crop, PyTorch models only). Answers
  ``{"results": [...], "seconds": ...}``, one result per file in upload order: ``text``, ``confidence``,
  ``char_probs`` and ``branches`` (each branch's reading) for a crop; ``words`` (box, text, confidence, branches
  per word, in reading order), ``mode`` and the joined ``text`` for a photo. ``auto`` runs the detector and takes
  the image as a photo when it finds more than one line, or one line covering less than ``CROP_COVER`` of the
  image; otherwise it reads the whole image as one word crop.
* ``GET /health`` — the model, what is available (photos, explain figures) and the limits.
* ``GET /`` — the web page (``page.html``); ``GET /docs`` — the OpenAPI page.

Every error is JSON ``{"detail": "..."}`` with a 4xx status naming the file and the problem (or 503 when a
request's model work times out). The event loop never runs model work: uploads are decoded in worker threads, and
model work runs in threads, at most ``Limits.concurrency`` at once (the work of a request that timed out
included: it finishes in the background and keeps its place until then); the other requests queue.
"""

from __future__ import annotations

import base64
import importlib.util
import tempfile
import threading
import time
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import anyio
import numpy as np
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from sgtr import __version__
from sgtr.inference.photo import PhotoReader
from sgtr.inference.predictor import Reading, Recognizer
from sgtr.serving.body import BodyLimit
from sgtr.serving.limits import Limits
from sgtr.serving.uploads import UploadError, decode_upload

KINDS = ("auto", "crop", "photo")
CROP_COVER = 0.5  # one detected line covering at least this share of the image: a word crop
TRUE = ("1", "true", "on", "yes")
EXPLAIN_DPI = 110
PHOTOS_MISSING = "photos need the text detector: pip install 'sgtr[pretrained]'"

READ_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                      "description": "images: word crops or photos (PNG, JPEG, WebP, ...)"},
            "kind": {"type": "string", "enum": list(KINDS), "default": "auto",
                     "description": "crop: read the whole image as one word; photo: find and read its words; "
                                    "auto: decide by what the detector finds"},
            "explain": {"type": "boolean", "default": False,
                        "description": "add each crop's explain figure (a PNG data URL); PyTorch models only"},
        }}}},
}
ERRORS = {status: {"description": text} for status, text in (
    (400, "empty form, empty or corrupt file, bad field"), (413, "a file, the body or an image over its limit"),
    (415, "a file that is not an image"), (503, "the model work did not finish within the request timeout"))}


def create_app(recognizer: Recognizer, limits: Limits | None = None, photos: PhotoReader | None = None) -> FastAPI:
    """The application around a ready ``recognizer``; ``photos``: a ``PhotoReader`` for photos (None: crops only)."""
    limits = limits or Limits()
    # Requests wait for model work on the limiter, in the event loop. A request that times out stops waiting but its
    # thread runs on, so the threads also pass a gate of their own: abandoned work keeps its place until it ends.
    queue = anyio.CapacityLimiter(limits.concurrency)
    gate = threading.BoundedSemaphore(limits.concurrency)
    can_explain = hasattr(recognizer.runtime, "model") and importlib.util.find_spec("matplotlib") is not None
    page = (resources.files("sgtr.serving") / "page.html").read_text(encoding="utf-8")
    app = FastAPI(title="sgtr", summary="Read the text of word crops and photos with an sgtr model.",
                  version=__version__)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors())
        return JSONResponse({"detail": problems}, status_code=422)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(page)

    @app.get("/health", summary="the model, what is available, the limits")
    async def health():
        return {"status": "ok",
                "model": {"name": recognizer.spec.name, "charset": recognizer.charset.name,
                          "input_size": list(recognizer.input_size), "runtime": recognizer.runtime.name},
                "photos": photos is not None, "photo_mode": photos.mode if photos else None,
                "explain": can_explain, "limits": {**asdict(limits), "max_body_bytes": limits.max_body_bytes}}

    @app.post("/read", summary="read word crops or photos", openapi_extra={"requestBody": READ_BODY},
              responses=ERRORS)
    async def read(request: Request):
        start = time.perf_counter()
        async with request.form(max_files=limits.max_files, max_fields=8) as form:
            kind = str(form.get("kind", "auto"))
            if kind not in KINDS:
                raise HTTPException(400, f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
            if kind == "photo" and photos is None:
                raise HTTPException(400, PHOTOS_MISSING)
            explain = str(form.get("explain", "false")).lower() in TRUE
            if explain and not can_explain:
                raise HTTPException(400, "explain figures need a PyTorch model (.ckpt or .safetensors) and "
                                         "matplotlib: pip install 'sgtr[train]'")
            uploads = form.getlist("files")
            if not uploads:
                raise HTTPException(400, "no images: send them as the multipart form field 'files'")
            if not all(isinstance(u, UploadFile) for u in uploads):
                raise HTTPException(400, "field 'files' must hold file uploads, not text")
            names = [u.filename or f"file {i + 1}" for i, u in enumerate(uploads)]
            blobs = [await u.read() for u in uploads]
        try:
            images = await to_thread.run_sync(
                lambda: [decode_upload(n, b, limits) for n, b in zip(names, blobs)])
        except UploadError as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        deadline = time.monotonic() + limits.timeout_s

        def work() -> list[dict] | None:
            with gate:
                if time.monotonic() > deadline:  # timed out while abandoned work held the gate: nobody waits
                    return None
                return _read_all(recognizer, photos, names, images, kind, explain)

        try:
            with anyio.fail_after(limits.timeout_s):
                results = await to_thread.run_sync(work, limiter=queue, abandon_on_cancel=True)
            if results is None:
                raise TimeoutError
        except TimeoutError:
            raise HTTPException(503, f"timed out after {limits.timeout_s:g} s (the model is busy; try again, "
                                     "or send fewer images)") from None
        return {"results": results, "seconds": round(time.perf_counter() - start, 4)}

    return app


def _read_all(recognizer: Recognizer, photos: PhotoReader | None, names: list[str], images: list[Image.Image],
              kind: str, explain: bool) -> list[dict]:
    """Every image's result, in order; crops are read together in batches."""
    results: list[dict | None] = [None] * len(images)
    crops = []
    for i, (name, image) in enumerate(zip(names, images)):
        boxes = None
        if kind != "crop" and photos is not None:
            boxes = photos.detector.detect(np.asarray(image))
        if kind == "photo" or (kind == "auto" and boxes is not None and _looks_like_photo(boxes, image.size)):
            reading = photos.read(image, boxes=boxes, branches=True)
            words = [w.to_dict() for w in reading.words]
            confidence = float(np.mean([w.confidence for w in reading.words])) if words else None
            results[i] = {"file": name, "kind": "photo", "width": reading.width, "height": reading.height,
                          "mode": reading.mode, "text": reading.text, "confidence": confidence, "words": words}
        else:
            crops.append(i)
    readings = recognizer.predict([images[i] for i in crops], branches=True)
    for i, reading in zip(crops, readings):
        width, height = images[i].size
        results[i] = {"file": names[i], "kind": "crop", "width": width, "height": height, **_crop(reading)}
        if explain:
            results[i]["explain"] = _explain_png(recognizer, images[i])
    return results


def _looks_like_photo(boxes, size: tuple[int, int]) -> bool:
    if len(boxes) != 1:
        return len(boxes) > 1
    corners = boxes[0].corners
    x, y = corners[:, 0], corners[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))  # the shoelace formula
    return area < CROP_COVER * size[0] * size[1]


def _crop(reading: Reading) -> dict:
    return {"text": reading.text, "confidence": reading.confidence, "char_probs": reading.char_probs,
            "branches": {name: {"text": p.text, "confidence": p.confidence} for name, p in reading.branches.items()}}


def _explain_png(recognizer: Recognizer, image: Image.Image) -> str:
    """The explain figure of one crop as a PNG data URL."""
    from sgtr.inference.explain import explain

    with tempfile.TemporaryDirectory(prefix="sgtr-explain-") as folder:
        path = Path(folder) / "explain.png"
        explain(recognizer, image, path, dpi=EXPLAIN_DPI)
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")

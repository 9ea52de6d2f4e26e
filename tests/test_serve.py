"""``sgtr serve`` through an HTTP client: health, reading crops and photos, the explain figure, every kind of bad
upload answered 4xx with the problem named (and the server serving on), the body and time limits, the page and the
OpenAPI description; and one real uvicorn process on loopback."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from sgtr.data.charset import Charset
from sgtr.inference.predictor import Reading, Recognizer
from sgtr.serving.limits import Limits
from tests.helpers.photos import WORDS, render_photo

pytest.importorskip("fastapi", reason="sgtr serve needs sgtr[serve]")
pytest.importorskip("httpx2", reason="FastAPI's TestClient needs httpx2 (sgtr[dev])")
from fastapi.testclient import TestClient  # noqa: E402

from sgtr.serving.app import create_app  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LIMITS = Limits(max_file_bytes=1_000_000, max_files=3, max_pixels=2_000_000, timeout_s=60)


@pytest.fixture(scope="module")
def recognizer():
    from sgtr import Recognizer

    return Recognizer(threads=1)


@pytest.fixture(scope="module")
def client(recognizer) -> TestClient:
    pytest.importorskip("rapidocr", reason="photos need the detector of sgtr[pretrained]")
    from sgtr.inference.detection import TextDetector
    from sgtr.inference.photo import PhotoReader

    with TestClient(create_app(recognizer, LIMITS, PhotoReader(recognizer, TextDetector(threads=1)))) as client:
        yield client


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def crop_bytes() -> bytes:
    return (SAMPLES / "word_00.png").read_bytes()


def label(name: str) -> str:
    return dict(line.split("\t") for line in (SAMPLES / "labels.tsv").read_text().splitlines())[name]


def upload(*items: tuple[str, bytes]) -> list:
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


def test_health_names_the_model_and_states_the_limits(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["photos"] is True
    assert health["model"]["charset"] == Recognizer().charset.name
    assert health["limits"]["max_files"] == 3 and health["limits"]["max_file_bytes"] == 1_000_000


def test_a_crop_is_read_with_each_branch(client, recognizer):
    response = client.post("/read", files=upload(("word_00.png", crop_bytes())))
    assert response.status_code == 200
    (result,) = response.json()["results"]
    expected = recognizer.predict(SAMPLES / "word_00.png", branches=True)[0]
    assert result["kind"] == "crop" and result["file"] == "word_00.png"
    assert result["text"] == expected.text == label("word_00.png").lower()
    assert result["confidence"] == pytest.approx(expected.confidence, abs=1e-6)
    assert set(result["branches"]) == set(expected.branches)  # the bundled CTC model has none; S-GTR would list its own
    assert "explain" not in result


def test_crops_and_photos_in_one_request_come_back_in_upload_order(client):
    photo, _ = render_photo()
    response = client.post("/read", files=upload(("photo.png", png(photo)), ("word_00.png", crop_bytes())))
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert (first["kind"], second["kind"]) == ("photo", "crop")
    assert [w["text"].lower() for w in first["words"]] == list(WORDS)
    assert all(len(w["box"]) == 4 for w in first["words"])
    assert first["text"].lower() == "open daily\ncoffee shop\nhello"


def test_kind_crop_reads_a_photo_as_one_image(client):
    photo, _ = render_photo()
    (result,) = client.post("/read", files=upload(("photo.png", png(photo))), data={"kind": "crop"}).json()["results"]
    assert result["kind"] == "crop" and "words" not in result


def test_explain_adds_a_png_figure_to_each_crop(client):
    response = client.post("/read", files=upload(("word_00.png", crop_bytes())), data={"explain": "true"})
    (result,) = response.json()["results"]
    prefix = "data:image/png;base64,"
    assert result["explain"].startswith(prefix)
    import base64

    figure = Image.open(io.BytesIO(base64.b64decode(result["explain"][len(prefix):])))
    assert figure.width > 300 and figure.height > 100


def bomb() -> bytes:
    """A small PNG whose header declares 4 megapixels, twice the test server's pixel limit."""
    return png(Image.new("1", (2000, 2000)))


@pytest.mark.parametrize(("files", "data", "status", "problem"), [
    (upload(("notes.txt", b"hello, I am text")), {}, 415, "notes.txt: not an image"),
    (upload(("empty.png", b"")), {}, 400, "empty.png: empty file"),
    (upload(("cut.png", crop_bytes()[:300])), {}, 400, "cut.png: corrupt or truncated"),
    (upload(("huge.png", b"\x89PNG" + bytes(1_000_000))), {}, 413, "huge.png: 1,000,004 bytes, over the 1,000,000"),
    (upload(("bomb.png", bomb())), {}, 413, "bomb.png: 2000x2000 pixels, over the 2,000,000-pixel limit"),
    (upload(*[(f"{i}.png", crop_bytes()) for i in range(4)]), {}, 400, "Too many files"),
    ([], {"kind": "crop"}, 400, "no images"),
    (upload(("a.png", crop_bytes())), {"kind": "poster"}, 400, "kind must be one of"),
    ([], {"files": "not a file"}, 400, "must hold file uploads"),
], ids=["not-image", "empty", "truncated", "too-large", "pixel-bomb", "too-many", "empty-form", "bad-kind",
        "text-field"])
def test_a_bad_upload_is_a_4xx_naming_the_problem_and_the_server_serves_on(client, files, data, status, problem):
    response = client.post("/read", files=files or None, data=data)
    assert response.status_code == status
    assert problem in response.json()["detail"]
    good = client.post("/read", files=upload(("word_00.png", crop_bytes())))
    assert good.status_code == 200 and good.json()["results"][0]["text"] == label("word_00.png").lower()


def test_a_body_over_the_limit_is_refused_before_it_is_parsed(client):
    response = client.post("/read", content=b"x" * (LIMITS.max_body_bytes + 1),
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and "request body over" in response.json()["detail"]


def test_model_work_past_the_timeout_is_503(recognizer):
    impatient = TestClient(create_app(recognizer, Limits(timeout_s=1e-4)))
    response = impatient.post("/read", files=upload(("word_00.png", crop_bytes())))
    assert response.status_code == 503 and "timed out" in response.json()["detail"]


class SlowRecognizer:
    """Stands in for a ``Recognizer`` (only what the app touches): each read takes ``seconds`` and the most reads
    ever running at once is kept."""

    def __init__(self, seconds: float):
        self.seconds, self.running, self.most = seconds, 0, 0
        self.lock = threading.Lock()
        self.spec, self.charset = SimpleNamespace(name="slow"), Charset(tuple("ab"), name="ab")
        self.input_size, self.runtime = (32, 128), SimpleNamespace(name="stub")

    def predict(self, images, branches=False):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        return [Reading("ab", 0.9, [0.9, 0.9]) for _ in images]


def test_model_work_never_exceeds_the_concurrency_cap_even_after_timeouts():
    # A runs 0-0.5 s. B (sent at 0.1) starts at 0.5, times out at 0.8, and its work runs on to 1.0. C (sent at 0.6)
    # gets its turn in the queue at 0.8; only the gate keeps it from running beside B's abandoned work.
    slow = SlowRecognizer(0.5)
    statuses = {}

    def send(name: str, delay: float):
        time.sleep(delay)
        statuses[name] = client.post("/read", files=upload(("word_00.png", crop_bytes()))).status_code

    # One event loop for all requests, as under uvicorn (without ``with``, each request gets a loop of its own).
    with TestClient(create_app(slow, Limits(timeout_s=0.7, concurrency=1))) as client:
        senders = [threading.Thread(target=send, args=args) for args in (("A", 0.0), ("B", 0.1), ("C", 0.6))]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=30)
        time.sleep(1.0)  # let abandoned work finish before counting
    assert slow.most == 1
    assert statuses["A"] == 200 and statuses["B"] == 503


def test_photos_without_a_detector_are_refused_naming_the_extra(recognizer):
    crops_only = TestClient(create_app(recognizer, LIMITS, photos=None))
    photo, _ = render_photo()
    response = crops_only.post("/read", files=upload(("photo.png", png(photo))), data={"kind": "photo"})
    assert response.status_code == 400 and "sgtr[pretrained]" in response.json()["detail"]
    (result,) = crops_only.post("/read", files=upload(("photo.png", png(photo)))).json()["results"]
    assert result["kind"] == "crop"  # auto without a detector: read as one crop


def test_the_page_needs_nothing_from_outside(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'fetch("read"' in page and 'type="file"' in page
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_openapi_describes_the_multipart_upload(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/read"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["files"] and body["properties"]["kind"]["enum"] == ["auto", "crop", "photo"]
    assert client.get("/docs").status_code == 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sgtr_serve_answers_on_loopback(tmp_path):
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "sgtr.cli.main", "serve", "--port", str(port), "--threads", "1"],
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as r:
                    assert json.load(r)["status"] == "ok"
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "sgtr serve did not answer within 90 s"
                time.sleep(0.5)
        boundary = "sgtrtestboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"word_00.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + crop_bytes() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"{base}/read", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert json.load(r)["results"][0]["text"] == label("word_00.png").lower()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

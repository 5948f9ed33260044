"""Photo evidence: fetch or decode what the shopper sent, check it is a usable picture,
and keep the original bytes on disk, content-addressed.

Everything here treats its input as hostile: the URL and the bytes come from whoever
posted to the REST channel. A photo is accepted for what its bytes are, never for its
name or declared type, and every way it can fail ends in `PhotoRejected`, whose message
the bot can send to the shopper as it is.

Accepted formats: JPEG (including multi-picture "MPO" JPEGs that phones produce), PNG,
WEBP, GIF and BMP, which is what phones, screenshots and chat apps send; HEIF/HEIC as
well when the optional `pillow-heif` plugin is installed. Pillow is only allowed to try
those decoders, which keeps the dozens of rarer formats it can parse away from
shopper-supplied bytes.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import ipaddress
import os
import re
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from PIL import Image, UnidentifiedImageError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MEDIA_DIR = PROJECT_ROOT / "var" / "media"

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_FETCH_TIMEOUT = 10.0

# Pillow format name -> extension of the stored file. MPO is a JPEG with extra pictures
# appended (phone cameras write it); every viewer shows it as a JPEG, so it is stored as one.
EXTENSIONS: Dict[str, str] = {
    "JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp",
    "HEIF": "heic",
}
# The content type a stored file is served with.
MIME_TYPES: Dict[str, str] = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                              "gif": "image/gif", "bmp": "image/bmp", "heic": "image/heic"}
_DECODERS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF")
_FILENAME = re.compile(r"[0-9a-f]{64}\.(?:%s)" % "|".join(sorted(set(EXTENSIONS.values()))))
# ISO-BMFF brands of HEIF/HEIC/AVIF pictures, to tell an iPhone user why their photo
# failed when the plugin is missing, instead of claiming it is not a picture.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
                b"avif", b"avis"}

_CHUNK = 64 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_REDIRECTS = 5
# Attachment URLs `media:<sha256>.<ext>` name a photo already in the store.
STORED_SCHEME = "media"
_REQUEST_HEADERS = {"Accept": "image/*", "User-Agent": "shouhou-assistant-media/1"}

REASONS = ("bad_url", "fetch_failed", "too_large", "not_image", "too_many_pixels")

MESSAGES: Dict[str, str] = {
    "bad_url": "这张图片的链接打不开，麻烦直接在对话框里上传照片。",
    "fetch_failed": "图片没能下载下来，麻烦直接上传照片，或者稍后再发一次。",
    "too_large": "图片超过 {limit}，麻烦压缩后再发，或者直接用手机拍一张发过来。",
    "not_image": "这个文件不是图片，麻烦发一张 jpg 或 png 照片。",
    "too_many_pixels": "图片分辨率太高（超过 {limit}），麻烦截图或压缩后再发。",
}
CORRUPT_MESSAGE = "这张图片好像没传完整，打不开，麻烦重新发一次。"
HEIF_MESSAGE = "暂时打不开 HEIC 格式的照片，麻烦截图后发截图，或者把相机格式改成“兼容性最佳”再拍。"


class PhotoRejected(Exception):
    """The shopper's photo cannot be used; `message` tells them what to do instead.

    `detail` is for the log only. Neither carries the URL: it can hold tokens of the
    shop's CDN, and echoing it back would put it in the transcript.
    """

    def __init__(self, reason: str, message: Optional[str] = None, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}; expected one of {REASONS}")
        self.reason = reason
        self.message = message or MESSAGES[reason]
        self.detail = detail
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"PhotoRejected({self.reason!r}, detail={self.detail!r})"


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str
    filename: str
    format: str
    width: int
    height: int
    size: int

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=None)
def _decoders() -> Tuple[str, ...]:
    with contextlib.suppress(ImportError):
        from pillow_heif import register_heif_opener  # optional: HEIC photos from iPhones

        register_heif_opener()
    Image.init()
    return tuple(name for name in _DECODERS if name in Image.OPEN)


def _looks_like_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _readable_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        mb = n / (1024 * 1024)
        return f"{mb:g}MB" if mb == int(mb) else f"{mb:.1f}MB"
    if n >= 1024:
        return f"{n // 1024}KB"
    return f"{n} 字节"


def _readable_pixels(n: int) -> str:
    return f"{n // 10_000} 万像素" if n >= 10_000 else f"{n} 像素"


def _base64_length(n: int) -> int:
    return 4 * ((n + 2) // 3)


class MediaStore:
    """Photos kept as `root/<sha256[:2]>/<sha256>.<ext>`, the bytes exactly as sent."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_pixels: int = DEFAULT_MAX_PIXELS,
                 fetch_timeout: float = DEFAULT_FETCH_TIMEOUT,
                 url_hosts: Optional[Iterable[str]] = None) -> None:
        """`url_hosts`: the only hosts (and their subdomains) photos are downloaded from,
        trusted even on a private network. Without it any host is tried whose addresses
        are all public, so a shopper's URL cannot make the server fetch from itself, the
        shop's network or a cloud metadata service (SSRF)."""
        if max_bytes <= 0 or max_pixels <= 0 or fetch_timeout <= 0:
            raise ValueError("max_bytes, max_pixels and fetch_timeout must be positive")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.fetch_timeout = fetch_timeout
        self.url_hosts = (None if url_hosts is None else
                          tuple(h.strip().strip(".").lower() for h in url_hosts if h.strip().strip(".")))

    # -- rejections ---------------------------------------------------------------------
    def _too_large(self, detail: str) -> PhotoRejected:
        message = MESSAGES["too_large"].format(limit=_readable_bytes(self.max_bytes))
        return PhotoRejected("too_large", message, detail)

    def _too_many_pixels(self, detail: str) -> PhotoRejected:
        message = MESSAGES["too_many_pixels"].format(limit=_readable_pixels(self.max_pixels))
        return PhotoRejected("too_many_pixels", message, detail)

    # -- bytes --------------------------------------------------------------------------
    def save_bytes(self, data: bytes) -> StoredPhoto:
        """Validate `data` as a picture and store it; storing the same bytes again is a no-op."""
        data = bytes(data)
        if len(data) > self.max_bytes:
            raise self._too_large(f"{len(data)} bytes")
        image_format, width, height = self._inspect(data)
        sha = hashlib.sha256(data).hexdigest()
        photo = StoredPhoto(sha256=sha, filename=f"{sha}.{EXTENSIONS[image_format]}",
                            format="JPEG" if image_format == "MPO" else image_format,
                            width=width, height=height, size=len(data))
        target = self._location(photo.filename)
        if not target.exists():
            self._write(target, data)
        return photo

    def _inspect(self, data: bytes) -> Tuple[str, int, int]:
        decoders = _decoders()
        try:
            # Image.open reads only the header, so the pixel budget is checked before
            # anything the size of the picture is allocated.
            with Image.open(io.BytesIO(data), formats=decoders) as image:
                image_format, (width, height) = image.format, image.size
                if width * height > self.max_pixels:
                    raise self._too_many_pixels(f"{width}x{height}")
                image.verify()  # chunk checksums and structure, where the format has them
            # verify() leaves the image unusable; decoding needs a fresh one. Decoding is
            # what notices a JPEG cut off in transit.
            with Image.open(io.BytesIO(data), formats=decoders) as image:
                if image_format in ("JPEG", "MPO"):
                    image.draft(None, (1, 1))  # decode at 1/8 scale: same checks, 1/64 memory
                image.load()
        except (PhotoRejected, MemoryError):
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            # Pillow's own process-wide guard fired first (dimensions far beyond ours, or
            # warnings turned into errors); same verdict.
            raise self._too_many_pixels(str(error)) from error
        except UnidentifiedImageError as error:
            message = HEIF_MESSAGE if _looks_like_heif(data) else None
            raise PhotoRejected("not_image", message, "unidentified or unsupported format") \
                from error
        except Exception as error:
            # Pillow's decoders signal damaged input with many exception types (OSError,
            # SyntaxError, ValueError, EOFError, struct.error…); all mean the same here.
            raise PhotoRejected("not_image", CORRUPT_MESSAGE,
                                f"{type(error).__name__}: {error}") from error
        if image_format not in EXTENSIONS:
            raise PhotoRejected("not_image", detail=f"format {image_format}")
        return image_format, width, height

    def _location(self, filename: str) -> Path:
        return self.root / filename[:2] / filename

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        # Write beside the target and rename: readers see the whole file or none, and a
        # crash leaves only a dot-file that path_of() never hands out.
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    # -- URLs ---------------------------------------------------------------------------
    def save_url(self, url: str) -> StoredPhoto:
        """Store the photo behind a `data:` or `http(s)://` URL."""
        if not isinstance(url, str):
            raise PhotoRejected("bad_url", detail=f"url is {type(url).__name__}")
        url = url.strip()
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return self.save_bytes(self._decode_data_url(url))
        if scheme in ("http", "https"):
            return self.save_bytes(self._download(url))
        if scheme == STORED_SCHEME:
            return self.save_bytes(self._read_stored(url[len(STORED_SCHEME) + 1:]))
        raise PhotoRejected("bad_url", detail=f"scheme {scheme[:20]!r}")

    def _read_stored(self, filename: str) -> bytes:
        """A photo already in this store (uploaded through the app chat): checked again
        like any other, so a reference can never smuggle in something else."""
        path = self.path_of(filename)
        if path is None:
            raise PhotoRejected("fetch_failed", detail="no stored photo of that name")
        return path.read_bytes()

    def stored_reference(self, photo: "StoredPhoto") -> str:
        """How an attachment points at a photo already in the store: `media:<name>`."""
        return f"{STORED_SCHEME}:{photo.filename}"

    def _decode_data_url(self, url: str) -> bytes:
        header, comma, payload = url[len("data:"):].partition(",")
        if not comma:
            raise PhotoRejected("bad_url", detail="data URL without a comma")
        if header.split(";")[-1].strip().lower() != "base64":
            # Percent-encoded data URLs are for text; no client sends a photo that way.
            raise PhotoRejected("bad_url", detail="data URL is not base64")
        limit = _base64_length(self.max_bytes)
        # Refuse by length before copying or decoding anything; the factor 2 leaves room
        # for line-wrapped base64, whose whitespace is dropped below.
        if len(payload) > 2 * limit:
            raise self._too_large(f"{len(payload)} base64 characters")
        compact = "".join(payload.split())
        if len(compact) > limit:
            raise self._too_large(f"{len(compact)} base64 characters")
        compact += "=" * (-len(compact) % 4)  # some encoders drop the padding
        try:
            data = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError) as error:
            raise PhotoRejected("bad_url", detail=f"bad base64: {error}") from error
        if not data:
            raise PhotoRejected("bad_url", detail="empty data URL")
        return data

    def _check_host(self, url: str) -> None:
        """Refuse a URL whose host photos may not come from (see `url_hosts`)."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError as error:
            raise PhotoRejected("bad_url", detail=f"unparsable URL: {error}") from error
        if parts.scheme.lower() not in ("http", "https"):
            raise PhotoRejected("bad_url", detail=f"scheme {parts.scheme[:20]!r}")
        if not host:
            raise PhotoRejected("bad_url", detail="URL without a host")
        host = host.rstrip(".").lower()
        if self.url_hosts is not None:
            if not any(host == allowed or host.endswith("." + allowed) for allowed in self.url_hosts):
                raise PhotoRejected("bad_url", detail=f"host {host[:60]!r} is not in MEDIA_URL_HOSTS")
            return
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(
                host, port or (443 if parts.scheme.lower() == "https" else 80), type=socket.SOCK_STREAM)}
        except (socket.gaierror, UnicodeError, OSError) as error:
            raise PhotoRejected("fetch_failed", detail=f"cannot resolve host: {type(error).__name__}") from error
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise PhotoRejected("bad_url", detail=f"host {host[:60]!r} is not a public address")

    def _download(self, url: str) -> bytes:
        # requests' timeout bounds each wait for the network, not the whole transfer: a
        # server dripping a byte at a time would never trip it, so a deadline is kept too.
        deadline = time.monotonic() + self.fetch_timeout
        try:
            # Redirects are followed here, not by requests, so every hop's host is checked.
            for _ in range(_MAX_REDIRECTS + 1):
                self._check_host(url)
                with requests.get(url, stream=True, timeout=self.fetch_timeout,
                                  headers=_REQUEST_HEADERS, allow_redirects=False) as response:
                    if response.status_code in _REDIRECTS and response.headers.get("Location"):
                        url = urljoin(url, response.headers["Location"])
                        continue
                    return self._read_body(response, deadline)
            raise PhotoRejected("fetch_failed", detail=f"more than {_MAX_REDIRECTS} redirects")
        except PhotoRejected:
            raise
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema, ValueError) as error:
            raise PhotoRejected("bad_url", detail=type(error).__name__) from error
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            raise PhotoRejected("fetch_failed", detail=type(error).__name__) from error

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        if response.status_code != 200:
            raise PhotoRejected("fetch_failed", detail=f"HTTP {response.status_code}")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(f"Content-Length {declared}")
        # Count what actually arrives (decompressed, if the server gzipped it):
        # a chunked or close-delimited body has no length to trust.
        body = bytearray()
        while True:
            if time.monotonic() > deadline:
                raise PhotoRejected("fetch_failed", detail=f"download exceeded {self.fetch_timeout}s")
            # read1 returns whatever has arrived instead of waiting for a full chunk.
            chunk = response.raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > self.max_bytes:
                raise self._too_large(f"more than {self.max_bytes} bytes received")
        return bytes(body)

    # -- reading back -------------------------------------------------------------------
    @staticmethod
    def mime_type(filename: str) -> str:
        return MIME_TYPES.get(filename.rsplit(".", 1)[-1], "application/octet-stream")

    def path_of(self, filename: str) -> Optional[Path]:
        """The stored file called `filename`, or None.

        Only names this store itself produces are accepted, so a name from a request
        (`../../etc/passwd`, an absolute path, a trailing newline) can never leave `root`.
        """
        if not isinstance(filename, str) or not _FILENAME.fullmatch(filename):
            return None
        path = self._location(filename)
        return path if path.is_file() else None


def stored_name(url: object) -> Optional[str]:
    """The file name in an attachment URL `media:<sha256>.<ext>` (a photo already in a
    store), or None for any other URL."""
    if not isinstance(url, str) or not url.startswith(STORED_SCHEME + ":"):
        return None
    name = url[len(STORED_SCHEME) + 1:]
    return name if _FILENAME.fullmatch(name) else None


def media_store_from_env(env: Mapping = os.environ) -> MediaStore:
    """The store the bot uses: `MEDIA_DIR`, or `var/media` in the project; photo URLs
    only from the comma-separated `MEDIA_URL_HOSTS` when it is set."""
    root = env.get("MEDIA_DIR") or DEFAULT_MEDIA_DIR
    hosts = env.get("MEDIA_URL_HOSTS", "").strip()
    return MediaStore(Path(root).expanduser(), url_hosts=hosts.split(",") if hosts else None)

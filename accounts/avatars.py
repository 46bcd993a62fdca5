"""Avatars: checking uploads, and the generated default (an initial on a colour from the number)."""

import hashlib
import secrets

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.html import escape
from PIL import Image, UnidentifiedImageError

from core.exceptions import InvalidInput

ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
MAX_PIXELS = 4096 * 4096

_PALETTE = ["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5f3dc4"]


def avatar_check(upload: UploadedFile | None) -> str:
    """Validate an uploaded avatar; returns the file extension to store it under."""
    if upload is None:
        raise InvalidInput("Attach an image as `avatar`.", fields={"avatar": ["No file was submitted."]})
    if upload.size > settings.AVATAR_MAX_BYTES:
        raise InvalidInput(
            "The avatar is larger than 1 MiB.", fields={"avatar": ["The file is larger than 1 MiB."]}
        )
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidInput(
            "The avatar is not a PNG, JPEG or WebP image.", fields={"avatar": ["Not a readable image."]}
        ) from exc
    finally:
        upload.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise InvalidInput(
            "The avatar is not a PNG, JPEG or WebP image.",
            fields={"avatar": [f"{image_format} images are not accepted; use PNG, JPEG or WebP."]},
        )
    if width * height > MAX_PIXELS:
        raise InvalidInput(
            "The avatar has too many pixels.", fields={"avatar": ["At most 4096x4096 pixels."]}
        )
    return ALLOWED_FORMATS[image_format]


def avatar_filename(number: int, extension: str) -> str:
    return f"{number}-{secrets.token_hex(6)}.{extension}"


def default_avatar_svg(number: int, name: str) -> str:
    colour = _PALETTE[int(hashlib.sha256(str(number).encode()).hexdigest(), 16) % len(_PALETTE)]
    initial = escape((name.strip() or "?")[0].upper())
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">'
        f'<rect width="128" height="128" rx="24" fill="{colour}"/>'
        '<text x="64" y="64" dy=".35em" text-anchor="middle" font-family="sans-serif" '
        f'font-size="64" fill="#fff">{initial}</text></svg>'
    )

"""Pictures inside a picture: the EXIF thumbnail, the second image of an MPO, a movie's ``thmb``.

An editor that changes the picture but copies the EXIF block leaves the old thumbnail behind: the
thumbnail then shows something else than the main image, a classic sign of an edited photo.  Each
embedded picture is compared with the main one by 64-bit dHash (imagehash) inside its content box
(a 160x120 thumbnail of a 3:2 photo carries black bars): the shared media's same-footage pairs
measure 0-5 bits and unrelated pictures 22-36 (``../shared/media/README.md``), so at most
``SAME_PICTURE_BITS`` is the same picture.

Decoding is bounded: thumbnails over ``MAX_THUMBNAIL_BYTES`` are listed, not decoded, and every
picture is decoded through JPEG draft mode at a small size under Pillow's decompression-bomb guard.
"""

from __future__ import annotations

import io
from pathlib import Path

import imagehash
import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from ..contentbox import crop, find_content_box
from ..models import EmbeddedImage, Frame

SAME_PICTURE_BITS = 12
MAX_THUMBNAIL_BYTES = 4 * 1024 * 1024
_HASH_SIDE = 256  # pixels of the longer side the pictures are reduced to before hashing
_IFD1 = ExifTags.IFD.IFD1  # the thumbnail IFD
_JPEG_OFFSET, _JPEG_LENGTH = 0x0201, 0x0202
_PILLOW_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
)


def _grey(image: Image.Image) -> np.ndarray:
    image.draft("L", (_HASH_SIDE, _HASH_SIDE))
    image = image.convert("L")
    image.thumbnail((_HASH_SIDE, _HASH_SIDE))
    return np.asarray(image)


def _dhash(grey: np.ndarray) -> imagehash.ImageHash:
    box = find_content_box([Frame(0, grey)])
    return imagehash.dhash(Image.fromarray(crop(grey, box)), hash_size=8)


def main_hash(path: Path) -> imagehash.ImageHash | None:
    """The dHash of a photo's main picture (its first frame), or None when it does not decode."""
    try:
        with Image.open(path) as image:
            return _dhash(_grey(image))
    except _PILLOW_ERRORS:
        return None


def _compared(origin: str, data: bytes, main: imagehash.ImageHash | None) -> EmbeddedImage:
    """An embedded JPEG described, and compared with the main picture when both decode."""
    if len(data) > MAX_THUMBNAIL_BYTES:
        return EmbeddedImage(origin, None, None, None, len(data))
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format, image.size
            found = _dhash(_grey(image))
    except _PILLOW_ERRORS:
        return EmbeddedImage(origin, None, None, None, len(data))
    distance = int(found - main) if main is not None else None
    shows = None if distance is None else distance <= SAME_PICTURE_BITS
    return EmbeddedImage(origin, fmt and fmt.lower(), width, height, len(data), distance, shows)


def exif_thumbnail(exif_block: bytes | None) -> bytes | None:
    """The JPEG thumbnail of an EXIF block (IFD1 JPEGInterchangeFormat), bounded to the block."""
    if not exif_block:
        return None
    tiff = exif_block[6:] if exif_block.startswith(b"Exif\x00\x00") else exif_block
    exif = Image.Exif()
    try:
        exif.load(tiff)
        ifd1 = exif.get_ifd(_IFD1)
    except (*_PILLOW_ERRORS, KeyError, IndexError, TypeError):
        return None
    offset, length = ifd1.get(_JPEG_OFFSET), ifd1.get(_JPEG_LENGTH)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        return None
    data = tiff[offset : offset + length]
    # A declared thumbnail that is not a JPEG (a stub, or damaged) is still listed, undecoded.
    return data if len(data) == length else None


def photo_thumbnails(path: Path, exif_block: bytes | None, frames: int) -> tuple[EmbeddedImage, ...]:
    """The EXIF thumbnail and, for an MPO, its further images, each compared with the main picture."""
    thumb = exif_thumbnail(exif_block)
    if thumb is None and frames < 2:
        return ()
    main = main_hash(path)
    found = [_compared("exif thumbnail", thumb, main)] if thumb is not None else []
    if frames >= 2:
        found.extend(_mpo_images(path, main))
    return tuple(found)


def _mpo_images(path: Path, main: imagehash.ImageHash | None) -> list[EmbeddedImage]:
    """Images 2.. of a multi-picture file (MPO: a stereo pair's right eye, a large preview)."""
    found = []
    try:
        with Image.open(path) as image:
            sizes = [e.get("Size", 0) for e in (image.mpinfo or {}).get(0xB002, [])]
            for index in range(1, min(getattr(image, "n_frames", 1), 8)):
                image.seek(index)
                grey = _grey(image)
                distance = int(_dhash(grey) - main) if main is not None else None
                # A stereo pair's other eye or a large preview differs from the first image by design
                # (parallax moves near objects): the distance is given, no verdict.
                found.append(
                    EmbeddedImage(
                        f"mpo image {index + 1}",
                        "jpeg",
                        image.size[0],
                        image.size[1],
                        int(sizes[index]) if index < len(sizes) else 0,
                        distance,
                        None,
                    )
                )
    except _PILLOW_ERRORS:
        pass
    return found


def movie_thumbnail(data: bytes | None) -> tuple[EmbeddedImage, ...]:
    """A QuickTime ``thmb`` atom (iMovie): ``version/flags``, a 4-byte type, then the picture."""
    if not data or len(data) < 8:
        return ()
    picture = data[8:] if data[4:8] in (b"jpeg", b"png ", b"bmp ") else data
    return (_compared("quicktime thmb", picture, None),)

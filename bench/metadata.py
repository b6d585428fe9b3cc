"""Field agreement of `provenance info` with ExifTool on every file of ../shared/media.

For each field both tools read a value for, the values are compared (numbers within a tolerance,
text after trimming, serials without leading zeros, dates as written); the agreement is the share of
such fields that agree.  Fields only one side reads are counted apart (what each reads that the
other does not).  Every disagreement is printed with both values.

    python bench/metadata.py                 # needs exiftool on PATH (Debian: libimage-exiftool-perl)
    python bench/metadata.py --json out.json

ExifTool is the baseline, run on the same files in the same run; its version is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metadata_fields import FIELDS  # bench/ is on the path when this file runs

from provenance.frames import detect_kind
from provenance.models import to_jsonable
from provenance.pipeline.ingest import describe
from provenance.report import metadata_sections

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
Record = dict[str, Any]


def exiftool(paths: list[Path]) -> dict[str, Record]:
    out = subprocess.run(
        ["exiftool", "-j", "-n", "-G1", "-a", "-ee", *map(str, paths)],
        capture_output=True,
        check=False,
        text=True,
    ).stdout
    return {Path(r["SourceFile"]).name: r for r in json.loads(out)}


def ours(path: Path) -> Record:
    info = describe(path, detect_kind(path), "0" * 64)
    record = to_jsonable(info, top=False)
    record.update(metadata_sections(info))
    return record


def first_gps_time(path: Path) -> str | None:
    """ExifTool's first telemetry GPSDateTime in file order (its JSON keeps one per document)."""
    out = subprocess.run(
        ["exiftool", "-ee", "-s3", "-GPSDateTime", str(path)], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    return out[0].strip() or None if out else None


def _row_text(row: dict[str, Any]) -> str:
    return f"  {row['file']:40} {row['field']:26} provenance={row['ours']!r} exiftool={row['exiftool']!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every comparison here")
    args = parser.parse_args()
    if shutil.which("exiftool") is None:
        sys.exit("exiftool is not installed (Debian: apt-get install libimage-exiftool-perl)")
    files = sorted(p for p in MEDIA.glob("*/*") if p.is_file() and p.name != "README.md")
    version = subprocess.run(["exiftool", "-ver"], capture_output=True, text=True, check=True).stdout.strip()
    started = time.perf_counter()
    theirs = exiftool(files)
    for path in files:
        record = theirs.get(path.name, {})
        if any(k.endswith(":GPSDateTime") and not k.startswith(("GPS:", "Composite:")) for k in record):
            record["first GPSDateTime"] = first_gps_time(path)
    exiftool_s = time.perf_counter() - started
    started = time.perf_counter()
    mine = {p.name: ours(p) for p in files}
    ours_s = time.perf_counter() - started
    both = agree = only_ours = only_theirs = 0
    rows: list[dict[str, Any]] = []
    per_field: dict[str, list[int]] = {}
    for name in sorted(mine):
        for field, get_ours, get_theirs, same in FIELDS:
            a, b = get_ours(mine[name]), get_theirs(theirs.get(name, {}))
            a = None if a in ("", [], {}) else a
            if a is None and b is None:
                continue
            if a is None or b is None:
                only_ours += b is None
                only_theirs += a is None
                rows.append({"file": name, "field": field, "ours": a, "exiftool": b, "status": "one side"})
                continue
            ok = bool(same(a, b))
            both += 1
            agree += ok
            per_field.setdefault(field, [0, 0])[0] += ok
            per_field[field][1] += 1
            rows.append(
                {
                    "file": name,
                    "field": field,
                    "ours": a,
                    "exiftool": b,
                    "status": "agree" if ok else "differ",
                }
            )
    print(
        f"ExifTool {version}; {len(files)} files; exiftool {exiftool_s:.1f} s, provenance {ours_s:.1f} s "
        f"({ours_s / exiftool_s:.2f}x)"
    )
    print(f"fields both read: {both}; agree: {agree} ({100 * agree / max(both, 1):.1f} %)")
    print(f"read only by provenance: {only_ours}; read only by ExifTool: {only_theirs}")
    for field, (ok, n) in per_field.items():
        print(f"  {field:28} {ok}/{n}")
    print("disagreements:")
    for row in rows:
        if row["status"] == "differ":
            print(_row_text(row))
    print("read by one side only:")
    for row in rows:
        if row["status"] == "one side":
            print(_row_text(row))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()

"""IPTC IIM (the newsroom record in JPEG APP13) in normalised form, from libexiv2's tags."""

from __future__ import annotations

from ..models import IptcInfo
from .exiv2 import Pairs

_FIELDS = {
    "headline": "Iptc.Application2.Headline",
    "caption": "Iptc.Application2.Caption",
    "city": "Iptc.Application2.City",
    "sublocation": "Iptc.Application2.SubLocation",
    "province_state": "Iptc.Application2.ProvinceState",
    "country": "Iptc.Application2.CountryName",
    "country_code": "Iptc.Application2.CountryCode",
    "byline": "Iptc.Application2.Byline",
    "credit": "Iptc.Application2.Credit",
    "source": "Iptc.Application2.Source",
    "copyright": "Iptc.Application2.Copyright",
    "object_name": "Iptc.Application2.ObjectName",
    "date_created": "Iptc.Application2.DateCreated",
    "time_created": "Iptc.Application2.TimeCreated",
}
# Record bookkeeping, not content: a file with only these says nothing.
_BOOKKEEPING = frozenset({"Iptc.Envelope.CharacterSet", "Iptc.Application2.RecordVersion"})


def iptc_info(pairs: Pairs) -> IptcInfo | None:
    if not any(k not in _BOOKKEEPING for k, _ in pairs):
        return None
    found: dict[str, str] = {}
    keywords: list[str] = []
    for key, value in pairs:
        base = key.split("[")[0]
        if base == "Iptc.Application2.Keywords":
            keywords.append(value)
        else:
            found.setdefault(base, value)
    return IptcInfo(
        keywords=tuple(keywords),
        properties=tuple((k, v) for k, v in pairs if k != "Iptc.Envelope.CharacterSet"),
        **{name: found.get(key) for name, key in _FIELDS.items()},
    )

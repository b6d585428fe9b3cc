"""XMP in normalised form: creator tool, document ids, the edit history, ingredients.

The packet is parsed by libexiv2 (`exiv2.py`); here its flat properties become an XmpInfo.  In
photos libexiv2 finds the packet itself; in videos the packet comes from the QuickTime ``XMP_``
atom or the MP4 XMP ``uuid`` box (`qtatoms.xmp_packet`).
"""

from __future__ import annotations

import re

from ..models import XmpEvent, XmpInfo
from .exiv2 import Pairs

_HISTORY = re.compile(r"^Xmp\.xmpMM\.History\[(\d+)\]/stEvt:(\w+)$")
_INGREDIENT = re.compile(
    r"^Xmp\.xmpMM\.(?:Ingredients|Pantry)\[\d+\]/(?:stRef:|xmpMM:)?(documentID|DocumentID|instanceID|InstanceID)$"
)
MAX_PROPERTIES = 500


def xmp_info(pairs: Pairs) -> XmpInfo | None:
    """The normalised XMP of a packet's properties; None when there are none."""
    if not pairs:
        return None
    found = dict(pairs)
    events: dict[int, dict[str, str]] = {}
    ingredients: list[str] = []
    for key, value in pairs:
        history = _HISTORY.match(key)
        if history:
            events.setdefault(int(history[1]), {})[history[2]] = value
        elif _INGREDIENT.match(key):
            ingredients.append(value)
    return XmpInfo(
        creator_tool=found.get("Xmp.xmp.CreatorTool"),
        document_id=found.get("Xmp.xmpMM.DocumentID"),
        instance_id=found.get("Xmp.xmpMM.InstanceID"),
        original_document_id=found.get("Xmp.xmpMM.OriginalDocumentID"),
        derived_from_document_id=found.get("Xmp.xmpMM.DerivedFrom/stRef:documentID"),
        derived_from_instance_id=found.get("Xmp.xmpMM.DerivedFrom/stRef:instanceID"),
        derived_from_original_document_id=found.get("Xmp.xmpMM.DerivedFrom/stRef:originalDocumentID"),
        create_date=found.get("Xmp.xmp.CreateDate"),
        modify_date=found.get("Xmp.xmp.ModifyDate"),
        metadata_date=found.get("Xmp.xmp.MetadataDate"),
        title=found.get("Xmp.dc.title") or found.get("Xmp.photoshop.Headline"),
        description=found.get("Xmp.dc.description"),
        history=tuple(_event(events[i]) for i in sorted(events)),
        ingredient_ids=tuple(dict.fromkeys(ingredients)),
        properties=pairs[:MAX_PROPERTIES],
    )


def _event(fields: dict[str, str]) -> XmpEvent:
    return XmpEvent(
        action=fields.get("action"),
        when=fields.get("when"),
        software_agent=fields.get("softwareAgent"),
        changed=fields.get("changed"),
        instance_id=fields.get("instanceID"),
        parameters=fields.get("parameters"),
    )


def document_ids(info: XmpInfo | None) -> frozenset[str]:
    """Every document/instance id this file names for itself or its sources (for linking copies)."""
    if info is None:
        return frozenset()
    ids = {
        info.document_id,
        info.instance_id,
        info.original_document_id,
        info.derived_from_document_id,
        info.derived_from_instance_id,
        info.derived_from_original_document_id,
        *info.ingredient_ids,
        *(e.instance_id for e in info.history),
    }
    return frozenset(i for i in ids if i)

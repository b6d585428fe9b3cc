"""Content Credentials (C2PA): the manifest store of a photo or video, read and validated by the C2PA
reference library (c2pa-python, the [c2pa] extra).

The one module that imports c2pa.  The reader never goes to the network: remote manifests and OCSP
revocation checks are off, so a file's credentials are judged by what it carries (signature, hashes
of the bytes, certificate chain).  The trust list is not configured either: a valid signature by a
signer nobody vouched for is ``Valid``, with ``signingCredential.untrusted`` among its failure codes;
a changed byte makes the hashes fail and the state ``Invalid``.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import MetadataError
from ..models import C2paAction, C2paInfo, C2paIngredient

PIP_LINE = "pip install 'provenance[c2pa]'"
MAX_BYTES = 2 * 1024**3  # the library streams the file; past this the store is not read
_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_MIME = {
    "jpeg": "image/jpeg",
    "mpo": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "tiff": "image/tiff",
    "gif": "image/gif",
    "mov": "video/quicktime",
    "mp4": "video/mp4",
    "avi": "video/avi",
}
_LOCK = threading.Lock()


@cache
def _c2pa() -> tuple[ModuleType, Any] | None:
    try:
        import c2pa
    except (ImportError, OSError):
        return None
    return c2pa, c2pa.Context.from_dict(_SETTINGS)


def available() -> bool:
    return _c2pa() is not None


def mime_type(container: str) -> str | None:
    return _MIME.get(container.lower())


def read_c2pa(path: Path, container: str) -> C2paInfo | None:
    """The active manifest and its validation; None when the file has no store or the extra is
    missing (``available()`` tells which); MetadataError when the store cannot be read."""
    loaded = _c2pa()
    mime = mime_type(container)
    if loaded is None or mime is None or path.stat().st_size > MAX_BYTES:
        return None
    c2pa, context = loaded
    with _LOCK, path.open("rb") as f:
        try:
            reader = c2pa.Reader.try_create(mime, f, context=context)
            if reader is None:
                return None
            with reader:
                store = json.loads(reader.json())
                state = reader.get_validation_state()
        except c2pa.C2paError as exc:
            if "unsupported" in str(exc).lower():
                return None
            raise MetadataError(f"the C2PA manifest store does not read: {str(exc)[:200]}") from None
        except (ValueError, json.JSONDecodeError) as exc:
            raise MetadataError(f"the C2PA manifest store is not valid JSON: {exc}") from None
    return c2pa_info(store, state)


def c2pa_info(store: dict[str, Any], state: str | None) -> C2paInfo:
    """The active manifest of a manifest store (the library's JSON) in normalised form."""
    manifests = store.get("manifests") or {}
    label = store.get("active_manifest")
    active = manifests.get(label) or {}
    signature = active.get("signature_info") or {}
    failures = [s.get("code") for s in store.get("validation_status") or [] if s.get("code")]
    return C2paInfo(
        manifests=len(manifests),
        active_manifest=label,
        claim_generator=_generator(active),
        title=active.get("title"),
        signer=signature.get("common_name"),
        signer_issuer=signature.get("issuer"),
        signing_time=signature.get("time"),
        signature_alg=signature.get("alg"),
        actions=tuple(_actions(active)),
        ingredients=tuple(_ingredient(i) for i in active.get("ingredients") or []),
        validation_state=state,
        validation_errors=tuple(dict.fromkeys(failures)),
    )


def _generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info") or []
    if info and isinstance(info[0], dict):
        name, version = info[0].get("name"), info[0].get("version")
        return f"{name} {version}" if name and version else name
    return manifest.get("claim_generator")


def _actions(manifest: dict[str, Any]) -> list[C2paAction]:
    found = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = " ".join(str(v) for v in (agent.get("name"), agent.get("version")) if v)
            found.append(
                C2paAction(
                    action=str(action.get("action")),
                    software_agent=agent,
                    when=action.get("when"),
                    digital_source_type=action.get("digitalSourceType"),
                )
            )
    return found


def _ingredient(ingredient: dict[str, Any]) -> C2paIngredient:
    return C2paIngredient(
        title=ingredient.get("title"),
        relationship=ingredient.get("relationship"),
        format=ingredient.get("format"),
        document_id=ingredient.get("document_id"),
        instance_id=ingredient.get("instance_id"),
    )

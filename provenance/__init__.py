"""provenance: archive, describe, fingerprint and match footage."""

__version__ = "0.1.0"

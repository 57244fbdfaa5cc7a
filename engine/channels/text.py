"""Byte-bounded text: cutting UTF-8 strings to a byte budget without splitting a character."""

from __future__ import annotations


def utf8_len(text: str) -> int:
    """The size of `text` in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def truncate_utf8(text: str, max_bytes: int, marker: str = "…") -> str:
    """Cut `text` to at most `max_bytes` UTF-8 bytes on a character boundary, ending with `marker` if cut."""
    if max_bytes < 0:
        raise ValueError("max_bytes must not be negative")
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max_bytes - utf8_len(marker)
    if room < 0:
        # Not even the marker fits: give as much of the marker as fits, still whole characters.
        return marker.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
    # "ignore" drops the partial multi-byte sequence that the slice may leave at the end.
    return data[:room].decode("utf-8", "ignore") + marker

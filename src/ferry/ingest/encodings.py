"""Which text encoding a bulk CSV is read with: a byte-order mark wins, else the one asked for, else UTF-8."""

from __future__ import annotations

import codecs
import re
from typing import IO

from ferry import errors
from ferry.errors import FerryError

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

# Bytes the codec could not decode come through as lone surrogates (the `surrogateescape` handler).
_UNDECODED = re.compile("[\udc80-\udcff]")


def _head(stream: IO[bytes]) -> bytes:
    """The first bytes of the stream, left unread."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        return bytes(peek(4)[:4])
    head = stream.read(4)
    stream.seek(-len(head), 1)
    return head


def choose_encoding(stream: IO[bytes], requested: str | None) -> str:
    """The codec for `stream`: its byte-order mark, else `requested`, else UTF-8 (a leading UTF-8 mark skipped)."""
    head = _head(stream)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if requested is None:
        return "utf-8-sig"
    try:
        return codecs.lookup(requested).name
    except LookupError:
        raise FerryError(errors.BAD_ENCODING, f"unknown encoding {requested!r}; use a Python codec name such "
                         "as utf-8, latin-1, cp1252 or utf-16") from None


def undecoded_bytes(cells: list[str], encoding: str) -> str | None:
    """Why a row's text is not `encoding`, naming the first byte that is not, or None when every cell decoded."""
    for cell in cells:
        found = _UNDECODED.search(cell)
        if found is not None:
            byte = ord(found.group()) - 0xDC00
            hint = " (latin-1 or cp1252?)" if byte >= 0x80 else ""
            return (f"byte 0x{byte:02x} is not {encoding} text; pass --encoding with the file's encoding{hint}, "
                    "or convert the file to UTF-8")
    return None

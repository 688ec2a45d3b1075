"""How deep a peer's JSON nests, found before it is parsed (sans-IO).

``json.loads`` recurses once per array or object: JSON nested deeper than the interpreter's
recursion limit raises ``RecursionError`` (not ``ValueError``), and the C scanner reaches that
depth quickly. A linear scan that counts brackets outside strings bounds the depth first, so a
hostile payload is refused with the protocol's error before the parser sees it.
"""

from __future__ import annotations

import re

__all__ = ["json_depth_exceeds"]

#: A JSON string (escapes included; an unterminated one runs to the end), or a bracket.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Do the arrays and objects of ``text`` nest deeper than ``limit``?

    Linear in ``len(text)``; brackets inside strings do not count. Malformed JSON is not
    judged (the parser that follows rejects it), but an unbalanced opening run counts as deep.
    """
    if text.count("[") + text.count("{") <= limit:  # the usual case: no scan at all
        return False
    depth = 0
    for match in _TOKEN.finditer(text):
        char = text[match.start()]
        if char == "[" or char == "{":
            depth += 1
            if depth > limit:
                return True
        elif char == "]" or char == "}":
            depth -= 1
    return False

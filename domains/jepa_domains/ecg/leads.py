"""The 12 standard ECG leads and the mapping of the many names records give them."""

from __future__ import annotations

import re

STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

_ALIASES = {
    "MLI": "I", "MLII": "II", "MLIII": "III",  # modified limb leads of Holter/MIT-BIH records
    "D1": "I", "D2": "II", "D3": "III", "DI": "I", "DII": "II", "DIII": "III",
    "AVR": "aVR", "AVL": "aVL", "AVF": "aVF",
}


def standard_lead(name: str) -> str | None:
    """The standard lead a signal name denotes (``'MLII' -> 'II'``, ``'avr' -> 'aVR'``), or ``None``."""
    key = re.sub(r"^(ECG|LEAD)[\s_-]*", "", name.strip().upper())
    key = re.sub(r"[\s_-]+", "", key)
    if key in _ALIASES:
        return _ALIASES[key]
    if key in {"I", "II", "III"} or re.fullmatch(r"V[1-6]", key):
        return key
    return None

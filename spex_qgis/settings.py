"""Typed access to the plugin's persistent settings (``QgsSettings`` keys under ``spex_qgis/``).

Every getter returns a sane default when the key is missing or holds garbage (settings files are
user-editable), so callers never have to validate what they read back.
"""

from __future__ import annotations

import json
import os
from typing import Dict, List

from qgis.core import QgsSettings

from model_runtime.options import DEVICES, ENGINES, PRECISIONS

PREFIX = "spex_qgis/"
PROMPT_HISTORY_MAX = 20

KEY_MODEL_DIR = "model_dir"
KEY_MODEL_BASE_DIR = "model_base_dir"
KEY_DEVICE = "device"
KEY_ENGINE = "engine"
KEY_PRECISION = "precision"
KEY_PROMPT_HISTORY = "prompt_history"
# Per raster file (an older per-sensor key, "band_mappings", is ignored: one file's edits leaked to others).
KEY_BAND_MAPPINGS = "band_mappings_by_file"
KEY_LAST_OUTPUT_DIR = "last_output_dir"


def _settings() -> QgsSettings:
    return QgsSettings()


def _get_str(key: str, default: str = "") -> str:
    value = _settings().value(PREFIX + key, default)
    return value if isinstance(value, str) else default


def _set_str(key: str, value: str | None) -> None:
    _settings().setValue(PREFIX + key, value or "")


def _get_json(key: str, default):
    text = _get_str(key)
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _set_json(key: str, value) -> None:
    # JSON text rather than QVariant lists/maps: the INI backend round-trips those inconsistently.
    _settings().setValue(PREFIX + key, json.dumps(value, ensure_ascii=False))


def model_dir() -> str:
    """The SPEX checkpoint folder chosen last ("" when never set)."""
    return _get_str(KEY_MODEL_DIR)


def set_model_dir(path: str | None) -> None:
    """Remember the SPEX checkpoint folder (``None``/"" clears it)."""
    _set_str(KEY_MODEL_DIR, path)


def model_base_dir() -> str:
    """The base model folder of a LoRA SPEX checkpoint ("" when unset: the usual merged checkpoint)."""
    return _get_str(KEY_MODEL_BASE_DIR)


def set_model_base_dir(path: str | None) -> None:
    """Remember the LoRA base model folder (``None``/"" clears it)."""
    _set_str(KEY_MODEL_BASE_DIR, path)


def device() -> str:
    """The SPEX engine device: ``auto`` (default), ``cpu``, ``cuda`` or ``cuda:N``."""
    value = _get_str(KEY_DEVICE, "auto").strip().lower()
    if value in DEVICES or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    return "auto"


def set_device(value: str) -> None:
    """Remember the compute device; raises ``ValueError`` for anything but auto/cpu/cuda/cuda:N."""
    value = (value or "auto").strip().lower()
    if not (value in DEVICES or (value.startswith("cuda:") and value[5:].isdigit())):
        raise ValueError(f"unknown device {value!r}: use auto, cpu, cuda or cuda:N")
    _set_str(KEY_DEVICE, value)


def precision() -> str:
    """The SPEX model precision: ``auto`` (default), ``fp32``, ``int8``, ``bf16`` or ``fp16``."""
    value = _get_str(KEY_PRECISION, "auto").strip().lower()
    return value if value in PRECISIONS else "auto"


def set_precision(value: str) -> None:
    """Remember the SPEX model precision; raises ``ValueError`` for a name not in :data:`PRECISIONS`."""
    value = (value or "auto").strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"unknown precision {value!r}: use one of {', '.join(PRECISIONS)}")
    _set_str(KEY_PRECISION, value)


def engine() -> str:
    """The engine chosen last: ``spectral`` (default) or ``spex``."""
    value = _get_str(KEY_ENGINE, "spectral")
    return value if value in ENGINES else "spectral"


def set_engine(value: str) -> None:
    """Remember the engine; raises ``ValueError`` for an unknown engine name."""
    if value not in ENGINES:
        raise ValueError(f"unknown engine {value!r}: use one of {', '.join(ENGINES)}")
    _set_str(KEY_ENGINE, value)


def prompt_history() -> List[str]:
    """Prompts used before, most recent first (at most :data:`PROMPT_HISTORY_MAX`)."""
    value = _get_json(KEY_PROMPT_HISTORY, [])
    if not isinstance(value, list):
        return []
    return [p for p in value if isinstance(p, str) and p.strip()][:PROMPT_HISTORY_MAX]


def add_prompt(prompt: str) -> List[str]:
    """Put ``prompt`` at the top of the history (moving it if already there) and return the new history."""
    prompt = (prompt or "").strip()
    history = prompt_history()
    if prompt:
        history = [prompt] + [p for p in history if p != prompt]
        history = history[:PROMPT_HISTORY_MAX]
        _set_json(KEY_PROMPT_HISTORY, history)
    return history


def clear_prompt_history() -> None:
    """Forget every remembered prompt."""
    _set_json(KEY_PROMPT_HISTORY, [])


def raster_key(source: str) -> str:
    """The key band mappings are remembered under: the raster's absolute file path (no provider options)."""
    path = (source or "").split("|")[0].strip()
    return os.path.normcase(os.path.abspath(path)) if path else ""


def band_mappings() -> Dict[str, Dict[str, int]]:
    """All remembered band mappings: ``{raster file: {role: 1-based band index, 0 = not used}}``."""
    value = _get_json(KEY_BAND_MAPPINGS, {})
    if not isinstance(value, dict):
        return {}
    clean: Dict[str, Dict[str, int]] = {}
    for key, mapping in value.items():
        if isinstance(mapping, dict):
            roles = {str(r): b for r, b in mapping.items() if type(b) is int and b >= 0}
            if roles:
                clean[str(key)] = roles
    return clean


def band_mapping(source: str) -> Dict[str, int]:
    """The band mapping the user set for the raster file ``source`` (empty dict when none)."""
    key = raster_key(source)
    return dict(band_mappings().get(key, {})) if key else {}


def set_band_mapping(source: str, mapping: Dict[str, int] | None) -> None:
    """Remember ``mapping`` ({role: 1-based band, 0 = not used}) for the raster file ``source``; an
    empty/None mapping forgets it."""
    key = raster_key(source)
    if not key:
        return
    all_mappings = band_mappings()
    mapping = {str(r): int(b) for r, b in (mapping or {}).items() if int(b) >= 0}
    if mapping:
        all_mappings[key] = mapping
    else:
        all_mappings.pop(key, None)
    _set_json(KEY_BAND_MAPPINGS, all_mappings)


def last_output_dir() -> str:
    """The folder of the last saved output ("" when never set)."""
    return _get_str(KEY_LAST_OUTPUT_DIR)


def set_last_output_dir(path: str | None) -> None:
    """Remember the folder of the last saved output."""
    _set_str(KEY_LAST_OUTPUT_DIR, path)


def clear_all() -> None:
    """Remove every ``spex_qgis/`` key (used by tests and a "reset settings" action)."""
    s = _settings()
    s.beginGroup(PREFIX.rstrip("/"))
    s.remove("")
    s.endGroup()

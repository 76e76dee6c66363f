"""Exceptions that reach the user.

Every error a user can cause (bad file, missing band, unknown target, existing output...) is a
:class:`SpexInputError` whose message is ONE line naming the problem and the fix. The CLI prints it and
exits with status 2; the QGIS plugin shows it in the message bar. Anything else is a bug.
"""


class SpexError(Exception):
    """Base class of the errors raised on purpose by :mod:`model_runtime`."""


class SpexInputError(SpexError):
    """Bad input from the user: one-line message with the problem and the fix (CLI exit status 2).

    ``option``: the option at fault (an ExtractRequest field name, see :mod:`model_runtime.options`), when
    one is; each front end names it in its own words (CLI flag, panel label, Processing parameter).
    """

    option = None

    def __init__(self, *args, option=None):
        super().__init__(*args)
        if option is not None:
            self.option = option


class ModelLoadError(SpexInputError):
    """The model folder is missing, incomplete or inconsistent (missing/unexpected keys, bad shapes...)."""


class DependencyMissingError(SpexInputError):
    """An optional package (torch, transformers, onnxruntime...) needed for the requested path is missing."""


class ExtractionCancelled(SpexError):
    """Raised from a progress/cancel checkpoint when the caller asked to stop."""

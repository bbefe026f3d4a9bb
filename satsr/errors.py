"""User-facing exceptions.

Every error a user can cause derives from :class:`SatsrError`. The CLI prints such errors as one
line (``error: <message>``) and exits with status 2; library users catch them like any exception.
Messages name the problem *and* the fix.
"""

from __future__ import annotations


class SatsrError(Exception):
    """Base class of every error caused by user input or environment (not a bug in satsr)."""


class SchemaError(SatsrError, ValueError):
    """A dataset does not follow the satsr sample schema; the message names the variable."""


class DatasetNotFoundError(SatsrError, FileNotFoundError):
    """A dataset or a file inside it is missing; the message says what to run or where to look."""


class WeightsNotFoundError(SatsrError, FileNotFoundError):
    """A weights file (or its sidecar, or its download) is missing; the message says where to look."""


class CorruptFileError(SatsrError, ValueError):
    """A file exists but cannot be decoded (truncated PNG, corrupt weights, ...)."""


class ModelNotFoundError(SatsrError, KeyError):
    """An unknown model name; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputValueError(SatsrError, ValueError):
    """Numerical input that cannot be scored or processed (NaN/inf, wrong shape, empty mask)."""


class ConfigError(SatsrError, ValueError):
    """An invalid option or combination of options."""


class IncompatibleWeightsError(ConfigError):
    """Weights trained on other data (band, sensor, scale, value scale) than the dataset at hand;
    the message names both sides and the override flag (``--allow-mismatch``)."""


class UnverifiedWeightsError(SatsrError, ValueError):
    """A weights sidecar records no sha256, so the tensors cannot be checked against tampering
    or corruption; the message names the override flag (``--trust-unverified``)."""

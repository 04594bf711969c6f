"""The data package's error type."""

from __future__ import annotations

from pro.errors import UserError


class DataError(UserError):
    """A data file (or data set row) the user has to fix: names the file, the row and the field."""

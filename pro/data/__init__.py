"""Preference data: one schema, local files, loaders for the public data sets, and what a stage reads
(:mod:`.inputs`: the train/held-out split, distinct prompts).

Importing this package loads no ML library; ``datasets`` is imported only when a hub-format
source is loaded.
"""

from pro.data.errors import DataError
from pro.data.schema import (
    PreferencePair,
    PromptRecord,
    read_pairs,
    read_prompts,
    write_pairs,
    write_prompts,
)
from pro.data.sources import load_preferences

__all__ = [
    "DataError",
    "PreferencePair",
    "PromptRecord",
    "load_preferences",
    "read_pairs",
    "read_prompts",
    "write_pairs",
    "write_prompts",
]

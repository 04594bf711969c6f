"""Models of the PRO core: backbones from specs, locally built tokenizers, reward scorers, the adapter,
and the Hugging Face trainer settings every training stage shares (:mod:`.training`).

Importing this package is cheap; torch and transformers load with the submodules.
"""

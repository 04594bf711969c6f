"""Models of the PRO core: backbones from specs, locally built tokenizers, reward scorers, the adapter.

Importing this package is cheap; torch and transformers load with the submodules.
"""

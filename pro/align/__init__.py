"""Policy-alignment algorithms, no entrypoints (the stages in :mod:`pro.stages` run them).

:mod:`.morlhf` (TRL GRPO/RLOO trainer factory on the combined reward of :mod:`.rewards`), :mod:`.wic`
(weight tags, exploration, offline targets, rejection sampling), :mod:`.weighting` (``w(x)`` from a
stage's weight settings), :mod:`.policy` (build, SFT-initialise, sample, save and load a policy),
:mod:`.card` (the typed ``policy.json``) and :mod:`.generation` (sampling with weights).  See
docs/alignment.md.
"""

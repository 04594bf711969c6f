"""Stage entrypoints, one module per stage, each exposing ``run(resource) -> dict[str, Any]`` (the metrics
``pro stage`` prints): :mod:`.reward` (RewardModelTraining), :mod:`.adapter` (AdapterTraining),
:mod:`.align` (PolicyAlignment; PRO-MORLHF, and :mod:`.wic` for PRO-WIC), :mod:`.evaluate`
(PolicyEvaluation).  :mod:`.runtime` is what they share (torchrun environment, progress, commit).

Each stage reads its inputs from the artifact store, runs under ``torchrun`` with any number of processes
(only rank 0 writes), and commits its output as an artifact with the spec's digest.  The algorithms
they run live below them (:mod:`pro.align`, :mod:`pro.weights`, :mod:`pro.eval`, :mod:`pro.models`).
"""

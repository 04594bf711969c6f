"""Training stages: reward models (:mod:`.reward`), target weights (:mod:`.targets`), the adapter (:mod:`.adapter`).

Each stage reads its inputs from the artifact store, trains under ``torchrun`` with any number of
processes (only rank 0 writes), and commits its output as an artifact with the spec's digest.
"""

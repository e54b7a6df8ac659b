"""Reproducible retraining: a declarative training spec -> a fitted model -> a compiled, registered candidate.

spec.py parses and digests the TOML spec, train.py builds and fits the estimator deterministically,
retrain.py compiles it with lineage and registers it as a candidate (never approved by its trainer).
"""

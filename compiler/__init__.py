"""Trained model -> verified, reproducible, content-addressed bundle (see compiler/bundle.py)."""

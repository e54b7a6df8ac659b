"""Model runners: one immutable model version ready to compute (feature program + ONNX session + schema)."""

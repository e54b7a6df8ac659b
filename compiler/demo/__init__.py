"""The demo credit-scoring data set and model, used by the demo, the tests and the benchmarks."""

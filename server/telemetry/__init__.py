"""In-process telemetry: latency histograms, drift counters, Prometheus exposition, and decision records."""

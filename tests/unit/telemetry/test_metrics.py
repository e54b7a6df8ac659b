"""The metric set: exact counts, cross-process aggregation through snapshots, Prometheus text."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from compiler.drift import BinnedReference, DriftReference
from compiler.schema import FeatureSpec, Schema
from server.telemetry import histogram as hist
from server.telemetry.metrics import Telemetry
from server.telemetry.prometheus import registry_for, start_http
from prometheus_client import generate_latest

KEY = ("m", 1, "d" * 64)


def _inputs() -> tuple[Schema, DriftReference]:
    schema = Schema((FeatureSpec("x", "numeric", -np.inf, np.inf, True, (), 0.0, 1.0),), 0.5, ("0", "1"))
    ref = DriftReference((BinnedReference("x", (0.5,), (0.5, 0.5), 0.0, 10),),
                         BinnedReference("score", (0.5,), (0.5, 0.5), 0.0, 10))
    return schema, ref


WORKER = """
import sys
from pathlib import Path
import numpy as np
from compiler.drift import BinnedReference, DriftReference
from compiler.schema import FeatureSpec, Schema
from server.telemetry.metrics import Telemetry
run_dir, name, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
schema = Schema((FeatureSpec("x", "numeric", -np.inf, np.inf, True, (), 0.0, 1.0),), 0.5, ("0", "1"))
ref = DriftReference((BinnedReference("x", (0.5,), (0.5, 0.5), 0.0, 10),),
                     BinnedReference("score", (0.5,), (0.5, 0.5), 0.0, 10))
t = Telemetry(run_dir, name)
m = t.runner(("m", 1, "d" * 64), schema, ref)
for i in range(n):
    m.served("champion", 1, 2, 3, 100 + i)
m.batch(np.full((n, 1), 0.25), np.full(n, 0.75, dtype=np.float32))
t.close()
"""


def test_aggregates_sum_every_worker(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), f"w{i}", str(100 * (i + 1))])
             for i in range(2)]
    assert [p.wait(120) for p in procs] == [0, 0]
    reader = Telemetry(tmp_path, "reader")
    local = reader.runner(KEY, *_inputs())
    local.count("champion", "OK", 5)
    (agg,) = reader.aggregates().values()
    assert agg.status["champion|OK"] == 305
    assert int(agg.latency["champion|total"].sum()) == 300
    stats = reader.stats("m")["versions"][0]
    assert stats["requests"] == {"champion|OK": 305}
    (version,) = reader.drift_report("m", "all")["versions"]
    score = next(f for f in version["figures"] if f["name"] == "score")
    assert score["count"] == 300 and score["actual"] == [0.0, 1.0]
    whole = (tmp_path / "w1.snap").read_bytes()
    (tmp_path / "w1.snap").write_bytes(whole[:-8])  # a torn or foreign file is skipped, never half counted
    (tmp_path / "w2.snap").write_bytes(b"not a snapshot")
    (agg,) = reader.aggregates().values()
    assert agg.status["champion|OK"] == 105


def test_prometheus_exposition_parses_and_buckets_are_cumulative(tmp_path: Path) -> None:
    t = Telemetry(None, "w0")
    m = t.runner(KEY, *_inputs())
    for v in (50, 150, 900, 20_000, 3_000_000):
        m.served("canary", 1, 2, 3, v)
    m.count("canary", "INVALID_ARGUMENT")
    m.batch(np.array([[0.1], [0.9]]), np.array([0.2, 0.8], dtype=np.float32))
    text = generate_latest(registry_for(t)).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    buckets = [s for s in families["scoregate_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["stage"] == "total"]
    values = [s.value for s in buckets]
    assert values == sorted(values) and buckets[-1].labels["le"] == "+Inf" and values[-1] == 5
    counts = {s.labels["code"]: s.value for s in families["scoregate_requests"].samples if s.name.endswith("_total")}
    assert counts == {"OK": 5.0, "INVALID_ARGUMENT": 1.0}
    assert any(s.labels["feature"] == "score" for s in families["scoregate_feature_psi"].samples)
    server, port = start_http(t, "127.0.0.1", 0)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "scoregate_requests_total" in body
    finally:
        server.shutdown()


def test_queued_counts_are_exact_under_concurrent_drains() -> None:
    """Producers on several threads queue while another thread drains and reads: nothing lost or counted twice."""
    t = Telemetry(None, "w0")
    m = t.runner(KEY, *_inputs())
    m.PENDING_MAX = 50  # the request path drains too, racing the reader
    rng = np.random.default_rng(7)
    per_thread = [rng.integers(0, 5_000, 3_000) for _ in range(3)]
    xs = [rng.random((3_000, 1)) for _ in range(3)]
    stop = threading.Event()

    def produce(k: int) -> None:
        for i, v in enumerate(per_thread[k].tolist()):
            m.served("champion" if i % 4 else "canary", 1, 2, 3, v)
            m.batch(xs[k][i:i + 1], np.array([0.75], dtype=np.float32))

    def read() -> None:
        while not stop.is_set():
            m.state()

    reader = threading.Thread(target=read)
    producers = [threading.Thread(target=produce, args=(k,)) for k in range(3)]
    reader.start()
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    stop.set()
    reader.join()
    st = m.state()
    values = np.concatenate(per_thread)
    canary = np.concatenate([v[::4] for v in per_thread])
    expected = np.bincount(hist.indices(values), minlength=hist.N_BUCKETS)
    got = st["latency"]["champion|total"] + st["latency"]["canary|total"]
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(st["latency"]["canary|total"], np.bincount(hist.indices(canary), minlength=hist.N_BUCKETS))
    assert st["status"] == {"champion|OK": 9_000 - len(canary), "canary|OK": len(canary)}
    assert int(st["batch_rows"].sum()) == 9_000 and int(st["latency"]["canary|queue"].sum()) == len(canary)
    x = np.concatenate(xs)[:, 0]
    (_, bins, _, _), (_, sbins, _, _) = m.layout.split(st["total"])
    assert bins.tolist() == [int((x < 0.5).sum()), int((x >= 0.5).sum())] and sbins.tolist() == [0, 9_000]


def test_batch_sizes_are_counted_from_the_computed_batches() -> None:
    """Each computed batch counts its size once, and every row and score goes to the drift counters."""
    t = Telemetry(None, "w0")
    m = t.runner(KEY, *_inputs())
    sizes = [1, 3, 1, 8, 250, 2]
    for n in sizes:
        m.batch(np.full((n, 1), 0.9), np.full(n, 0.1, dtype=np.float32))
    st = m.state()
    np.testing.assert_array_equal(st["batch_rows"], np.bincount(hist.indices(np.array(sizes)), minlength=hist.N_BUCKETS))
    (_, bins, _, _), (_, sbins, _, _) = m.layout.split(st["total"])
    assert bins.tolist() == [0, sum(sizes)] and sbins.tolist() == [sum(sizes), 0]


def test_single_row_batches_are_counted_in_bulk_and_mixed_drains_stay_exact() -> None:
    """A drain of only one-row batches counts them in one step (the common case); a drain mixing sizes, or a
    second drain, still counts every size exactly."""
    t = Telemetry(None, "w0")
    m = t.runner(KEY, *_inputs())
    sizes: list[int] = []
    for drain in ([1] * 500, [1, 2, 1, 1], [1] * 7, [3, 1]):
        for n in drain:
            m.batch(np.full((n, 1), 0.9), np.full(n, 0.1, dtype=np.float32))
        m.drain()
        sizes += drain
    st = m.state()
    expected = np.bincount(hist.indices(np.array(sizes)), minlength=hist.N_BUCKETS)
    np.testing.assert_array_equal(st["batch_rows"], expected)
    (_, bins, _, _), _ = m.layout.split(st["total"])
    assert bins.tolist() == [0, sum(sizes)]


def test_the_event_loop_drains_the_queues_without_a_reader() -> None:
    import asyncio

    async def main() -> None:
        t = Telemetry(None, "w0")
        m = t.runner(KEY, *_inputs())
        t.drain_on(asyncio.get_running_loop())
        for v in range(100):
            m.served("champion", 1, 2, 3, v)
        m.batch(np.array([[0.1], [0.9]]), np.array([0.2, 0.8], dtype=np.float32))
        await asyncio.sleep(t.DRAIN_S * 3)
        assert not any(m._served.values()) and not m._batches  # counted by the loop's own drain, not by a read
        (_, bins, _, _), (_, sbins, _, _) = m.layout.split(m.drift_counter.total)
        assert m._ok["champion"] == 100 and bins.tolist() == [1, 1] and sbins.tolist() == [1, 1]
        t.close()

    asyncio.run(main())

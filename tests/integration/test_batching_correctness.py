"""100,000 unique inputs from concurrent streams through the batcher: every reply carries the score of its
own request, and the drift counters equal an offline recount (PSI equal to a numpy reference)."""

from __future__ import annotations

import threading

import numpy as np

from server.api.v1 import scoring_pb2 as pb

MODEL = "credit-pd"
N = 100_000
STREAMS = 4


def test_unique_inputs_get_their_own_score_and_exact_drift_counts(home, start, rows, offline) -> None:
    base = rows[0]
    x = np.repeat(base[None, :], N, axis=0)
    x[:, 0] = 20_000.0 + np.arange(N)  # unique income per request
    x[:, 2] = (np.arange(N) % 997) / 997.0  # and utilisation, so scores differ widely
    expected = offline(x)
    assert np.unique(expected).size > N // 2
    running = start(home, max_batch_size=64, max_wait_us=2000, inline_max_rows=0)
    got = np.full(N, np.nan, dtype=np.float64)
    errors: list[str] = []

    def stream(k: int) -> None:
        ids = range(k, N, STREAMS)
        requests = (pb.ScoreRequest(model=MODEL, features=x[i], request_id=str(i)) for i in ids)
        try:
            for reply in running.stub().ScoreStream(requests, timeout=600):
                if reply.HasField("error"):
                    errors.append(reply.error.message)
                got[int(reply.request_id)] = reply.score
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(STREAMS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        runner = running.gateway.core.table.models[MODEL].champion.runner
        counts = runner.metrics.state()["total"]
        requests = running.gateway.telemetry.stats(MODEL)["versions"][0]["requests"]
    finally:
        running.stop()
    assert errors == []
    np.testing.assert_array_equal(got, expected.astype(np.float64))
    assert requests == {"champion|OK": N}
    _check_drift(runner, counts, x, expected)


def _check_drift(runner, counts: np.ndarray, x: np.ndarray, scores: np.ndarray) -> None:  # noqa: ANN001
    from compiler.drift import bin_index
    from server.telemetry.drift import figures

    layout, ref = runner.metrics.layout, runner.drift_ref
    split = layout.split(counts)
    for j, r in enumerate(ref.features):
        name, bins, nans, _ = split[j]
        offline = np.bincount(bin_index(x[:, j], np.array(r.edges)), minlength=len(r.edges) + 2)
        assert bins.tolist() == offline[:-1].tolist() and nans == offline[-1], name
    name, bins, _, _ = split[-1]
    assert bins.tolist() == np.bincount(bin_index(scores.astype(np.float64), np.array(ref.score.edges)),
                                        minlength=len(ref.score.edges) + 1).tolist()
    psis = {f["name"]: f["psi"] for f in figures(layout, counts)}
    for j, r in enumerate((*ref.features, ref.score)):
        values = x[:, j] if j < len(ref.features) else scores.astype(np.float64)
        v = values[~np.isnan(values)]
        if v.size == 0:  # all missing: no distribution to compare
            assert np.isnan(psis[r.name]), r.name
            continue
        actual = np.bincount(np.searchsorted(r.edges, v, side="right"), minlength=len(r.edges) + 1) / v.size
        a, e = np.maximum(actual, 1e-4), np.maximum(np.array(r.expected), 1e-4)
        assert abs(psis[r.name] - float(np.sum((a - e) * np.log(a / e)))) <= 1e-9, r.name

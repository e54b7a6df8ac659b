"""50,000 unique inputs through the batcher: every reply carries the score of its own request."""

from __future__ import annotations

import threading

import numpy as np

from server.api.v1 import scoring_pb2 as pb

MODEL = "credit-pd"
N = 50_000
STREAMS = 4


def test_fifty_thousand_unique_inputs_each_get_their_own_score(home, start, rows, offline) -> None:
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
        batches = running.gateway.core.table.models[MODEL].champion.batcher
        assert batches is not None
    finally:
        running.stop()
    assert errors == []
    np.testing.assert_array_equal(got, expected.astype(np.float64))

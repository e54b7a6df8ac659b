"""tritonclient's gRPC client, unchanged, against the real gateway (in a child process: tritonclient's
generated protos register the same `inference.*` names as ours, so both cannot live in one process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

CLIENT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tritonclient.grpc as triton
    url, rows = sys.argv[1], np.array(json.loads(sys.argv[2]))
    c = triton.InferenceServerClient(url)
    out = {"live": c.is_server_live(), "ready": c.is_server_ready(), "model_ready": c.is_model_ready("credit-pd")}
    meta = c.get_model_metadata("credit-pd")
    out["inputs"] = [(i.name, i.datatype, list(i.shape)) for i in meta.inputs]
    out["versions"] = list(meta.versions)
    for dtype in ("FP64", "FP32"):
        inp = triton.InferInput("input", list(rows.shape), dtype)
        inp.set_data_from_numpy(rows.astype(np.float64 if dtype == "FP64" else np.float32))
        res = c.infer("credit-pd", [inp], outputs=[triton.InferRequestedOutput("score"),
                                                     triton.InferRequestedOutput("decision")], request_id="t-1")
        out[dtype] = {"score": res.as_numpy("score").tolist(), "decision": res.as_numpy("decision").tolist(),
                      "id": res.get_response().id, "version": res.get_response().model_version}
    try:
        c.infer("nope", [inp])
    except Exception as exc:
        out["unknown"] = str(exc)
    print(json.dumps(out))
""")


def test_tritonclient_against_the_gateway(gateway, rows, offline) -> None:
    x = rows[:5]
    proc = subprocess.run([sys.executable, "-c", CLIENT, gateway.target, json.dumps(x.tolist())],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["live"] and out["ready"] and out["model_ready"]
    assert out["inputs"] == [["input", "FP64", [-1, 10]]] and out["versions"] == ["1"]
    np.testing.assert_array_equal(np.array(out["FP64"]["score"], dtype=np.float32), offline(x))
    np.testing.assert_array_equal(np.array(out["FP32"]["score"], dtype=np.float32),
                                  offline(x.astype(np.float32).astype(np.float64)))
    assert out["FP64"]["decision"] == (offline(x) >= 0.5).tolist()
    assert out["FP64"]["id"] == "t-1" and out["FP64"]["version"] == "1"
    assert "NOT_FOUND" in out["unknown"] or "not served" in out["unknown"]

"""The demo's second act: the feedback loop, end to end, on the running demo gateway.

Score a month of newer applications (a shifted population), post their outcomes (the generator's own
label relation stands in for the truth that arrives months later) over the Feedback RPC, print realised
performance against the training figures, retrain on the newer data from the declared training spec, have
a second person approve the challenger, and put it in shadow to compare it with the champion on live traffic.
Every step goes through the same code paths an operator would use (gRPC, registry, ledger).
"""

from __future__ import annotations

import asyncio
import importlib.resources
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from server.demo import APPROVER, MODEL

SPEC = Path(str(importlib.resources.files("compiler.demo") / "retrain.toml"))  # package data
BATCH = 500


@dataclass(frozen=True)
class LoopConfig:
    home: Path
    actor: str
    port: int
    admin_port: int
    applications: int = 2_000
    retrain_rows: int = 20_000
    shift: float = 0.5  # the newer population: more utilisation, inquiries and delinquency


async def run_loop(cfg: LoopConfig, say: Callable[[str], None]) -> None:
    import grpc

    from server.api.v1 import admin_pb2_grpc, feedback_pb2_grpc, scoring_pb2_grpc

    token = (cfg.home / "admin.token").read_text().strip().splitlines()[0]
    meta = (("authorization", f"Bearer {token}"), ("x-scoregate-actor", APPROVER))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cfg.port}") as scoring_ch, \
            grpc.aio.insecure_channel(f"127.0.0.1:{cfg.admin_port}") as admin_ch:
        scoring = scoring_pb2_grpc.ScoringStub(scoring_ch)
        admin = admin_pb2_grpc.AdminStub(admin_ch)
        feedback = feedback_pb2_grpc.FeedbackStub(admin_ch)
        say(f"7. feedback loop: scoring {cfg.applications:,} newer applications (ScoreBatch, {BATCH} rows a call) ...")
        run = time.strftime("%Y%m%dT%H%M%S")  # request ids stay unique when the demo runs again
        ids, labels = await _score_applications(scoring, cfg, seed=2027, prefix=f"demo-{run}-month-1")
        reply = await _post_outcomes(feedback, ids, labels, meta)
        say(f"8. outcomes posted over RecordOutcomes: {reply.accepted} accepted, {reply.duplicates} duplicates, "
            f"{len(reply.errors)} refused (bad rate {np.mean(labels):.1%})")
        _performance(cfg, say)
        version = await asyncio.get_running_loop().run_in_executor(None, _retrain, cfg, say)
        await _shadow(admin, scoring, cfg, version, meta, say, f"demo-{run}-month-2")


async def _score_applications(stub: Any, cfg: LoopConfig, seed: int, prefix: str) -> tuple[list[str], np.ndarray]:
    from compiler.demo.data import FEATURES, LABEL, generate
    from server.api.v1 import scoring_pb2 as pb

    df = generate(cfg.applications, seed=seed, shift=cfg.shift)
    x = df[list(FEATURES)].to_numpy(dtype=np.float64)
    ids: list[str] = []
    for start in range(0, len(x), BATCH):
        rows = x[start:start + BATCH]
        rid = f"{prefix}-{start // BATCH}"
        await stub.ScoreBatch(pb.ScoreBatchRequest(model=MODEL, rows=rows.shape[0], request_id=rid, entity_key=rid,
                                                   raw_values=rows.astype("<f8").tobytes()), timeout=30)
        ids += [f"{rid}/{i}" for i in range(rows.shape[0])]  # a batch row's decision record id
    return ids, df[LABEL].to_numpy()


async def _post_outcomes(stub: Any, ids: list[str], labels: np.ndarray, meta: Any) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    from server.api.v1 import feedback_pb2 as fb

    now = Timestamp()
    now.GetCurrentTime()
    outcomes = [fb.Outcome(request_id=r, label=int(y), observed_time=now) for r, y in zip(ids, labels)]
    return await stub.RecordOutcomes(fb.RecordOutcomesRequest(outcomes=outcomes, source="demo:collections"),
                                     timeout=60, metadata=meta)


def _performance(cfg: LoopConfig, say: Callable[[str], None]) -> None:
    from registry.outcomes import OutcomeStore
    from registry.performance import report
    from registry.service import Registry

    reg, store = Registry(cfg.home), OutcomeStore(cfg.home)
    try:
        training = {v.version: dict(v.metrics) for v in reg.versions(MODEL)}
        rep = report(MODEL, store.joined(MODEL), "route", training)
    finally:
        store.close()
        reg.close()
    say("9. realised performance (scoregate performance credit-pd):")
    for g in rep["groups"]:
        say(f"   v{g['version']} {g['route']}: {g['count']} outcomes, bad rate {g['bad_rate']:.3f}, "
            f"AUC {g['auc']:.4f} (training {g['training']['auc']:.4f}), KS {g['ks']:.4f}, Brier {g['brier']:.4f}")


def _retrain(cfg: LoopConfig, say: Callable[[str], None]) -> int:
    """Retrain on newer data from the declared spec; register as the actor, approve as a second person."""
    from compiler.demo.data import generate
    from compiler.training.retrain import build_candidate, describe, resolve_parent
    from compiler.training.spec import load_spec
    from registry.service import Registry

    data = cfg.home / "demo" / "newer_applications.csv"
    generate(cfg.retrain_rows, seed=2028, shift=cfg.shift).to_csv(data, index=False)
    reg = Registry(cfg.home)
    try:
        parent = resolve_parent(reg, MODEL, None)
        out = cfg.home / "demo" / "retrained"
        if out.exists():
            import shutil

            shutil.rmtree(out)  # the demo's own scratch directory
        candidate = build_candidate(load_spec(SPEC), data, out, MODEL, parent)
        existing = [v for v in reg.versions(MODEL) if v.digest == candidate.compiled.digest]
        mv = existing[0] if existing else reg.register(out, MODEL, cfg.actor, description=describe(candidate),
                                                       parent=parent.version if parent else None)
        say(f"10. retrained from {SPEC.name} on {cfg.retrain_rows:,} newer rows: {MODEL} v{mv.version} "
            f"(digest {mv.digest[:16]}…, parent v{mv.parent_version}), registered by {mv.registered_by}")
        say("    " + candidate.compiled.parity.summary())
        if mv.state == "registered":
            approver = APPROVER if cfg.actor != APPROVER else f"{APPROVER}-2"
            mv = reg.approve(MODEL, mv.version, approver, comment="demo: challenger approved for shadow (four-eyes)")
        say(f"    approved by {mv.reviewed_by} (not the person who retrained it)")
        return mv.version
    finally:
        reg.close()


async def _shadow(admin: Any, scoring: Any, cfg: LoopConfig, version: int, meta: Any,
                  say: Callable[[str], None], prefix: str) -> None:
    from google.protobuf.json_format import MessageToDict

    from server.api.v1 import admin_pb2

    await admin.SetShadow(admin_pb2.SetShadowRequest(model=MODEL, version=version, sample=1.0,
                                                     reason="demo: challenger in shadow"), timeout=10, metadata=meta)
    say(f"11. v{version} in shadow at 100% (rollout shadow); scoring another {cfg.applications:,} applications ...")
    await asyncio.sleep(0.5)  # the gateway converges on the new routing within its poll interval
    await _score_applications(scoring, cfg, seed=2029, prefix=prefix)
    deadline = time.monotonic() + 15
    shadow: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = MessageToDict((await admin.GetRollout(admin_pb2.ModelAction(model=MODEL), timeout=10,
                                                       metadata=meta)).status)
        shadows = (status.get("guard") or {}).get("shadows") or []
        shadow = next((s for s in shadows if int(s["version"]) == version), {})
        if shadow and int(shadow.get("scored", 0)) + int(shadow.get("dropped", 0)) >= cfg.applications:
            break
        await asyncio.sleep(0.3)
    if shadow:
        say(f"    shadow v{version} vs champion: {int(shadow['scored'])} compared, decision flips "
            f"{shadow['flip_rate']:.2%}, |score delta| p50 {shadow['delta_p50']:.4f} p99 {shadow['delta_p99']:.4f}"
            f" [{shadow['state']}]")
    say(f"    next: scoregate rollout start {MODEL} --version {version} --weight 5 --steps 5,25,50,100 "
        "--step-after 10m")

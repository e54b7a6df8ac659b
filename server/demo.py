"""The demo: the main job end to end on the embedded default (a SQLite registry under --home).

Build the demo credit model and compile it (parity proven), register it, approve it as a second person
(four-eyes), deploy it as champion, start the gateway, score sample requests over real gRPC and print the
replies, then keep serving (or stop, with --once).
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from compiler.build import CompileOptions, CompileResult, compile_model

MODEL = "credit-pd"
APPROVER = "risk-officer"


@dataclass(frozen=True)
class DemoConfig:
    home: Path
    actor: str
    port: int = 50051
    once: bool = False
    sample_rows: int = 5_000
    loop: bool = True  # the feedback loop (server/demo_loop.py) after the sample requests


def compile_demo(config: DemoConfig, say: Callable[[str], None] = print) -> CompileResult:
    from compiler.demo.data import LABEL, generate
    from compiler.demo.model import CONSTRAINTS, train

    say("1. training the demo credit model (synthetic data, fixed seed) ...")
    model = train()
    sample = generate(config.sample_rows, seed=11)
    out = config.home / "demo" / "bundle"
    if out.exists():
        shutil.rmtree(out)  # the demo's own scratch directory
    result = compile_model(model, sample, out, CompileOptions(
        label=LABEL, constraints=CONSTRAINTS, description="demo: probability of default, retail credit"))
    say(f"2. compiled bundle {result.path} (digest {result.digest[:16]}…)")
    say("   " + result.parity.summary())
    metrics = result.manifest["metrics"]
    say("   sample metrics: " + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("auc", "gini", "ks", "brier")))
    return result


def govern_demo(config: DemoConfig, result: CompileResult, say: Callable[[str], None] = print) -> int:
    """Register (as the actor), approve (as a second person), deploy as champion; idempotent across runs."""
    from registry.service import Registry

    approver = APPROVER if config.actor != APPROVER else f"{APPROVER}-2"
    registry = Registry(config.home)
    try:
        existing = [v for v in registry.versions() if v.model == MODEL and v.digest == result.digest]
        mv = existing[0] if existing else registry.register(result.path, MODEL, config.actor,
                                                            description="demo: probability of default")
        say(f"3. registered {MODEL} v{mv.version} by {mv.registered_by}")
        if mv.state == "registered":
            mv = registry.approve(MODEL, mv.version, approver, comment="demo approval (four-eyes)")
        say(f"4. approved by {approver} (a different person: four-eyes)")
        registry.set_deployment(MODEL, approver, "demo deployment", champion=mv.version)
        say(f"5. deployed v{mv.version} as champion (routing revision {registry.routing_revision()})")
        return mv.version
    finally:
        registry.close()


async def _score_samples(port: int, say: Callable[[str], None]) -> None:
    import grpc

    from compiler.demo.data import FEATURES, generate
    from server.api.v1 import scoring_pb2 as pb
    from server.api.v1 import scoring_pb2_grpc

    rows = generate(5, seed=2026)[list(FEATURES)].to_numpy()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = scoring_pb2_grpc.ScoringStub(channel)
        for i, row in enumerate(rows):
            reply = await stub.Score(pb.ScoreRequest(model=MODEL, features=row, entity_key=f"customer-{i}",
                                                     request_id=f"demo-{i}"), timeout=5)
            say(f"   {reply.request_id}: score {reply.score:.4f} decision {'DECLINE' if reply.decision else 'accept'}"
                f"  ({reply.model} v{reply.version}, {reply.route})")
        bad = rows[0].copy()
        bad[1] = 12.0  # age below the allowed minimum
        try:
            await stub.Score(pb.ScoreRequest(model=MODEL, features=bad), timeout=5)
        except grpc.aio.AioRpcError as exc:
            say(f"   a bad request is refused: {exc.code().name}: {exc.details()}")


async def _serve(config: DemoConfig, say: Callable[[str], None]) -> None:
    from server.app import serve_forever, Gateway
    from server.config import ServeConfig
    from server.control.source import RegistrySource

    side = {"admin_port": 0, "metrics_port": 0} if config.port == 0 else {}  # a throwaway demo takes any ports
    serve_config = ServeConfig(port=config.port, **side).validate()
    if config.once:
        gateway = Gateway(serve_config, RegistrySource(config.home))
        port = await gateway.start()
        say(f"6. gateway serving on 127.0.0.1:{port}; scoring sample requests over gRPC:")
        try:
            await _score_samples(port, say)
            await _loop(config, port, gateway.admin_port, say)
        finally:
            await gateway.stop(1.0)
        return

    async def announce(port: int, admin_port: int) -> None:
        say(f"6. gateway serving on 127.0.0.1:{port}; scoring sample requests over gRPC:")
        await _score_samples(port, say)
        await _loop(config, port, admin_port, say)
        row = "52000,41,0.35,nan,4,1,0.3,9000,60,1"  # schema order; nan = never delinquent
        say(f"serving until Ctrl-C. Try: scoregate score --model {MODEL} --target 127.0.0.1:{port} --features {row}")

    await serve_forever(serve_config, RegistrySource(config.home),
                        lambda port, admin_port, *_: asyncio.get_running_loop().create_task(announce(port, admin_port)))


async def _loop(config: DemoConfig, port: int, admin_port: int, say: Callable[[str], None]) -> None:
    if not config.loop or admin_port <= 0:
        return
    from server.demo_loop import LoopConfig, run_loop

    await run_loop(LoopConfig(config.home, config.actor, port, admin_port), say)


def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> None:
    result = compile_demo(config, say)
    govern_demo(config, result, say)
    asyncio.run(_serve(config, say))

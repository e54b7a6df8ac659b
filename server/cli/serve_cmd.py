"""`scoregate serve` and `scoregate score`: run the gateway; call it once from the shell."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from server.cli.context import CliContext, emit_json, pass_cli


def _announce(host: str, workers: int):  # noqa: ANN202
    def announce(port: int, admin_port: int, metrics_port: int) -> None:
        sys.stdout.write(f"scoregate listening on {host}:{port} ({workers} worker{'s' if workers > 1 else ''}); "
                         f"admin port {admin_port}, metrics port {metrics_port}\n")
        sys.stdout.flush()
    return announce


@click.command("serve")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML file with a [serve] table")
@click.option("--host")
@click.option("--port", type=int, help="0 picks a free port (printed at start)")
@click.option("--workers", type=int, help="Processes sharing the port (SO_REUSEPORT)")
@click.option("--max-batch-size", type=int)
@click.option("--max-wait-us", type=int)
@click.option("--max-queue", type=int)
@click.option("--inline-max-rows", type=int)
@click.option("--max-concurrent-rpcs", type=int)
@click.option("--token-file", help="Bearer tokens for scoring calls, one per line")
@click.option("--tls-cert")
@click.option("--tls-key")
@click.option("--tls-client-ca", help="Require client certificates signed by this CA (mutual TLS)")
@click.option("--admin-port", type=int, help="Admin API port (-1 = off)")
@click.option("--metrics-port", type=int, help="Prometheus /metrics port (-1 = off)")
@click.option("--decision-log", help="all | sample:RATE | off")
@click.option("--decision-fsync", help="group | interval:SECONDS")
@click.option("--telemetry/--no-telemetry", default=None, help="Latency and drift counters (default on)")
@click.option("--log-level", default="INFO", show_default=True)
@pass_cli
def serve_command(cli: CliContext, config_file: Path | None, log_level: str, **flags: object) -> None:
    """Serve every model whose deployment has an approved champion, following registry changes live."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from server.config import load_config
    from server.control.source import RegistrySource
    from server.workers import run_workers

    config = load_config(config_file, overrides=flags)
    if not (cli.home / "registry.db").exists():
        from compiler.errors import NotFound

        raise NotFound(f"no registry under {cli.home}; register and deploy a model first (or run `scoregate demo`)")
    from server.app import new_run_dir
    from server.security import admin_tokens

    if config.admin_port >= 0:
        admin_tokens(config, cli.home)  # made once here, before the workers fork

    run_workers(config, lambda: RegistrySource(cli.home), _announce(config.host, config.workers),
                new_run_dir(cli.home))


def _parse_features(features: str | None, named: str | None) -> tuple[list[float], dict[str, float]]:
    from compiler.errors import InvalidInput

    try:
        values = [float(v) for v in features.split(",")] if features else []
        pairs = dict(p.split("=", 1) for p in named.split(",")) if named else {}
        return values, {k.strip(): float(v) for k, v in pairs.items()}
    except ValueError as exc:
        raise InvalidInput(f"--features/--named: expected numbers like 1.5,2,nan or name=1.5 ({exc})") from exc


@click.command("score")
@click.option("--model", required=True)
@click.option("--features", help="Comma-separated values in schema order (see `scoregate registry show`)")
@click.option("--named", help="name=value,... for every feature")
@click.option("--entity", default="", help="Entity key (customer/account) for sticky routing")
@click.option("--target", default="127.0.0.1:50051", show_default=True)
@click.option("--token", envvar="SCOREGATE_TOKEN", help="Bearer token, if the gateway requires one")
@click.option("--timeout", type=float, default=5.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def score_command(model: str, features: str | None, named: str | None, entity: str, target: str, token: str | None,
                  timeout: float, as_json: bool) -> None:
    """Score one entity against a running gateway and print the reply."""
    import grpc
    from google.protobuf.json_format import MessageToDict

    from server.api.v1 import scoring_pb2 as pb
    from server.api.v1 import scoring_pb2_grpc

    values, named_values = _parse_features(features, named)
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with grpc.insecure_channel(target) as channel:
        stub = scoring_pb2_grpc.ScoringStub(channel)
        try:
            reply = stub.Score(pb.ScoreRequest(model=model, features=values, named_features=named_values,
                                               entity_key=entity), timeout=timeout, metadata=metadata)
        except grpc.RpcError as exc:
            raise click.ClickException(f"{exc.code().name}: {exc.details()}") from None
    if as_json:
        emit_json(MessageToDict(reply, preserving_proto_field_name=True))
    else:
        click.echo(f"{reply.model} v{reply.version} ({reply.route})  score {reply.score:.6f}  "
                   f"decision {'YES' if reply.decision else 'no'} (threshold {reply.threshold:g})  "
                   f"request {reply.request_id}")


commands = [serve_command, score_command]

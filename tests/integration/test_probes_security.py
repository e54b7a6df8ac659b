"""Health and reflection for probes and grpcurl; bearer tokens; TLS and mutual TLS with certificates made here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from server.api.v1 import scoring_pb2 as pb
from server.api.v1 import scoring_pb2_grpc

MODEL = "credit-pd"


def test_health_overall_and_per_model(gateway) -> None:
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(gateway.target))
    for service in ("", MODEL):
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == \
            health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as info:
        health.Check(health_pb2.HealthCheckRequest(service="unknown-model"), timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_reports_not_serving_when_stopping(home, start) -> None:
    running = start(home)
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(running.target))
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    running.stop()
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_reflection_lists_services_and_files(gateway) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(grpc.insecure_channel(gateway.target))
    replies = list(stub.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="scoregate.v1.Scoring"),
    ]), timeout=5))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"scoregate.v1.Scoring", "inference.GRPCInferenceService", "grpc.health.v1.Health"} <= names
    assert replies[1].file_descriptor_response.file_descriptor_proto


def test_bearer_token(home, start, rows, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("s3cret-token\n")
    running = start(home, token_file=str(tokens))
    try:
        stub = running.stub()
        req = pb.ScoreRequest(model=MODEL, features=rows[0])
        for metadata in (None, [("authorization", "Bearer wrong")], [("authorization", "s3cret-token")]):
            with pytest.raises(grpc.RpcError) as info:
                stub.Score(req, timeout=5, metadata=metadata)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "bearer token" in info.value.details()
        ok = stub.Score(req, timeout=5, metadata=[("authorization", "Bearer s3cret-token")])
        assert ok.version == 1
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(running.target))
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    finally:
        running.stop()


def _certs(tmp_path: Path) -> dict[str, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def make(name: str, issuer=None, issuer_key=None, ca: bool = False, san: str | None = None):  # noqa: ANN001, ANN202
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        return cert, key

    def write(stem: str, cert, key) -> tuple[Path, Path]:  # noqa: ANN001
        c, k = tmp_path / f"{stem}.pem", tmp_path / f"{stem}.key"
        c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        return c, k

    ca, ca_key = make("scoregate-test-ca", ca=True)
    other_ca, other_key = make("someone-else", ca=True)
    server, server_key = make("localhost", ca.subject, ca_key, san="localhost")
    client, client_key = make("core-banking", ca.subject, ca_key)
    paths = {}
    paths["ca"], _ = write("ca", ca, ca_key)
    paths["other_ca"], _ = write("other", other_ca, other_key)
    paths["server"], paths["server_key"] = write("server", server, server_key)
    paths["client"], paths["client_key"] = write("client", client, client_key)
    return paths


def _tls_stub(port: int, root: Path, cert: Path | None = None, key: Path | None = None):  # noqa: ANN202
    creds = grpc.ssl_channel_credentials(root.read_bytes(), key.read_bytes() if key else None,
                                         cert.read_bytes() if cert else None)
    channel = grpc.secure_channel(f"localhost:{port}", creds)
    return scoring_pb2_grpc.ScoringStub(channel)


def test_tls(home, start, rows, tmp_path: Path) -> None:
    c = _certs(tmp_path)
    running = start(home, tls_cert=str(c["server"]), tls_key=str(c["server_key"]))
    try:
        req = pb.ScoreRequest(model=MODEL, features=rows[0])
        assert _tls_stub(running.port, c["ca"]).Score(req, timeout=5).version == 1
        with pytest.raises(grpc.RpcError) as info:
            _tls_stub(running.port, c["other_ca"]).Score(req, timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        running.stop()


def test_mutual_tls(home, start, rows, tmp_path: Path) -> None:
    c = _certs(tmp_path)
    running = start(home, tls_cert=str(c["server"]), tls_key=str(c["server_key"]), tls_client_ca=str(c["ca"]))
    try:
        req = pb.ScoreRequest(model=MODEL, features=rows[0])
        with pytest.raises(grpc.RpcError) as info:
            _tls_stub(running.port, c["ca"]).Score(req, timeout=5)  # no client certificate
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        stub = _tls_stub(running.port, c["ca"], c["client"], c["client_key"])
        assert stub.Score(req, timeout=5).version == 1
    finally:
        running.stop()

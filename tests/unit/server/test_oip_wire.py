"""Our OIP proto is wire-compatible with tritonclient's: same package, service, method paths, message names,
and for every field the same number, type, label and oneof.

tritonclient's descriptors are read in a subprocess: its service_pb2 defines the same `inference.*` symbols,
which protobuf's default pool refuses to hold twice in one process.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor

from server.api.oip import grpc_predict_v2_pb2 as pb



def describe(file: FileDescriptor) -> dict:
    """Messages (with nested and map-entry types) and methods of a file, keyed by full name."""
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    messages: dict[str, list] = {}

    def walk(msg: descriptor_pb2.DescriptorProto, prefix: str) -> None:
        name = f"{prefix}.{msg.name}"
        messages[name] = sorted(
            [f.name, f.number, f.type, f.label, f.type_name,
             msg.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else ""] for f in msg.field)
        for nested in msg.nested_type:
            walk(nested, name)

    for msg in proto.message_type:
        walk(msg, f".{proto.package}")
    methods = {f"/{proto.package}.{s.name}/{m.name}": [m.input_type, m.output_type, m.client_streaming,
                                                        m.server_streaming] for s in proto.service for m in s.method}
    return {"package": proto.package, "messages": messages, "methods": methods}


DUMP = f"""
from __future__ import annotations
import json
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor
from tritonclient.grpc import service_pb2
{inspect.getsource(describe)}
print(json.dumps(describe(service_pb2.DESCRIPTOR)))
"""


def test_same_wire_contract_as_tritonclient() -> None:
    done = subprocess.run([sys.executable, "-c", DUMP], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    triton, ours = json.loads(done.stdout), describe(pb.DESCRIPTOR)
    assert ours["package"] == triton["package"] == "inference"
    assert len(ours["methods"]) == 6
    for path, signature in ours["methods"].items():
        assert triton["methods"].get(path) == signature, path
    assert len(ours["messages"]) >= 20
    for name, fields in ours["messages"].items():
        assert triton["messages"].get(name) == fields, name


def test_infer_parameter_has_the_five_choices() -> None:
    fields = {f.name: f.number for f in pb.InferParameter.DESCRIPTOR.oneofs_by_name["parameter_choice"].fields}
    assert fields == {"bool_param": 1, "int64_param": 2, "string_param": 3, "double_param": 4, "uint64_param": 5}
    assert pb.ModelInferRequest.DESCRIPTOR.fields_by_name["raw_input_contents"].number == 7
    assert pb.ModelInferResponse.DESCRIPTOR.fields_by_name["raw_output_contents"].number == 6

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartRolloutRequest(_message.Message):
    __slots__ = ("model", "version", "weight", "reason", "steps", "step_after", "guardrails")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STEP_AFTER_FIELD_NUMBER: _ClassVar[int]
    GUARDRAILS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    weight: float
    reason: str
    steps: _containers.RepeatedScalarFieldContainer[float]
    step_after: str
    guardrails: _struct_pb2.Struct
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., weight: _Optional[float] = ..., reason: _Optional[str] = ..., steps: _Optional[_Iterable[float]] = ..., step_after: _Optional[str] = ..., guardrails: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StepRolloutRequest(_message.Message):
    __slots__ = ("model", "weight", "reason")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model: str
    weight: float
    reason: str
    def __init__(self, model: _Optional[str] = ..., weight: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class ModelAction(_message.Message):
    __slots__ = ("model", "reason")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model: str
    reason: str
    def __init__(self, model: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SetShadowRequest(_message.Message):
    __slots__ = ("model", "version", "sample", "off", "reason")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    OFF_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    sample: float
    off: bool
    reason: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., sample: _Optional[float] = ..., off: bool = ..., reason: _Optional[str] = ...) -> None: ...

class RolloutStatus(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _struct_pb2.Struct
    def __init__(self, status: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class StatsReply(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _struct_pb2.Struct
    def __init__(self, stats: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DriftRequest(_message.Message):
    __slots__ = ("model", "window")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    model: str
    window: str
    def __init__(self, model: _Optional[str] = ..., window: _Optional[str] = ...) -> None: ...

class DriftReply(_message.Message):
    __slots__ = ("drift",)
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    drift: _struct_pb2.Struct
    def __init__(self, drift: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

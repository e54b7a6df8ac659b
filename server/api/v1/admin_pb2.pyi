from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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

from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FP64: _ClassVar[DType]
    FP32: _ClassVar[DType]
FP64: DType
FP32: DType

class ScoreRequest(_message.Message):
    __slots__ = ("model", "request_id", "entity_key", "features", "named_features")
    class NamedFeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    NAMED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    model: str
    request_id: str
    entity_key: str
    features: _containers.RepeatedScalarFieldContainer[float]
    named_features: _containers.ScalarMap[str, float]
    def __init__(self, model: _Optional[str] = ..., request_id: _Optional[str] = ..., entity_key: _Optional[str] = ..., features: _Optional[_Iterable[float]] = ..., named_features: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("request_id", "model", "version", "route", "score", "decision", "threshold", "bundle_digest", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    version: int
    route: str
    score: float
    decision: bool
    threshold: float
    bundle_digest: str
    error: ErrorDetail
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., route: _Optional[str] = ..., score: _Optional[float] = ..., decision: bool = ..., threshold: _Optional[float] = ..., bundle_digest: _Optional[str] = ..., error: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ScoreBatchRequest(_message.Message):
    __slots__ = ("model", "request_id", "entity_key", "rows", "values", "raw_values", "dtype")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    RAW_VALUES_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    model: str
    request_id: str
    entity_key: str
    rows: int
    values: _containers.RepeatedScalarFieldContainer[float]
    raw_values: bytes
    dtype: DType
    def __init__(self, model: _Optional[str] = ..., request_id: _Optional[str] = ..., entity_key: _Optional[str] = ..., rows: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., raw_values: _Optional[bytes] = ..., dtype: _Optional[_Union[DType, str]] = ...) -> None: ...

class ScoreBatchReply(_message.Message):
    __slots__ = ("request_id", "model", "version", "route", "scores", "decisions", "threshold", "bundle_digest")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    version: int
    route: str
    scores: _containers.RepeatedScalarFieldContainer[float]
    decisions: _containers.RepeatedScalarFieldContainer[bool]
    threshold: float
    bundle_digest: str
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., route: _Optional[str] = ..., scores: _Optional[_Iterable[float]] = ..., decisions: _Optional[_Iterable[bool]] = ..., threshold: _Optional[float] = ..., bundle_digest: _Optional[str] = ...) -> None: ...

class ModelInfoRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class FeatureInfo(_message.Message):
    __slots__ = ("name", "index", "kind", "dtype", "min", "max", "nan_allowed", "categories")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    NAN_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    kind: str
    dtype: str
    min: float
    max: float
    nan_allowed: bool
    categories: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., kind: _Optional[str] = ..., dtype: _Optional[str] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., nan_allowed: bool = ..., categories: _Optional[_Iterable[float]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("model", "version", "bundle_digest", "features", "threshold", "score_name", "max_batch_rows")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SCORE_NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_ROWS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    bundle_digest: str
    features: _containers.RepeatedCompositeFieldContainer[FeatureInfo]
    threshold: float
    score_name: str
    max_batch_rows: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., bundle_digest: _Optional[str] = ..., features: _Optional[_Iterable[_Union[FeatureInfo, _Mapping]]] = ..., threshold: _Optional[float] = ..., score_name: _Optional[str] = ..., max_batch_rows: _Optional[int] = ...) -> None: ...

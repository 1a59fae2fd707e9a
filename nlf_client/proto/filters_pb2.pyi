from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
F32: PixelFormat
PIXEL_FORMAT_UNSPECIFIED: PixelFormat
U16: PixelFormat
U8: PixelFormat

class BoolSpec(_message.Message):
    __slots__ = ["default"]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    default: bool
    def __init__(self, default: bool = ...) -> None: ...

class ChoiceSpec(_message.Message):
    __slots__ = ["choices", "default", "dynamic"]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedScalarFieldContainer[str]
    default: str
    dynamic: bool
    def __init__(self, default: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ..., dynamic: bool = ...) -> None: ...

class Colour(_message.Message):
    __slots__ = ["a", "b", "g", "r"]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    G_FIELD_NUMBER: _ClassVar[int]
    R_FIELD_NUMBER: _ClassVar[int]
    a: float
    b: float
    g: float
    r: float
    def __init__(self, r: _Optional[float] = ..., g: _Optional[float] = ..., b: _Optional[float] = ..., a: _Optional[float] = ...) -> None: ...

class ColourSpec(_message.Message):
    __slots__ = ["default"]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    default: Colour
    def __init__(self, default: _Optional[_Union[Colour, _Mapping]] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ["kind", "memory_free", "memory_total", "name"]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FREE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: str
    memory_free: int
    memory_total: int
    name: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., memory_total: _Optional[int] = ..., memory_free: _Optional[int] = ...) -> None: ...

class Done(_message.Message):
    __slots__ = ["layer_count", "seconds", "state"]
    LAYER_COUNT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    layer_count: int
    seconds: float
    state: bytes
    def __init__(self, layer_count: _Optional[int] = ..., seconds: _Optional[float] = ..., state: _Optional[bytes] = ...) -> None: ...

class FilterInfo(_message.Message):
    __slots__ = ["category", "description", "id", "label", "needs_mask", "params"]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    NEEDS_MASK_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    category: str
    description: str
    id: str
    label: str
    needs_mask: bool
    params: _containers.RepeatedCompositeFieldContainer[ParamSpec]
    def __init__(self, id: _Optional[str] = ..., label: _Optional[str] = ..., description: _Optional[str] = ..., category: _Optional[str] = ..., needs_mask: bool = ..., params: _Optional[_Iterable[_Union[ParamSpec, _Mapping]]] = ...) -> None: ...

class FilterStatus(_message.Message):
    __slots__ = ["id", "missing", "ready"]
    ID_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    id: str
    missing: _containers.RepeatedCompositeFieldContainer[MissingItem]
    ready: bool
    def __init__(self, id: _Optional[str] = ..., ready: bool = ..., missing: _Optional[_Iterable[_Union[MissingItem, _Mapping]]] = ...) -> None: ...

class FloatSpec(_message.Message):
    __slots__ = ["default", "max", "min", "step"]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    default: float
    max: float
    min: float
    step: float
    def __init__(self, default: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., step: _Optional[float] = ...) -> None: ...

class ImageInfo(_message.Message):
    __slots__ = ["format", "height", "width", "x", "y"]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    format: PixelFormat
    height: int
    width: int
    x: int
    y: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., format: _Optional[_Union[PixelFormat, str]] = ..., x: _Optional[int] = ..., y: _Optional[int] = ...) -> None: ...

class IntSpec(_message.Message):
    __slots__ = ["default", "max", "min", "step"]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    default: int
    max: int
    min: int
    step: int
    def __init__(self, default: _Optional[int] = ..., min: _Optional[int] = ..., max: _Optional[int] = ..., step: _Optional[int] = ...) -> None: ...

class LayerSpec(_message.Message):
    __slots__ = ["required"]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    required: bool
    def __init__(self, required: bool = ...) -> None: ...

class ListFiltersRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListFiltersResponse(_message.Message):
    __slots__ = ["filters", "protocol_version"]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    filters: _containers.RepeatedCompositeFieldContainer[FilterInfo]
    protocol_version: int
    def __init__(self, protocol_version: _Optional[int] = ..., filters: _Optional[_Iterable[_Union[FilterInfo, _Mapping]]] = ...) -> None: ...

class MissingItem(_message.Message):
    __slots__ = ["command", "what"]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    WHAT_FIELD_NUMBER: _ClassVar[int]
    command: str
    what: str
    def __init__(self, what: _Optional[str] = ..., command: _Optional[str] = ...) -> None: ...

class ParamSpec(_message.Message):
    __slots__ = ["choice", "colour", "flag", "help", "integer", "label", "layer", "name", "real", "text"]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    COLOUR_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REAL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    choice: ChoiceSpec
    colour: ColourSpec
    flag: BoolSpec
    help: str
    integer: IntSpec
    label: str
    layer: LayerSpec
    name: str
    real: FloatSpec
    text: StringSpec
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., help: _Optional[str] = ..., real: _Optional[_Union[FloatSpec, _Mapping]] = ..., integer: _Optional[_Union[IntSpec, _Mapping]] = ..., flag: _Optional[_Union[BoolSpec, _Mapping]] = ..., choice: _Optional[_Union[ChoiceSpec, _Mapping]] = ..., text: _Optional[_Union[StringSpec, _Mapping]] = ..., colour: _Optional[_Union[ColourSpec, _Mapping]] = ..., layer: _Optional[_Union[LayerSpec, _Mapping]] = ...) -> None: ...

class ParamValue(_message.Message):
    __slots__ = ["colour", "flag", "integer", "real", "text"]
    COLOUR_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    REAL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    colour: Colour
    flag: bool
    integer: int
    real: float
    text: str
    def __init__(self, real: _Optional[float] = ..., integer: _Optional[int] = ..., flag: bool = ..., text: _Optional[str] = ..., colour: _Optional[_Union[Colour, _Mapping]] = ...) -> None: ...

class PixelChunk(_message.Message):
    __slots__ = ["data", "key"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    key: str
    def __init__(self, key: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class Preview(_message.Message):
    __slots__ = ["height", "rgba8", "width"]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    RGBA8_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    height: int
    rgba8: bytes
    width: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., rgba8: _Optional[bytes] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ["fraction", "message", "stage"]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    message: str
    stage: str
    def __init__(self, fraction: _Optional[float] = ..., stage: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Queued(_message.Message):
    __slots__ = ["position"]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class ResultLayer(_message.Message):
    __slots__ = ["info", "name", "shared"]
    INFO_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    info: ImageInfo
    name: str
    shared: SharedPixels
    def __init__(self, name: _Optional[str] = ..., info: _Optional[_Union[ImageInfo, _Mapping]] = ..., shared: _Optional[_Union[SharedPixels, _Mapping]] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ["chunk", "done", "layer", "preview", "progress", "queued"]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    chunk: PixelChunk
    done: Done
    layer: ResultLayer
    preview: Preview
    progress: Progress
    queued: Queued
    def __init__(self, queued: _Optional[_Union[Queued, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., preview: _Optional[_Union[Preview, _Mapping]] = ..., layer: _Optional[_Union[ResultLayer, _Mapping]] = ..., chunk: _Optional[_Union[PixelChunk, _Mapping]] = ..., done: _Optional[_Union[Done, _Mapping]] = ...) -> None: ...

class RunHeader(_message.Message):
    __slots__ = ["extra_layers", "filter_id", "layer", "mask", "params", "result_space", "shared", "state", "want_previews"]
    class ExtraLayersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ImageInfo
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ImageInfo, _Mapping]] = ...) -> None: ...
    class ParamsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ParamValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ParamValue, _Mapping]] = ...) -> None: ...
    class SharedEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: SharedPixels
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[SharedPixels, _Mapping]] = ...) -> None: ...
    EXTRA_LAYERS_FIELD_NUMBER: _ClassVar[int]
    FILTER_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    RESULT_SPACE_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WANT_PREVIEWS_FIELD_NUMBER: _ClassVar[int]
    extra_layers: _containers.MessageMap[str, ImageInfo]
    filter_id: str
    layer: ImageInfo
    mask: ImageInfo
    params: _containers.MessageMap[str, ParamValue]
    result_space: SharedPixels
    shared: _containers.MessageMap[str, SharedPixels]
    state: bytes
    want_previews: bool
    def __init__(self, filter_id: _Optional[str] = ..., params: _Optional[_Mapping[str, ParamValue]] = ..., layer: _Optional[_Union[ImageInfo, _Mapping]] = ..., mask: _Optional[_Union[ImageInfo, _Mapping]] = ..., extra_layers: _Optional[_Mapping[str, ImageInfo]] = ..., want_previews: bool = ..., shared: _Optional[_Mapping[str, SharedPixels]] = ..., result_space: _Optional[_Union[SharedPixels, _Mapping]] = ..., state: _Optional[bytes] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ["chunk", "header"]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    chunk: PixelChunk
    header: RunHeader
    def __init__(self, header: _Optional[_Union[RunHeader, _Mapping]] = ..., chunk: _Optional[_Union[PixelChunk, _Mapping]] = ...) -> None: ...

class SharedPixels(_message.Message):
    __slots__ = ["crc32", "offset", "segment", "size"]
    CRC32_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    crc32: int
    offset: int
    segment: str
    size: int
    def __init__(self, segment: _Optional[str] = ..., offset: _Optional[int] = ..., size: _Optional[int] = ..., crc32: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ["busy", "device", "filters", "protocol_version", "queue_length", "server_version", "shared_memory"]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    SHARED_MEMORY_FIELD_NUMBER: _ClassVar[int]
    busy: bool
    device: DeviceInfo
    filters: _containers.RepeatedCompositeFieldContainer[FilterStatus]
    protocol_version: int
    queue_length: int
    server_version: str
    shared_memory: bool
    def __init__(self, server_version: _Optional[str] = ..., protocol_version: _Optional[int] = ..., device: _Optional[_Union[DeviceInfo, _Mapping]] = ..., queue_length: _Optional[int] = ..., filters: _Optional[_Iterable[_Union[FilterStatus, _Mapping]]] = ..., busy: bool = ..., shared_memory: bool = ...) -> None: ...

class StringSpec(_message.Message):
    __slots__ = ["default"]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    default: str
    def __init__(self, default: _Optional[str] = ...) -> None: ...

class PixelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

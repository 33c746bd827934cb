"""Turn an ORT-format (``.ort``) model into ONNX bytes with its weight dequantization folded.

Why: the Moonshine ``.ort`` files in the ``moonshine-cpp`` wheel store their weights as
int8 and dequantize them *inside the graph* (``Cast -> Mul -> Add`` on initializers in
the outer graph). ORT-format models are loaded as saved, without constant folding, so
onnxruntime re-dequantizes all 41 M decoder weights on every decoding step (~30 ms per
token, >90 % of the ASR time). Here the flatbuffer is read with the schema classes that
ship in the ``onnxruntime`` wheel (``onnxruntime.tools.ort_format_model``, backed by the
``flatbuffers`` package onnxruntime depends on), the constant-only ``Cast/Mul/Add/Sub``
nodes are evaluated once with numpy (exact float32 arithmetic, identical weights), and
the graph is written back as an ONNX ``ModelProto`` with a tiny protobuf encoder (no
``onnx`` package needed). onnxruntime then loads that with its normal graph optimizations.

The folded model holds float32 weights (4x the int8 size) but no longer allocates the
dequantized copies on every run. If anything here fails, callers fall back to the
``.ort`` file as is.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FOLD_VERSION", "folded_onnx_path", "write_folded_onnx"]

# ONNX TensorProto.DataType -> numpy
_NP = {
    1: np.float32,
    2: np.uint8,
    3: np.int8,
    4: np.uint16,
    5: np.int16,
    6: np.int32,
    7: np.int64,
    9: np.bool_,
    10: np.float16,
    11: np.float64,
    12: np.uint32,
    13: np.uint64,
}
_NP_TO_ONNX = {np.dtype(v): k for k, v in _NP.items()}
_FOLDABLE = {"Cast", "Mul", "Add", "Sub"}
FOLD_VERSION = 1
"""Bumped whenever the conversion changes, so stale cached files are not reused."""


def cache_dir() -> Path:
    """``$REALTIME_WIDGET_CACHE_DIR``, else ``$XDG_CACHE_HOME/realtime-widget``, else
    ``~/.cache/realtime-widget``."""
    env = os.environ.get("REALTIME_WIDGET_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "realtime-widget"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def folded_onnx_path(src: str | Path) -> tuple[Path, bool]:
    """The folded ONNX file for ``src``: ``(path, is_temporary)``.

    Converted once and cached under :func:`cache_dir` ``/speech`` keyed by the source's
    SHA-256 (atomic rename, so concurrent processes are safe). If the cache cannot be
    written, a temporary file is returned instead; the caller deletes it after loading.
    """
    src = Path(src)
    name = f"{src.stem}-{_digest(src)}-fold{FOLD_VERSION}.onnx"
    dst = cache_dir() / "speech" / name
    if dst.is_file():
        return dst, False
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            write_folded_onnx(src, tmp)
            os.replace(tmp, dst)
        finally:
            if tmp.exists():
                tmp.unlink()
        return dst, False
    except OSError:
        fd, tmp_name = tempfile.mkstemp(suffix=".onnx")
        os.close(fd)
        write_folded_onnx(src, tmp_name)
        return Path(tmp_name), True


# ----------------------------------------------------------------------------- protobuf
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


class _Msg:
    """A protobuf message built from pieces, written out without joining big buffers."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.size = 0

    def _raw(self, b: bytes | memoryview) -> _Msg:
        self.parts.append(b)
        self.size += len(b) if isinstance(b, bytes) else b.nbytes
        return self

    def int(self, field: int, value: int) -> _Msg:
        return self._raw(_key(field, 0) + _varint(int(value)))

    def float(self, field: int, value: float) -> _Msg:
        return self._raw(_key(field, 5) + struct.pack("<f", value))

    def bytes(self, field: int, value: bytes | memoryview) -> _Msg:
        n = len(value) if isinstance(value, bytes) else value.nbytes
        self._raw(_key(field, 2) + _varint(n))
        return self._raw(value)

    def str(self, field: int, value: str | bytes | None) -> _Msg:
        value = value or b""
        return self.bytes(field, value.encode() if isinstance(value, str) else value)

    def msg(self, field: int, m: _Msg) -> _Msg:
        self._raw(_key(field, 2) + _varint(m.size))
        self.parts.append(m)
        self.size += m.size
        return self

    def write(self, f: Any) -> None:
        for p in self.parts:
            if isinstance(p, _Msg):
                p.write(f)
            else:
                f.write(p)


# ----------------------------------------------------------------------------- ONNX messages
def _tensor(
    name: str, dims: list[int], dtype: int, raw: Any, strings: list[bytes] | None = None
) -> _Msg:
    m = _Msg()
    for d in dims:
        m.int(1, d)
    m.int(2, dtype)
    for s in strings or ():
        m.bytes(6, s)
    m.str(8, name)
    if raw is not None:
        m.bytes(9, raw)
    return m


def _np_tensor(name: str, arr: np.ndarray) -> _Msg:
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return _tensor(
        name, list(arr.shape), _NP_TO_ONNX[arr.dtype.newbyteorder("=")], memoryview(arr).cast("B")
    )


def _fb_str(b: Any) -> str:
    return b.decode() if isinstance(b, bytes) else (b or "")


def _fb_tensor(t: Any) -> tuple[str, np.ndarray | None, _Msg]:
    """(name, numpy view of the data or None for strings, TensorProto message)."""
    name = _fb_str(t.Name())
    dims = [int(t.Dims(j)) for j in range(t.DimsLength())]
    dtype = int(t.DataType())
    if t.StringDataLength():
        strings = [t.StringData(j) for j in range(t.StringDataLength())]
        return name, None, _tensor(name, dims, dtype, None, strings)
    if hasattr(t, "ExternalDataOffset") and t.ExternalDataOffset() >= 0:
        raise ValueError("external tensor data is not supported")
    raw = t.RawDataAsNumpy() if t.RawDataLength() else np.zeros(0, np.uint8)  # a view, no copy
    arr = None
    if dtype in _NP:
        arr = raw.view(np.dtype(_NP[dtype]).newbyteorder("<")).reshape(dims)
    return name, arr, _tensor(name, dims, dtype, memoryview(raw).cast("B"))


def _value_info(name: str, vi: Any | None) -> _Msg:
    out = _Msg().str(1, name)
    if vi is None or vi.Type() is None or vi.Type().ValueType() != 1:  # 1: tensor type
        return out
    from onnxruntime.tools.ort_format_model.ort_flatbuffers_py.fbs.TensorTypeAndShape import (
        TensorTypeAndShape,
    )

    tt = TensorTypeAndShape()
    tbl = vi.Type().Value()
    tt.Init(tbl.Bytes, tbl.Pos)
    tensor = _Msg().int(1, tt.ElemType())
    shape = tt.Shape()
    if shape is not None:
        sm = _Msg()
        for j in range(shape.DimLength()):
            dv = shape.Dim(j).Value()
            dim = _Msg()
            if dv is not None and dv.DimType() == 1:
                dim.int(1, dv.DimValue())
            elif dv is not None and dv.DimType() == 2:
                dim.str(2, dv.DimParam())
            sm.msg(1, dim)
        tensor.msg(2, sm)
    return out.msg(2, _Msg().msg(1, tensor))


def _attribute(a: Any) -> _Msg:
    t = int(a.Type())
    m = _Msg().str(1, a.Name()).int(20, t)
    if t == 1:
        m.float(2, a.F())
    elif t == 2:
        m.int(3, a.I())
    elif t == 3:
        m.str(4, a.S())
    elif t == 4:
        m.msg(5, _fb_tensor(a.T())[2])
    elif t == 5:
        m.msg(6, _graph(a.G(), fold=False)[0])
    elif t == 6:
        for j in range(a.FloatsLength()):
            m.float(7, a.Floats(j))
    elif t == 7:
        for j in range(a.IntsLength()):
            m.int(8, a.Ints(j))
    elif t == 8:
        for j in range(a.StringsLength()):
            m.str(9, a.Strings(j))
    elif t == 9:
        for j in range(a.TensorsLength()):
            m.msg(10, _fb_tensor(a.Tensors(j))[2])
    elif t == 10:
        for j in range(a.GraphsLength()):
            m.msg(11, _graph(a.Graphs(j), fold=False)[0])
    else:
        raise ValueError(f"unsupported attribute type {t}")
    return m


def _subgraphs(n: Any) -> list[Any]:
    out = []
    for k in range(n.AttributesLength()):
        a = n.Attributes(k)
        if a.G() is not None:
            out.append(a.G())
        out.extend(a.Graphs(j) for j in range(a.GraphsLength()))
    return out


def _names_used(g: Any, acc: set[str], skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Every value name read by ``g``'s nodes (recursively) or its outputs, except by
    single-output nodes whose output is in ``skip`` (folded away)."""
    for i in range(g.NodesLength()):
        n = g.Nodes(i)
        if n.OutputsLength() == 1 and _fb_str(n.Outputs(0)) in skip:
            continue
        acc.update(_fb_str(n.Inputs(j)) for j in range(n.InputsLength()))
        acc.update(_fb_str(n.ImplicitInputs(j)) for j in range(n.ImplicitInputsLength()))
        for sub in _subgraphs(n):
            _names_used(sub, acc)
    acc.update(_fb_str(g.Outputs(j)) for j in range(g.OutputsLength()))


def _fold(node: Any, consts: dict[str, np.ndarray], reusable: set[str]) -> np.ndarray | None:
    """Evaluate a constant-only Cast/Mul/Add/Sub; may overwrite inputs in ``reusable``."""
    op = _fb_str(node.OpType())
    if (
        _fb_str(node.Domain()) not in ("", "ai.onnx")
        or op not in _FOLDABLE
        or node.OutputsLength() != 1
    ):
        return None
    ins = [_fb_str(node.Inputs(j)) for j in range(node.InputsLength())]
    if not ins or any(x not in consts for x in ins):
        return None
    vals = [consts[x] for x in ins]
    if op == "Cast":
        to = None
        for k in range(node.AttributesLength()):
            if _fb_str(node.Attributes(k).Name()) == "to":
                to = int(node.Attributes(k).I())
        if to not in _NP:
            return None
        return vals[0].astype(_NP[to])
    if len(vals) != 2 or vals[0].dtype != vals[1].dtype:
        return None
    a, b = vals
    ufunc = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract}[op]
    shape = np.broadcast_shapes(a.shape, b.shape)
    if ins[0] in reusable and a.shape == shape and a.flags.writeable:
        return ufunc(a, b, out=a)  # in place: the intermediate has no other reader
    return np.asarray(ufunc(a, b), dtype=a.dtype)


def _graph(g: Any, *, fold: bool) -> tuple[_Msg, int]:
    """Encode a GraphProto; with ``fold`` evaluate constant-only dequantization nodes."""
    if g.SparseInitializersLength():
        raise ValueError("sparse initializers are not supported")
    vinfo = {_fb_str(g.NodeArgs(i).Name()): g.NodeArgs(i) for i in range(g.NodeArgsLength())}
    consts: dict[str, np.ndarray] = {}
    inits: dict[str, _Msg] = {}
    for i in range(g.InitializersLength()):
        name, arr, msg = _fb_tensor(g.Initializers(i))
        inits[name] = msg
        if arr is not None:
            consts[name] = arr

    nodes: list[_Msg] = []
    folded: set[str] = set()
    uses: dict[str, int] = {}
    if fold:  # how many readers each value has, to free folded intermediates early
        for i in range(g.NodesLength()):
            n = g.Nodes(i)
            names: set[str] = set()
            for sub in _subgraphs(n):
                _names_used(sub, names)
            for x in [*(_fb_str(n.Inputs(j)) for j in range(n.InputsLength())), *names]:
                uses[x] = uses.get(x, 0) + 1
        for j in range(g.OutputsLength()):
            x = _fb_str(g.Outputs(j))
            uses[x] = uses.get(x, 0) + 1
    for i in range(g.NodesLength()):
        n = g.Nodes(i)
        if fold:
            ins = [_fb_str(n.Inputs(j)) for j in range(n.InputsLength())]
            reusable = {x for x in ins if x in folded and uses.get(x, 0) == 1}
            value = _fold(n, consts, reusable)
            if value is not None:
                name = _fb_str(n.Outputs(0))
                for x in ins:
                    uses[x] -= 1
                    if x in folded and uses[x] == 0:  # an intermediate nobody else reads
                        consts.pop(x, None)
                        inits.pop(x, None)
                consts[name] = value
                inits[name] = _np_tensor(name, value)
                folded.add(name)
                continue
        m = _Msg()
        for j in range(n.InputsLength()):
            m.str(1, n.Inputs(j))
        for j in range(n.OutputsLength()):
            m.str(2, n.Outputs(j))
        m.str(3, n.Name() or f"node_{i}").str(4, n.OpType())
        for k in range(n.AttributesLength()):
            m.msg(5, _attribute(n.Attributes(k)))
        if n.Domain():
            m.str(7, n.Domain())
        nodes.append(m)

    if folded:  # drop the initializers only folded nodes read (int8 weights, scales, steps)
        live: set[str] = set()
        _names_used(g, live, folded)
        inits = {k: v for k, v in inits.items() if k in live}

    out = _Msg()
    for m in nodes:
        out.msg(1, m)
    out.str(2, "graph")
    for m in inits.values():
        out.msg(5, m)
    for j in range(g.InputsLength()):
        x = _fb_str(g.Inputs(j))
        if x not in inits:
            out.msg(11, _value_info(x, vinfo.get(x)))
    for j in range(g.OutputsLength()):
        x = _fb_str(g.Outputs(j))
        out.msg(12, _value_info(x, vinfo.get(x)))
    return out, len(folded)


def write_folded_onnx(src: str | Path, dst: str | Path) -> int:
    """Convert ``src`` (ORT format) to ONNX at ``dst`` with dequantization folded.

    Returns the number of nodes folded. ``dst`` is written in place (callers write to a
    temporary name and rename).
    """
    from onnxruntime.tools.ort_format_model.ort_flatbuffers_py.fbs.InferenceSession import (
        InferenceSession,
    )

    buf = Path(src).read_bytes()
    if buf[4:8] != b"ORTM":
        raise ValueError(f"{src} is not an ORT format model")
    model = InferenceSession.GetRootAs(buf, 0).Model()
    graph, folded = _graph(model.Graph(), fold=True)
    out = _Msg().int(1, model.IrVersion()).str(2, "realtime-widget-ortfold")
    for i in range(model.OpsetImportLength()):
        op = model.OpsetImport(i)
        opset = _Msg()
        if op.Domain():
            opset.str(1, op.Domain())
        out.msg(8, opset.int(2, op.Version()))
    out.msg(7, graph)
    with open(dst, "wb") as f:
        out.write(f)
    return folded

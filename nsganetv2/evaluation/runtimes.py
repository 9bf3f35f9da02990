"""Deploy runtimes for an exported ONNX graph on CPU: ONNX Runtime and OpenVINO, with pinned threads and a precision.

:func:`load_graph` turns ONNX model bytes (or a path) into a callable ``x (float32 array) -> [outputs]``. OpenVINO is
an optional extra (``pip install nsganetv2[openvino]``); asking for it where it is missing is one clear error.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Union

import numpy as np

__all__ = ["RUNTIMES", "RUNTIME_PRECISIONS", "Graph", "load_graph", "ort_session", "require_runtime",
           "runtime_installed", "runtime_version"]

RUNTIMES = ("onnxruntime", "openvino")
RUNTIME_PRECISIONS = ("fp32", "bf16")
ModelSource = Union[bytes, str, os.PathLike]
_INSTALL = {"openvino": "pip install nsganetv2[openvino]", "onnxruntime": "pip install onnxruntime"}


def _check_name(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")


def require_runtime(runtime: str) -> Any:
    """The runtime's Python module, or one clear error saying how to install it."""
    _check_name(runtime)
    try:
        if runtime == "openvino":
            import openvino as mod
        else:
            import onnxruntime as mod
    except ImportError:
        raise ValueError(f"{runtime} is not installed: {_INSTALL[runtime]} (or choose another backend/runtime)") \
            from None
    return mod


def runtime_installed(runtime: str) -> bool:
    """True when ``runtime`` imports."""
    try:
        require_runtime(runtime)
    except ValueError:
        return False
    return True


def runtime_version(runtime: str) -> str:
    """The installed version of ``runtime`` (e.g. ``"1.32.0"``)."""
    mod = require_runtime(runtime)
    if runtime == "openvino":
        return str(mod.get_version()).split("-")[0]
    return str(mod.__version__)


def _check_precision(runtime: str, precision: str) -> None:
    if precision not in RUNTIME_PRECISIONS:
        raise ValueError(f"precision must be one of {RUNTIME_PRECISIONS} on {runtime}, got {precision!r}")
    if precision == "bf16" and runtime == "onnxruntime":
        raise ValueError("onnxruntime runs fp32 only on CPU; use --amp off, or the openvino backend/runtime for bf16")


def ort_session(model: ModelSource, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads, sequential execution, all optimisations."""
    ort = require_runtime("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if threads == 1:  # no pool to spin: keeps other processes' cores free
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    src = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


_OV_CORE = None


def _ov_core() -> Any:
    global _OV_CORE
    if _OV_CORE is None:
        _OV_CORE = require_runtime("openvino").Core()
    return _OV_CORE


def ov_config(threads: int, precision: str) -> dict:
    """OpenVINO CPU settings: ``threads`` inference threads, one stream, the precision as an explicit hint (its
    default would be bf16 on CPUs with native bf16)."""
    return {"INFERENCE_PRECISION_HINT": "f32" if precision == "fp32" else "bf16",
            "INFERENCE_NUM_THREADS": int(threads), "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            "ENABLE_CPU_PINNING": False}


class Graph:
    """A loaded ONNX graph: ``graph(x) -> [outputs]`` with ``x`` a float32 array of the graph's input shape (any
    batch when the graph's batch axis is dynamic). OpenVINO compiles once per input shape (static shapes run
    fastest); ONNX Runtime serves every shape from one session."""

    def __init__(self, model: ModelSource, runtime: str = "onnxruntime", threads: int = 1,
                 precision: str = "fp32") -> None:
        _check_name(runtime)
        _check_precision(runtime, precision)
        if int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads!r}")
        self.runtime, self.threads, self.precision = runtime, int(threads), precision
        if runtime == "onnxruntime":
            self._sess = ort_session(model, self.threads)
            self._input = self._sess.get_inputs()[0].name
        else:
            ov = require_runtime("openvino")
            core = _ov_core()
            if isinstance(model, bytes):
                self._model = core.read_model(model, ov.Tensor(np.empty(0, dtype=np.uint8)))
            else:
                self._model = core.read_model(os.fspath(model))
            self._compiled: dict[tuple, tuple] = {}

    def compile(self, shape: tuple[int, ...], copy: bool = True) -> Callable[[np.ndarray], list[np.ndarray]]:
        """The runner for inputs of ``shape`` (OpenVINO compiles it on first use); ``copy=False`` returns views of
        the runtime's output buffers, valid until the next call (for timing)."""
        if self.runtime == "onnxruntime":
            return self._run_ort
        shape = tuple(int(s) for s in shape)
        if shape not in self._compiled:
            model = self._model.clone()
            model.reshape({model.inputs[0]: list(shape)})
            compiled = _ov_core().compile_model(model, "CPU", ov_config(self.threads, self.precision))
            self._compiled[shape] = (compiled, compiled.create_infer_request())
        compiled, request = self._compiled[shape]

        n_out = len(compiled.outputs)

        def run(x: np.ndarray) -> list[np.ndarray]:
            request.infer({0: x}, share_inputs=True, share_outputs=not copy)
            out = [request.get_output_tensor(i).data for i in range(n_out)]
            return [o.copy() for o in out] if copy else out

        return run

    def _run_ort(self, x: np.ndarray) -> list[np.ndarray]:
        return self._sess.run(None, {self._input: x})

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self.compile(x.shape)(x)


def load_graph(model: ModelSource, runtime: str = "onnxruntime", threads: int = 1, precision: str = "fp32") -> Graph:
    """ONNX model bytes or a path loaded in ``runtime`` with ``threads`` CPU threads in ``precision``."""
    return Graph(model, runtime, threads, precision)

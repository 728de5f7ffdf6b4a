"""The fast path's alternatives, for benchmark rows: the plain scikit-learn pipeline and tree
compilers or runtimes behind the same encoders (treelite's GTIL, tl2cgen, onnxruntime through
skl2onnx, lleaves for LightGBM).

Every library is imported when its row is built, so driftloop itself never needs one; a library
that is missing or cannot take the model gives :class:`NotApplicable` with the reason.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from driftloop.data.spec import TabularSpec
from driftloop.serving._encoders import blocks, known_categories
from driftloop.serving.compiled import CompiledModel, PipelinePredictor, compile_pipeline
from driftloop.serving.models import Predictor

Head = Callable[[np.ndarray], np.ndarray]
KINDS = ("compiled", "pipeline", "gtil", "tl2cgen", "onnx", "lleaves")


class NotApplicable(Exception):
    """This predictor kind cannot serve this model here (missing library, unsupported model)."""


def build(kind: str, pipeline: Any, spec: TabularSpec) -> Predictor:
    """A predictor of ``kind`` for a fitted driftloop pipeline."""
    if kind == "compiled":
        return compile_pipeline(pipeline, spec)
    if kind == "pipeline":
        return PipelinePredictor(pipeline, spec)
    heads = {"gtil": _gtil, "tl2cgen": _tl2cgen, "onnx": _onnx, "lleaves": _lleaves}
    if kind not in heads:
        raise ValueError(f"unknown predictor kind '{kind}' (one of {', '.join(KINDS)})")
    encoder, estimator = (step for _, step in pipeline.steps)
    try:
        head = heads[kind](estimator)
    except ImportError as exc:
        raise NotApplicable(f"{exc.name} is not installed (pip install {exc.name})") from None
    return CompiledModel(blocks(encoder, spec), head, known_categories(pipeline), spec)


def _treelite_model(estimator: Any) -> Any:
    import treelite

    if type(estimator).__name__ == "LGBMClassifier":
        return treelite.frontend.from_lightgbm(estimator.booster_)
    return treelite.sklearn.import_model(estimator)


def _gtil(estimator: Any) -> Head:
    import treelite.gtil

    model = _treelite_model(estimator)
    return lambda x: treelite.gtil.predict(model, x, nthread=1).reshape(len(x))


def _tl2cgen(estimator: Any) -> Head:
    import tl2cgen

    library = Path(tempfile.mkdtemp(prefix="driftloop-tl2cgen-")) / "model.so"
    tl2cgen.export_lib(_treelite_model(estimator), toolchain="gcc", libpath=library, nthread=1)
    predictor = tl2cgen.Predictor(library, nthread=1)
    shutil.rmtree(library.parent)  # loaded: the mapping outlives the file
    return lambda x: predictor.predict(tl2cgen.DMatrix(x, dtype="float64")).reshape(len(x))


def _onnx(estimator: Any) -> Head:
    import onnxruntime
    from skl2onnx import to_onnx

    sample = np.zeros((1, estimator.n_features_in_), dtype=np.float32)
    try:
        graph = to_onnx(estimator, sample, options={id(estimator): {"zipmap": False}})
    except Exception as exc:
        cause = exc.__cause__ or exc  # skl2onnx wraps the reason in a page-long message
        reason = f"{type(cause).__name__}: {str(cause).splitlines()[0][:120]}"
        raise NotApplicable(
            f"skl2onnx cannot convert {type(estimator).__name__}: {reason}"
        ) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(graph.SerializeToString(), options)
    name = session.get_inputs()[0].name

    def head(x: np.ndarray) -> np.ndarray:
        # onnxruntime's tree ensembles compute in float32: expect differences near 1e-7.
        probabilities = session.run(None, {name: x.astype(np.float32)})[1]
        return np.asarray(probabilities[:, 1], dtype=np.float64)

    return head


def _lleaves(estimator: Any) -> Head:
    if type(estimator).__name__ != "LGBMClassifier":
        raise NotApplicable(
            f"lleaves compiles LightGBM models only, not {type(estimator).__name__}"
        )
    import lleaves

    folder = Path(tempfile.mkdtemp(prefix="driftloop-lleaves-"))
    estimator.booster_.save_model(folder / "model.txt")
    model = lleaves.Model(model_file=str(folder / "model.txt"))
    model.compile(cache=str(folder / "model.o"))
    return lambda x: model.predict(x, n_jobs=1)


SEAM_ENV = "BENCH_PREDICTOR"
_SITE = f'''"""Written by the serving benchmark: serve with the predictor named in ${SEAM_ENV}."""
import os

if os.environ.get("{SEAM_ENV}"):
    import serving_predictors

    serving_predictors.install(os.environ["{SEAM_ENV}"])
'''


def install(kind: str) -> None:
    """Make this process's model loading build ``kind`` instead of the compiled fast path."""
    from driftloop.serving import models

    models.predictor_for = lambda pipeline, spec: build(kind, pipeline, spec)  # type: ignore[assignment]


def seam_env(kind: str, folder: Path) -> dict[str, str]:
    """Environment that makes an unchanged `driftloop serve` (each of its worker processes)
    build ``kind``: a ``sitecustomize`` module in ``folder`` installs it at interpreter start."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITE)
    here = Path(__file__).resolve().parent
    return {SEAM_ENV: kind, "PYTHONPATH": f"{folder}:{here}"}

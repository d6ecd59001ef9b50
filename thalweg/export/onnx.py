"""Export a trained MLP or CNN as an ONNX graph, preprocessing included.

The graph takes what ``predict`` takes — raw feature rows ``(n, d)`` for an MLP, raw
pixels ``(n, C, H, W)`` for a CNN — and returns what ``predict_proba`` (classifiers)
or ``predict`` (regressors) returns, so it runs where thalweg is not installed
(onnxruntime on a Raspberry Pi) and agrees with thalweg to float32 rounding.

Each thalweg layer becomes one or two standard ONNX operators (opset 17):

=====================  ====================================================
thalweg                ONNX
=====================  ====================================================
feature scaling         Sub, Div (the estimator's ``scaler_``)
``Normalize``           Sub, Mul (a CNN's pixel range folded in)
``Linear``              Gemm (weight ``(in, out)``, no transpose needed)
``Conv2d``              Conv (pads, strides, dilations, group: same layout)
``MaxPool2d``           MaxPool;  ``AvgPool2d``: AveragePool
``AdaptiveAvgPool2d``   GlobalAveragePool (1×1), or AveragePool when it divides
``BatchNorm1d/2d``      BatchNormalization (running statistics)
``Flatten``             Flatten;  ``Dropout``, ``Identity``: nothing
``ReLU`` etc.           Relu, LeakyRelu, Tanh, Sigmoid
output                  Softmax, or Sigmoid and Concat for two classes
=====================  ====================================================

Anything else is refused with one line naming the part (:class:`ExportError`).
``onnx`` is an optional dependency (``pip install 'thalweg[onnx]'``), imported only here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thalweg import nn
from thalweg.errors import ThalwegError
from thalweg.files import atomic_write

__all__ = ["ExportError", "export_onnx", "to_onnx"]

OPSET = 17


class ExportError(ThalwegError, ValueError):
    """A model, or a part of it, that the ONNX export cannot express."""


class _Graph:
    """Nodes and constants of the graph being built, with fresh tensor names."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem: str, value) -> str:
        name = self.name(stem)
        array = np.asarray(value, dtype=np.float32)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def op(self, kind: str, inputs: list[str], **attributes) -> str:
        output = self.name(kind.lower())
        self.nodes.append(self.helper.make_node(kind, inputs, [output], **attributes))
        return output


def to_onnx(estimator):
    """The ONNX ``ModelProto`` of a fitted ``CNNClassifier``, ``MLPClassifier`` or
    ``MLPRegressor`` (or a ``TabularModel`` wrapping an MLP on numeric columns)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ExportError(
            "ONNX export needs the onnx package: pip install 'thalweg[onnx]'"
        ) from None
    estimator = _unwrap_tabular(estimator)
    name = type(estimator).__name__
    if name not in ("CNNClassifier", "MLPClassifier", "MLPRegressor"):
        raise ExportError(f"{name} cannot be exported to ONNX; export an MLP or a CNN model")
    graph = _Graph(helper, numpy_helper)
    layers = list(estimator.module_.layers)
    if name == "CNNClassifier":
        input_name, shape = "images", ["n", *estimator.image_shape_]
        low, high = estimator.pixel_range_
        x = _first_normalize(graph, input_name, layers.pop(0), low, high - low)
    else:
        input_name, shape = "features", ["n", int(estimator.n_features_in_)]
        scaler = estimator.scaler_
        x = input_name
        if scaler.with_mean:
            x = graph.op("Sub", [x, graph.constant("mean", scaler.mean_)])
        if scaler.with_std:
            x = graph.op("Div", [x, graph.constant("scale", scaler.scale_)])
    for index, layer in enumerate(layers):
        x = _layer(graph, x, layer, index)
    if name == "MLPRegressor":
        x = graph.op("Flatten", [x], axis=0)
        x = graph.op("Mul", [x, graph.constant("y_scale", [estimator.y_scale_])])
        x = graph.op("Add", [x, graph.constant("y_mean", [estimator.y_mean_])])
        output_name, output_shape = "prediction", ["n"]
        x = graph.op("Reshape", [x, _int_constant(graph, "shape", [-1])])
    else:
        classes = len(estimator.classes_)
        if classes == 2:  # one logit z: probabilities [1 - σ(z), σ(z)]
            positive = graph.op("Sigmoid", [x])
            negative = graph.op("Sub", [graph.constant("one", 1.0), positive])
            x = graph.op("Concat", [negative, positive], axis=1)
        else:
            x = graph.op("Softmax", [x], axis=1)
        output_name, output_shape = "probabilities", ["n", classes]
    graph.nodes.append(helper.make_node("Identity", [x], [output_name]))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            f"thalweg_{name}",
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, output_shape)],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="thalweg",
    )
    model.ir_version = min(model.ir_version, 9)  # readable by older runtimes too
    model.metadata_props.add(
        key="classes", value=",".join(map(str, getattr(estimator, "classes_", [])))
    )
    onnx.checker.check_model(model)
    return model


def export_onnx(estimator, path) -> Path:
    """Write ``to_onnx(estimator)`` to ``path`` (atomically)."""
    model = to_onnx(estimator)
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        handle.write(model.SerializeToString())
    return path


def _int_constant(graph: _Graph, stem: str, values) -> str:
    name = graph.name(stem)
    graph.initializers.append(graph.numpy_helper.from_array(np.asarray(values, np.int64), name))
    return name


def _first_normalize(graph: _Graph, x: str, layer, low: float, span: float) -> str:
    """Pixels -> [0, 1] by the training range, then ``Normalize``: one Sub and one Mul."""
    if not isinstance(layer, nn.Normalize):
        raise ExportError("the CNN does not start with its Normalize layer; refit it")
    shape = (1, -1, 1, 1)
    # ((x - low)/span - mean)/scale = (x - (low + mean·span)) · 1/(scale·span)
    offset = (low + layer.mean.astype(np.float64) * span).reshape(shape)
    factor = (1.0 / (layer.scale.astype(np.float64) * span)).reshape(shape)
    x = graph.op("Sub", [x, graph.constant("offset", offset)])
    return graph.op("Mul", [x, graph.constant("factor", factor)])


def _layer(graph: _Graph, x: str, layer, index: int) -> str:
    kind = type(layer).__name__
    if isinstance(layer, nn.Linear):
        inputs = [x, graph.constant("weight", layer.weight.data)]
        if layer.bias is not None:
            inputs.append(graph.constant("bias", layer.bias.data))
        return graph.op("Gemm", inputs)
    if isinstance(layer, nn.Conv2d):
        inputs = [x, graph.constant("weight", layer.weight.data)]
        if layer.bias is not None:
            inputs.append(graph.constant("bias", layer.bias.data))
        ph, pw = layer.padding
        return graph.op(
            "Conv",
            inputs,
            kernel_shape=list(layer.kernel_size),
            strides=list(layer.stride),
            pads=[ph, pw, ph, pw],
            dilations=list(layer.dilation),
            group=layer.groups,
        )
    if isinstance(layer, nn.MaxPool2d):
        ph, pw = layer.padding
        return graph.op(
            "MaxPool",
            [x],
            kernel_shape=list(layer.kernel_size),
            strides=list(layer.stride),
            pads=[ph, pw, ph, pw],
            dilations=list(layer.dilation),
        )
    if isinstance(layer, nn.AvgPool2d):
        ph, pw = layer.padding
        return graph.op(
            "AveragePool",
            [x],
            kernel_shape=list(layer.kernel_size),
            strides=list(layer.stride),
            pads=[ph, pw, ph, pw],
            count_include_pad=int(layer.count_include_pad),
        )
    if isinstance(layer, nn.AdaptiveAvgPool2d):
        if tuple(layer.output_size) == (1, 1):
            return graph.op("GlobalAveragePool", [x])
        raise ExportError(
            f"layer {index} AdaptiveAvgPool2d{tuple(layer.output_size)}: only global average "
            "pooling (output size 1) can be exported"
        )
    if isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d):
        if layer.running_mean is None:
            raise ExportError(f"layer {index} {kind}: no running statistics to export")
        channels = layer.num_features
        weight = layer.weight.data if layer.affine else np.ones(channels)
        bias = layer.bias.data if layer.affine else np.zeros(channels)
        inputs = [x] + [
            graph.constant(stem, value)
            for stem, value in (
                ("gamma", weight),
                ("beta", bias),
                ("mean", layer.running_mean),
                ("var", layer.running_var),
            )
        ]
        return graph.op("BatchNormalization", inputs, epsilon=layer.eps)
    if isinstance(layer, nn.Flatten):
        return graph.op("Flatten", [x], axis=layer.start_dim)
    if isinstance(layer, nn.Dropout | nn.Identity):
        return x  # evaluation: the identity
    if isinstance(layer, nn.LeakyReLU):
        return graph.op("LeakyRelu", [x], alpha=float(layer.negative_slope))
    simple = {nn.ReLU: "Relu", nn.Tanh: "Tanh", nn.Sigmoid: "Sigmoid"}
    if type(layer) in simple:
        return graph.op(simple[type(layer)], [x])
    raise ExportError(f"layer {index} ({kind}) has no ONNX equivalent in thalweg's exporter")


def _unwrap_tabular(model):
    """The estimator inside a ``TabularModel``, when its preprocessing is the identity."""
    if type(model).__name__ != "TabularModel":
        return model
    if getattr(model, "encoder_", None) is not None:
        raise ExportError(
            "the model one-hot encodes categorical columns, which the ONNX export does not "
            "express; train on numeric columns only to export it"
        )
    if getattr(model, "crosses_", None) is not None:
        raise ExportError(
            "the model adds feature crosses (--crosses), which the export cannot express"
        )
    if getattr(model, "fill_values_", None):
        raise ExportError(
            "the model fills missing values (--missing mean), which the export cannot express"
        )
    return model.estimator_

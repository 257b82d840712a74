"""PyTorch's nn layers, one file per family (as torch/nn/modules)."""
from .activation import (ELU, GELU, GLU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish,
                         PReLU, ReLU, ReLU6, SELU, CELU, Sigmoid, SiLU, Softmax, Softmin, Softplus,
                         Softsign, Tanh, Tanhshrink, Threshold,
                         Hardshrink, Softshrink, RReLU)
from .attention import MultiheadAttention
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d
from .dropout import (AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d,
                      FeatureAlphaDropout)
from .flatten import Flatten, Unflatten
from .linear import Bilinear, Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss,
                   HuberLoss, KLDivLoss, L1Loss, MarginRankingLoss, MSELoss, MultiMarginLoss,
                   NLLLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss, HingeEmbeddingLoss,
                   MultiLabelSoftMarginLoss, TripletMarginLoss, GaussianNLLLoss,
                   MultiLabelMarginLoss, TripletMarginWithDistanceLoss, CTCLoss)
from .module import Module, Parameter
from .lazy import (LazyConv1d, LazyConv2d, LazyConv3d, LazyLinear, LazyModuleMixin,
                   UninitializedParameter)
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d,
                            InstanceNorm2d, LayerNorm, LocalResponseNorm, RMSNorm, SyncBatchNorm)
from .padding import (ConstantPad2d, ReflectionPad1d, ReflectionPad2d, ReplicationPad1d,
                      ReplicationPad2d, ZeroPad2d)
from .distance import CosineSimilarity, PairwiseDistance
from .pixelshuffle import (Fold, PixelShuffle, PixelUnshuffle, Unfold, Upsample,
                           UpsamplingBilinear2d, UpsamplingNearest2d)
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d,
                      MaxPool3d, MaxUnpool2d)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .sparse import Embedding, EmbeddingBag
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
           "BatchNorm2d", "Conv1d", "Conv2d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Dropout2d", "ELU",
           "Embedding", "Flatten", "GELU", "GLU", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish", "Softsign", "GRU", "GRUCell", "GroupNorm", "HuberLoss",
           "Identity", "KLDivLoss", "L1Loss", "LSTM", "LSTMCell", "LayerNorm", "LeakyReLU",
           "Linear", "LogSoftmax", "MSELoss", "MaxPool1d", "MaxPool2d", "Module", "ModuleDict",
           "ModuleList", "MultiheadAttention", "NLLLoss", "Parameter", "ParameterDict", "ParameterList",
           "RMSNorm", "RNN", "RNNCell", "ReLU", "ReLU6", "Sequential", "SiLU", "Sigmoid",
           "SmoothL1Loss", "Softmax", "Softplus", "Tanh", "Transformer", "TransformerDecoder",
           "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer", "Unflatten",
           "ConstantPad2d", "InstanceNorm1d", "InstanceNorm2d", "PixelShuffle", "PixelUnshuffle",
           "CosineSimilarity", "PairwiseDistance", "Fold", "Unfold",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
           "Upsample", "ZeroPad2d", "AdaptiveMaxPool2d", "AvgPool1d", "MaxUnpool2d", "Conv3d",
           "MaxPool3d", "AvgPool3d",
           "ConvTranspose1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "MarginRankingLoss",
           "CosineEmbeddingLoss", "MultiMarginLoss", "PoissonNLLLoss",
           "PReLU", "SELU", "CELU", "Softmin", "Tanhshrink", "Threshold", "Hardshrink", "Softshrink", "RReLU",
           "UpsamplingNearest2d", "UpsamplingBilinear2d", "SoftMarginLoss",
           "HingeEmbeddingLoss", "MultiLabelSoftMarginLoss", "TripletMarginLoss",
           "GaussianNLLLoss", "Bilinear", "Dropout1d", "Dropout3d", "AlphaDropout",
           "EmbeddingBag", "FeatureAlphaDropout", "LocalResponseNorm",
           "MultiLabelMarginLoss", "TripletMarginWithDistanceLoss", "BatchNorm3d",
           "SyncBatchNorm", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyLinear",
           "UninitializedParameter", "CTCLoss"]

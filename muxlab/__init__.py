"""muxlab: understand and measure how training data is streamed from disk."""

from .comparison import Comparison, compare
from .errors import (
    DataError,
    MissingKeyError,
    MuxlabError,
    NotPicklableError,
    ParameterError,
    ParameterTypeError,
    StreamError,
)
from .knob import Knob
from .maps import buffer_stream, cache, keras_tuples, tuples
from .mux import ChainMux, Mux, RoundRobinMux, ShuffledMux, StochasticMux
from .streamer import Streamer, streamable

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "compare",
    "ChainMux",
    "Mux",
    "RoundRobinMux",
    "ShuffledMux",
    "StochasticMux",
    "DataError",
    "Knob",
    "MissingKeyError",
    "MuxlabError",
    "NotPicklableError",
    "ParameterError",
    "ParameterTypeError",
    "StreamError",
    "Streamer",
    "buffer_stream",
    "cache",
    "keras_tuples",
    "streamable",
    "tuples",
]

"""muxlab: understand and measure how training data is streamed from disk."""

import sys as _sys

from . import memory_probe
from .background import ZMQStreamer, background
from .comparison import Comparison, compare
from .collection import Collection
from .errors import (
    DataError,
    DataWarning,
    MissingKeyError,
    MuxlabError,
    NotPicklableError,
    ParameterError,
    ParameterTypeError,
    StreamError,
    WorkerError,
)
from .knob import Knob
from .maps import buffer_stream, cache, keras_tuples, tuples
from .mux import ChainMux, Mux, RoundRobinMux, ShuffledMux, StochasticMux
from .session import Session, Snapshot
from .state import NotResumableError, RestoredError, StateMismatchError
from .streamer import Streamer, streamable

__version__ = "0.1.0"

# The memory probe's former module name: ``import muxlab.instrument`` gives muxlab.memory_probe itself.
_sys.modules[__name__ + ".instrument"] = instrument = memory_probe

__all__ = [
    "Collection",
    "background",
    "Comparison",
    "compare",
    "ChainMux",
    "Mux",
    "RoundRobinMux",
    "ShuffledMux",
    "StochasticMux",
    "DataError",
    "DataWarning",
    "Knob",
    "MissingKeyError",
    "MuxlabError",
    "NotPicklableError",
    "NotResumableError",
    "RestoredError",
    "ParameterError",
    "ParameterTypeError",
    "Session",
    "Snapshot",
    "StateMismatchError",
    "StreamError",
    "WorkerError",
    "ZMQStreamer",
    "Streamer",
    "buffer_stream",
    "cache",
    "keras_tuples",
    "streamable",
    "tuples",
]

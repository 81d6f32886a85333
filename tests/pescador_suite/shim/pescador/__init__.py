"""pescador's public names over muxlab, so that pescador's own tests run against muxlab.

Only the names pescador 3.0 exports from ``pescador``, ``pescador.core``,
``pescador.maps`` and ``pescador.mux`` are re-exported; ``PescadorError`` is
:class:`muxlab.MuxlabError`. This package is put first on ``sys.path`` only
in the child process that runs the vendored suite: it never shadows the real
pescador anywhere else.
"""

from muxlab import (
    ChainMux,
    DataError,
    RoundRobinMux,
    ShuffledMux,
    StochasticMux,
    Streamer,
    buffer_stream,
    cache,
    keras_tuples,
    streamable,
    tuples,
)
from muxlab import MuxlabError as PescadorError

from . import core, maps, mux, util  # noqa: F401  (pescador.core etc. are attributes of pescador)

__version__ = "3.0.0+muxlab"

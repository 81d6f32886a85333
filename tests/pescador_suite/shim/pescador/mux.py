"""``pescador.mux`` over muxlab."""

from muxlab import MuxlabError as PescadorError  # noqa: F401
from muxlab.mux import BaseMux, ChainMux, RoundRobinMux, ShuffledMux, StochasticMux  # noqa: F401

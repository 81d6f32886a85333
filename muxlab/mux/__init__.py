"""The mux family: streams interleaved by chance (StochasticMux, ShuffledMux) or in order (RoundRobinMux, ChainMux)."""

from .base import BaseMux
from .chain import ChainMux
from .round_robin import RoundRobinMux
from .shuffled import ShuffledMux
from .stochastic import Mux, StochasticMux

__all__ = ["BaseMux", "ChainMux", "Mux", "RoundRobinMux", "ShuffledMux", "StochasticMux"]

"""The parameters of a comparison, checked in one place for :func:`muxlab.compare`, the dashboard and the CLI."""

import dataclasses
from dataclasses import InitVar, dataclass

from .errors import ParameterError, ParameterTypeError
from .validation import check_choice, check_int, check_positive_number, short_repr

#: How the page cache holds a strategy's files before its run.
CACHE_MODES = ("warm", "cold")


def _strategy_names():
    from .loaders import STRATEGIES  # the registry imports the whole loader layer

    return tuple(STRATEGIES)


def _check_strategies(owner, name, value):
    """Return ``value`` as a tuple of known strategy names (None stays None: every strategy)."""
    if value is None:
        return None
    names = _strategy_names()
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    if not isinstance(value, (list, tuple)):
        raise ParameterTypeError(
            f"{owner}: {name}={short_repr(value)} is a {type(value).__name__}; expected a list of names from {names}"
        )
    if not value:
        raise ParameterError(f"{owner}: {name} is empty; expected names from {names}")
    return tuple(check_choice(owner, name, s, names) for s in value)


_CHECKS = {
    "strategies": _check_strategies,
    "k": lambda owner, name, value: check_int(owner, name, value, minimum=1),
    "lam": lambda owner, name, value: check_positive_number(owner, name, value, minimum=1),
    "n": lambda owner, name, value: check_int(owner, name, value, minimum=1),
    "max_batches": lambda owner, name, value: check_int(owner, name, value, minimum=1),
    "retain": lambda owner, name, value: check_int(owner, name, value, minimum=0),
    "cache": lambda owner, name, value: check_choice(owner, name, value, CACHE_MODES),
    "random_state": lambda owner, name, value: check_int(owner, name, value, minimum=0),
}


@dataclass(frozen=True)
class CompareParams:
    """What a comparison runs: the strategies, the Mux, the windows, the consumer and the page cache.

    Every value is checked when the object is made (``owner`` names the
    caller in the messages); the fields hold the checked values. ``n`` is
    checked against a collection later, by :func:`muxlab.compare`: items
    shorter than ``n`` are left out, and a collection with none long enough
    raises :class:`~muxlab.DataError`.

    Parameters
    ----------
    strategies : list of str, a comma-separated str, or None
        Names from :data:`muxlab.loaders.STRATEGIES`; None: all of them.
    k, lam : the Mux's active streams and mean windows per activation.
    n : rows per window.
    max_batches : windows drawn per strategy.
    retain : the consumer keeps the last ``retain`` windows alive.
    cache : ``'warm'`` or ``'cold'``.
    random_state : int, the seed of the Mux and of the window offsets.

    Examples
    --------
    >>> CompareParams(strategies='npz,npy_mmap', k=4).strategies
    ('npz', 'npy_mmap')
    >>> CompareParams(n=0, owner='MemoryDashboard')
    Traceback (most recent call last):
    ...
    muxlab.errors.ParameterError: MemoryDashboard: n=0 is too small; expected an integer >= 1
    """

    strategies: tuple = None
    k: int = 32
    lam: float = 16.0
    n: int = 16
    max_batches: int = 2000
    retain: int = 32
    cache: str = "warm"
    random_state: int = 0
    owner: InitVar[str] = "compare"

    def __post_init__(self, owner):
        for name in _CHECKS:
            object.__setattr__(self, name, self.check(owner, name, getattr(self, name)))

    @staticmethod
    def check(owner, name, value):
        """Return ``value`` checked as the field ``name`` (what the CLI's flags use).

        >>> CompareParams.check('compare', 'lam', 4)
        4.0
        """
        if name not in _CHECKS:
            raise ParameterError(f"{owner}: {name!r} is not a parameter of a comparison; expected one of {tuple(_CHECKS)}")
        return _CHECKS[name](owner, name, value)

    def asdict(self):
        """The fields as keyword arguments of :func:`muxlab.compare` (``strategies`` as a list or None)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if values["strategies"] is not None:
            values["strategies"] = list(values["strategies"])
        return values

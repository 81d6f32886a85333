"""A small thread-safe holder for a value that may change while a stream runs."""

import threading


class Knob:
    """Hold a value that one thread sets and another reads, e.g. a live window size.

    ``validate``, if given, is called with each new value and returns the value
    to store (or raises); an invalid value leaves the old one in place.

    >>> n = Knob(16)
    >>> n.value = 32
    >>> n.value
    32
    """

    __slots__ = ("_value", "_lock", "_validate", "version")

    def __init__(self, value, validate=None):
        self._lock = threading.Lock()
        self._validate = validate
        self._value = validate(value) if validate is not None else value
        self.version = 0

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, new):
        if self._validate is not None:
            new = self._validate(new)
        with self._lock:
            self._value = new
            self.version += 1

    # A copy (or a pickled Knob) holds the current value and a lock of its own;
    # setting it does not reach the original.
    def __getstate__(self):
        return {"value": self._value, "validate": self._validate, "version": self.version}

    def __setstate__(self, state):
        self._lock = threading.Lock()
        self._validate = state["validate"]
        self._value = state["value"]
        self.version = state["version"]

    def __repr__(self):
        return f"Knob({self._value!r})"

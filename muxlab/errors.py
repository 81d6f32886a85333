"""Exception classes shared by every part of muxlab.

Every error muxlab raises on purpose derives from :class:`MuxlabError`.
Invalid arguments raise :class:`ParameterError` (also a ``ValueError``) or
:class:`ParameterTypeError` (also a ``TypeError``), so code that already
catches the built-in exceptions keeps working. Bad data items and files
raise :class:`DataError`.
"""


class MuxlabError(Exception):
    """Base class of every error raised by muxlab."""


class ParameterError(MuxlabError, ValueError):
    """An argument has the right type but a value that is not accepted."""


class ParameterTypeError(MuxlabError, TypeError):
    """An argument has a type that is not accepted."""


class DataError(MuxlabError, ValueError):
    """A data item or a data file is not usable (missing, malformed, too short)."""


class MissingKeyError(DataError, KeyError):
    """A data item lacks a key it was asked for: a :class:`DataError` that is also a ``KeyError``."""

    def __str__(self):
        return Exception.__str__(self)  # not KeyError's, which quotes the message


class StreamError(MuxlabError):
    """A stream cannot be iterated the way it was asked to (e.g. cycling an empty stream)."""


class DataWarning(UserWarning):
    """Some data items were left out (too short for the window, or unreadable with ``on_bad='skip'``)."""


class NotPicklableError(MuxlabError, TypeError):
    """An object cannot be pickled or copied now: a one-shot generator object, or a mux in the middle of a pass.

    A ``TypeError``, as the ``pickle`` module's own refusals are.
    """


class WorkerError(MuxlabError, RuntimeError):
    """A worker process failed: it died (a signal such as SIGKILL, an exit code) or raised an error that could not be sent back.

    ``worker`` is the worker's index, ``pid`` its process id, ``signal`` the
    name of the signal that ended it (or None), ``exitcode`` its exit code
    (negative for a signal, None if it was still running) and ``traceback``
    the worker's traceback text when it raised.
    """

    def __init__(self, message, worker=None, pid=None, signal=None, exitcode=None, traceback=None):
        super().__init__(message)
        self.worker = worker
        self.pid = pid
        self.signal = signal
        self.exitcode = exitcode
        self.traceback = traceback

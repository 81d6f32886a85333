"""pescador's demo flow: an SGDClassifier fitted with partial_fit on batches streamed from a background process."""

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier

from muxlab import Mux, Streamer, ZMQStreamer, background, buffer_stream


def data_gen(n_features, center, seed):
    """Endless samples of one class: a Gaussian blob around ``center`` (as pescador's demo)."""
    rng = np.random.default_rng(seed)
    label = int(center > 0)
    while True:
        yield {"X": center + rng.normal(size=(1, n_features)), "Y": np.array([label])}


def streams(n_features=10):
    return [Streamer(data_gen, n_features, c, seed) for seed, c in enumerate([-1.5, -1.0, 1.0, 1.5] * 2)]


def held_out(n_features=10, n=400, seed=99):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = np.where(y[:, None] == 1, 1.25, -1.25) + rng.normal(size=(n, n_features))
    return X, y


@pytest.mark.timeout(120)
@pytest.mark.parametrize("wrap", ["background", "ZMQStreamer"])
def test_sgd_partial_fit_over_a_background_stream(wrap):
    mux = Mux(streams(), k=4, lam=16, random_state=0)
    batches = Streamer(buffer_stream, mux, 32, axis=0)
    stream = background(batches) if wrap == "background" else ZMQStreamer(batches)
    model = SGDClassifier(random_state=0)
    seen = 0
    for batch in stream(max_iter=100):
        model.partial_fit(batch["X"], batch["Y"].ravel(), classes=[0, 1])
        seen += len(batch["X"])
    assert seen == 100 * 32
    X, y = held_out()
    # The two classes are 2.5 standard deviations apart in each of 10 dimensions: a fitted
    # linear model errs on far fewer than 5% of 400 points; an unfitted one would be near 50%.
    assert model.score(X, y) > 0.95

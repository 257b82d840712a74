"""TF1's `tf.estimator`: an `Estimator` builds a fresh graph from `model_fn` for each of
train / evaluate / predict, restores the latest checkpoint of its `model_dir` (a temporary
folder unless given) and, after training, saves one, as TF1 does; so state passes between
the calls only through checkpoints. `inputs.numpy_input_fn` batches NumPy arrays on the host
and feeds them; an input_fn returning a `tf.data.Dataset` (or its tensors) is read through
an iterator."""
from __future__ import annotations

import inspect
import os
import tempfile
from typing import NamedTuple

import numpy as np

from ..core.graph import Graph
from .app import Namespace
from .dataset import Dataset, OutOfRangeError
from .metrics import get_or_create_global_step, local_variables_initializer
from .saver import Saver, latest_checkpoint
from .session import Session
from .variables import global_variables_initializer, placeholder


class ModeKeys:
    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


class EstimatorSpec(NamedTuple):
    mode: str
    predictions: object = None
    loss: object = None
    train_op: object = None
    eval_metric_ops: dict = None
    export_outputs: object = None
    training_chief_hooks: object = None
    training_hooks: object = None
    scaffold: object = None
    evaluation_hooks: object = None
    prediction_hooks: object = None


class _NumpyInput:
    """What `numpy_input_fn` returns: called in the estimator's graph it makes placeholders
    for the features and labels; `batches()` gives the feeds (the last one may be short)."""

    def __init__(self, x, y, batch_size, num_epochs, shuffle) -> None:
        if shuffle is None:
            raise ValueError("numpy_input_fn: shuffle must be given (True or False), as in TF1")
        self.x = x if isinstance(x, dict) else {"__x": x}
        self.y, self.batch_size = y, int(batch_size)
        self.num_epochs, self.shuffle = num_epochs, bool(shuffle)
        self.rng = np.random.default_rng()
        self.placeholders = None

    def __call__(self):
        def hold(array):
            array = np.asarray(array)
            dtype = np.float32 if array.dtype == np.float64 else array.dtype
            return placeholder(dtype, (None,) + array.shape[1:])
        features = {k: hold(v) for k, v in self.x.items()}
        labels = None if self.y is None else hold(self.y)
        self.placeholders = (features, labels)
        return (features["__x"] if "__x" in features else features), labels

    def batches(self):
        features, labels = self.placeholders
        n = len(next(iter(self.x.values())))
        epoch = 0
        while self.num_epochs is None or epoch < self.num_epochs:
            order = self.rng.permutation(n) if self.shuffle else np.arange(n)
            for start in range(0, n, self.batch_size):
                rows = order[start:start + self.batch_size]
                feed = {features[k]: np.asarray(v)[rows] for k, v in self.x.items()}
                if labels is not None:
                    feed[labels] = np.asarray(self.y)[rows]
                yield feed
            epoch += 1


def numpy_input_fn(x, y=None, batch_size=128, num_epochs=1, shuffle=None, queue_capacity=1000,
                   num_threads=1):
    return _NumpyInput(x, y, batch_size, num_epochs, shuffle)


inputs = Namespace("tf.estimator.inputs", __name__, numpy_input_fn=numpy_input_fn)


class Estimator:
    def __init__(self, model_fn, model_dir=None, config=None, params=None,
                 warm_start_from=None) -> None:
        self._model_fn = model_fn
        self.model_dir = model_dir or tempfile.mkdtemp(prefix="tinyflow_estimator_")
        self.params = params or {}

    def _build(self, input_fn, mode):
        """(graph, spec, feeds generator or None) with the model built on the inputs."""
        graph = Graph()
        with graph.as_default():
            get_or_create_global_step()
            made = input_fn()
            feeds = None
            if isinstance(input_fn, _NumpyInput):
                feeds = input_fn.batches()
            elif isinstance(made, Dataset):
                made = made.make_one_shot_iterator().get_next()
            features, labels = made if isinstance(made, tuple) else (made, None)
            kwargs = {"params": self.params} if "params" in _arguments(self._model_fn) else {}
            spec = self._model_fn(features, labels, mode, **kwargs)
        return graph, spec, feeds

    def _session(self, graph):
        sess = Session(graph=graph)
        with graph.as_default():
            sess.run(global_variables_initializer())
            checkpoint = latest_checkpoint(self.model_dir)
            if checkpoint is not None:
                Saver().restore(sess, checkpoint)
            sess.run(local_variables_initializer())
        return sess

    def train(self, input_fn, hooks=None, steps=None, max_steps=None, saving_listeners=None):
        graph, spec, feeds = self._build(input_fn, ModeKeys.TRAIN)
        sess = self._session(graph)
        step_var = graph.get_collection("global_step")[0]
        start = int(sess.run(step_var))
        last = start + steps if steps is not None else max_steps
        step = start
        try:
            while last is None or step < last:
                feed = next(feeds) if feeds is not None else None
                sess.run(spec.train_op, feed)
                step += 1
        except (StopIteration, OutOfRangeError):
            pass
        os.makedirs(self.model_dir, exist_ok=True)   # a model_dir named but not made yet
        with graph.as_default():
            Saver().save(sess, os.path.join(self.model_dir, "model.ckpt"),
                         global_step=int(sess.run(step_var)))
        sess.close()
        return self

    def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None, name=None):
        """Runs the metrics' updates over the input (until it ends, or `steps` batches) and
        returns their values with the mean loss and the global step."""
        graph, spec, feeds = self._build(input_fn, ModeKeys.EVAL)
        sess = self._session(graph)
        metrics = dict(spec.eval_metric_ops or {})
        updates = [update for _, update in metrics.values()]
        losses, count = [], 0
        try:
            while steps is None or count < steps:
                feed = next(feeds) if feeds is not None else None
                loss, _ = sess.run([spec.loss, updates], feed)
                losses.append(loss)
                count += 1
        except (StopIteration, OutOfRangeError):
            pass
        results = {key: sess.run(value) for key, (value, _) in metrics.items()}
        results["loss"] = np.float32(np.mean(losses)) if losses else None
        results["global_step"] = int(sess.run(graph.get_collection("global_step")[0]))
        sess.close()
        return results

    def predict(self, input_fn, predict_keys=None, hooks=None, checkpoint_path=None,
                yield_single_examples=True):
        graph, spec, feeds = self._build(input_fn, ModeKeys.PREDICT)
        sess = self._session(graph)
        try:
            while True:
                feed = next(feeds) if feeds is not None else None
                batch = sess.run(spec.predictions, feed)
                if not yield_single_examples:
                    yield batch
                    continue
                if isinstance(batch, dict):
                    for i in range(len(next(iter(batch.values())))):
                        yield {k: v[i] for k, v in batch.items()}
                else:
                    yield from batch
        except (StopIteration, OutOfRangeError):
            return
        finally:
            sess.close()


def _arguments(fn) -> tuple:
    return tuple(inspect.signature(fn).parameters)


estimator = Namespace("tf.estimator", __name__,
                      "; canned estimators (DNNClassifier, ...) are not built: write a model_fn",
                      Estimator=Estimator, EstimatorSpec=EstimatorSpec, ModeKeys=ModeKeys,
                      inputs=inputs)
feature_column = Namespace("tf.feature_column", __name__,
                           "; feed arrays by name to numpy_input_fn and read them in a model_fn")

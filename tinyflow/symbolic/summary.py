"""`tf.summary`: summary ops tagged with the open name scope and kept in the `summaries`
collection (so `merge_all` finds them), and `FileWriter`, which writes what `Session.run`
returned for them into a TensorBoard event file (io/events.py)."""
from __future__ import annotations

import numpy as np

from ..core.graph import SUMMARIES, Graph, get_default_graph
from ..core.tensor import Tensor
from ..io.events import EventFileWriter, event
from ..ops import summary as ops
from ..core.protobuf import bytes_field, int_field


def _tag(name: str, family) -> str:
    scope = get_default_graph()._scope
    return f"{family}/{scope}{name}" if family else scope + name


def _collect(summary: Tensor, collections) -> Tensor:
    graph = summary.graph if summary.is_symbolic else get_default_graph()
    for key in (SUMMARIES,) if collections is None else collections:
        graph.add_to_collection(key, summary)
    return summary


def scalar(name, tensor, collections=None, family=None) -> Tensor:
    return _collect(ops.scalar(_tag(name, family), tensor, name), collections)


def histogram(name, values, collections=None, family=None) -> Tensor:
    return _collect(ops.histogram(_tag(name, family), values, name), collections)


def image(name, tensor, max_outputs=3, collections=None, family=None) -> Tensor:
    return _collect(ops.image(_tag(name, family), tensor, max_outputs, name), collections)


def merge(inputs, collections=None, name=None) -> Tensor:
    summary = ops.merge(list(inputs), name=name)
    return summary if collections is None else _collect(summary, collections)


def merge_all(key=SUMMARIES, scope=None, name=None):
    """Every summary of collection `key` (names starting with `scope`) merged, or None when
    there is none, as in TF1."""
    summaries = [s for s in get_default_graph().get_collection(key)
                 if scope is None or (s.name or "").startswith(scope)]
    return merge(summaries, name=name) if summaries else None


def _summary_bytes(summary) -> bytes:
    """What Session.run gave for a summary (bytes, a 0-d object array) or an eager one."""
    if isinstance(summary, Tensor):
        summary = summary.numpy()
    if isinstance(summary, np.ndarray) and summary.dtype == object and summary.ndim == 0:
        summary = summary[()]
    if not isinstance(summary, (bytes, np.bytes_)):
        raise TypeError(f"add_summary takes a serialized Summary (what Session.run returns "
                        f"for a tf.summary op), got {type(summary).__name__}")
    return bytes(summary)


def encode_graph(graph: Graph) -> bytes:
    """A GraphDef (node 1: NodeDef name 1, op 2, input 3) of the graph's symbolic nodes, for
    TensorBoard's graph view; eager constants feeding them are not nodes and are left out."""
    nodes = b""
    for t in graph.nodes:
        op = type(t._op).__name__ if t._op is not None else t.kind.capitalize()
        body = bytes_field(1, t._name) + bytes_field(2, op)
        for x in t.inputs:
            if x.is_symbolic and x._name is not None:
                body += bytes_field(3, x._name)
        nodes += bytes_field(1, body)
    return nodes + bytes_field(4, int_field(1, 1))


class FileWriter:
    """TF1's `tf.summary.FileWriter(logdir, graph)`: add_summary / add_graph / flush / close.
    Events are written through at once, so flush has nothing to do."""

    def __init__(self, logdir, graph=None, max_queue=10, flush_secs=120, graph_def=None,
                 filename_suffix=None, session=None) -> None:
        self.logdir = str(logdir)
        self._writer = EventFileWriter(self.logdir, filename_suffix or "")
        if graph is not None:
            self.add_graph(graph)

    def get_logdir(self) -> str:
        return self.logdir

    def add_summary(self, summary, global_step=None) -> None:
        self._writer.add(event(int(global_step or 0), summary=_summary_bytes(summary)))

    def add_graph(self, graph, global_step=None, graph_def=None) -> None:
        if not isinstance(graph, Graph):
            raise TypeError(f"add_graph takes a tf.Graph, got {type(graph).__name__}")
        self._writer.add(event(int(global_step or 0), graph_def=encode_graph(graph)))

    def add_run_metadata(self, run_metadata, tag, global_step=None) -> None:
        """A tagged_run_metadata event (Event field 8) with the tag; tinyflow's RunMetadata
        records no step statistics, so its message is empty."""
        body = bytes_field(1, tag) + bytes_field(2, b"")
        self._writer.add(event(int(global_step or 0)) + bytes_field(8, body))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "FileWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

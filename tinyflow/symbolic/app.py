"""TF1's program plumbing: `tf.app.run`, `tf.app.flags` (= `tf.flags`), `tf.gfile`,
`tf.compat`'s text conversions, `tf.logging` and `tf.name_scope`, so tutorial scripts run
from their own `main` with their own flags."""
from __future__ import annotations

import argparse
import contextlib
import glob as _glob
import logging as _logging
import os
import shutil
import sys
import types

from ..core.graph import get_default_graph


class Namespace(types.SimpleNamespace):
    """A TF1 namespace (`tf.keras`, `tf.estimator`) that names what it lacks, so a program
    stops where it asks for a part tinyflow does not have."""

    def __init__(self, path: str, module: str, advice: str = "", **members) -> None:
        super().__init__(_path=path, _advice=advice, **members)
        self.__module__ = module   # where it is defined (tests/test_names.py reads it)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        has = sorted(k for k in vars(self) if not k.startswith("_"))
        listed = f"{self._path} has only {', '.join(has)}" if has else "none of it is built"
        raise AttributeError(f"{self._path}.{name} is not supported by tinyflow ({listed})"
                             f"{self._advice}")


@contextlib.contextmanager
def name_scope(name, default_name=None, values=None):
    """`with tf.name_scope('conv1') as scope:` names the nodes made inside `conv1/...`;
    `scope` is `'conv1/'` as in TF1, and a name ending in '/' re-enters that scope as is."""
    name = name or default_name
    graph = get_default_graph()
    if not name:
        outer, graph._scope = graph._scope, ""
        try:
            yield ""
        finally:
            graph._scope = outer
    elif name.endswith("/"):
        outer, graph._scope = graph._scope, name
        try:
            yield name
        finally:
            graph._scope = outer
    else:
        with graph.name_scope(name) as scope:
            yield scope + "/"


# ---- tf.app.flags ---------------------------------------------------------------------------

class _Flags:
    """`FLAGS`: the values of the defined flags, read from the command line on first use
    (or by `tf.app.run`); unknown arguments are left for the program."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parser", argparse.ArgumentParser(allow_abbrev=False))
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_parsed", False)
        object.__setattr__(self, "_booleans", set())

    def _define(self, name, default, help, type_) -> None:  # noqa: A002
        if name in self._values:
            raise ValueError(f"flag --{name} is defined twice")
        if type_ is bool:   # --name, --noname, or --name=value (never the next argument)
            self._parser.add_argument(f"--{name}", action="store_true", default=default,
                                      help=help)
            self._parser.add_argument(f"--no{name}", dest=name, action="store_false")
            self._booleans.add(name)
        else:
            self._parser.add_argument(f"--{name}", type=type_, default=default, help=help)
        self._values[name] = default

    def __call__(self, argv) -> list:
        """Parse `argv` (its first item is the program); returns what is left."""
        known, rest = self._parser.parse_known_args([self._boolean(a) for a in argv[1:]])
        self._values.update(vars(known))
        object.__setattr__(self, "_parsed", True)
        return list(argv)[:1] + rest

    def _boolean(self, arg: str) -> str:
        """`--flag=false` of a boolean flag as `--noflag` (absl's spellings)."""
        name, equals, value = arg[2:].partition("=")
        if arg.startswith("--") and equals and name in self._booleans:
            return f"--{'' if _as_bool(value) else 'no'}{name}"
        return arg

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if not self._parsed:
            self(sys.argv)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no flag --{name} is defined") from None

    def __setattr__(self, name, value) -> None:
        self._values[name] = value


def _as_bool(text) -> bool:
    if str(text).lower() in ("1", "true", "t", "yes"):
        return True
    if str(text).lower() in ("0", "false", "f", "no"):
        return False
    raise ValueError(f"{text!r} is not a boolean")


FLAGS = _Flags()


def _definer(type_):
    def define(name, default, help=None, **kwargs):  # noqa: A002
        FLAGS._define(name, default, help, type_)
    return define


flags = types.SimpleNamespace(
    FLAGS=FLAGS, DEFINE_string=_definer(str), DEFINE_integer=_definer(int),
    DEFINE_float=_definer(float), DEFINE_boolean=_definer(bool), DEFINE_bool=_definer(bool))


def run(main=None, argv=None):
    """`tf.app.run()`: parse the flags from `argv` (default sys.argv), then exit with
    `main(remaining argv)` (main defaults to the caller's `__main__.main`)."""
    args = FLAGS(sys.argv if argv is None else argv)
    main = main or sys.modules["__main__"].main
    sys.exit(main(args))


app = types.SimpleNamespace(run=run, flags=flags)


# ---- tf.gfile -------------------------------------------------------------------------------

def _make_dirs(path) -> None:
    os.makedirs(path, exist_ok=True)


def _refuse_existing(op: str, target, overwrite: bool) -> None:
    if not overwrite and os.path.exists(target):
        raise FileExistsError(f"tf.gfile.{op}: {target} exists (pass overwrite=True)")


def _rename(oldname, newname, overwrite=False) -> None:
    """TF1's gfile.Rename: an existing target is replaced only with overwrite=True."""
    _refuse_existing("Rename", newname, overwrite)
    os.replace(oldname, newname)


def _copy(oldpath, newpath, overwrite=False) -> None:
    _refuse_existing("Copy", newpath, overwrite)
    shutil.copyfile(oldpath, newpath)


gfile = types.SimpleNamespace(
    Exists=os.path.exists, IsDirectory=os.path.isdir, MakeDirs=_make_dirs, MkDir=os.mkdir,
    DeleteRecursively=shutil.rmtree, Remove=os.remove, Rename=_rename,
    ListDirectory=os.listdir, Glob=_glob.glob, Copy=_copy, GFile=open, Open=open)


# ---- tf.compat --------------------------------------------------------------------------------

def as_bytes(text, encoding="utf-8") -> bytes:
    return bytes(text) if isinstance(text, (bytes, bytearray)) else text.encode(encoding)


def as_text(text, encoding="utf-8") -> str:
    return text if isinstance(text, str) else bytes(text).decode(encoding)


compat = types.SimpleNamespace(as_bytes=as_bytes, as_str=as_text, as_text=as_text)


def disable_v2_behavior() -> None:
    """TF 1.13+'s switch to TF1 semantics: a no-op, as tinyflow's TF1 functions are TF1's
    (placeholders, sessions, graph collections)."""


disable_eager_execution = disable_v2_behavior


def executing_eagerly() -> bool:
    """False: tinyflow's TF1 functions build graphs that a tf.Session runs (TF1's default)."""
    return False


def enable_eager_execution(*args, **kwargs):
    """TF 1.x's eager mode (with tf.contrib.eager) is refused here, at the program's first
    line, rather than at a later op that would quietly build a graph node instead of a value."""
    raise NotImplementedError(
        "tf.enable_eager_execution (TF 1.x's eager mode, tf.contrib.eager) is not supported "
        "by tinyflow: its TF1 functions build graphs run by tf.Session. For eager code use "
        "tinyflow's PyTorch-style API (tinyflow.tensor, .backward(), tinyflow.optim)")


enable_v2_behavior = enable_eager_execution


# ---- tf.logging -------------------------------------------------------------------------------

_LOG = _logging.getLogger("tensorflow")


def set_verbosity(level) -> None:
    _LOG.setLevel(level)
    if not _LOG.handlers:
        _LOG.addHandler(_logging.StreamHandler())


logging = types.SimpleNamespace(
    DEBUG=_logging.DEBUG, INFO=_logging.INFO, WARN=_logging.WARN, ERROR=_logging.ERROR,
    FATAL=_logging.FATAL, set_verbosity=set_verbosity, get_verbosity=_LOG.getEffectiveLevel,
    debug=_LOG.debug, info=_LOG.info, warn=_LOG.warning, warning=_LOG.warning,
    error=_LOG.error, fatal=_LOG.critical)

"""`torch.func`'s function transforms over the one autodiff: grad, vjp, jvp and what they make.

`grad(f)` returns a function computing the gradient of `f`, so transforms compose:
`grad(grad(f))`, `jvp(grad(f), ...)` (a Hessian-vector product), `jacfwd(jacrev(f))`.

Each call is a *level*. It differentiates with respect to stand-ins of the arguments, never
the caller's tensors (their `requires_grad` and `.grad` are not touched): a fresh leaf that
requires grad, or, when the argument is itself being differentiated by an outer level (it
requires grad while grad mode is on, or it is a graph node), a recorded `copy` of it so the
outer level differentiates through this one. Inside a level grad mode is on; the derivative
computation records its own ops (as `create_graph=True`) only when something outside the level
(an outer level's stand-in, a closed-over tensor that requires grad) can differentiate it. A
result connected to nothing outside the level is handed back detached, as torch.func's are.

Pytrees: arguments and outputs may be tensors or tuples, lists and dicts of them; gradients
take the structure of the arguments they belong to.
"""
from __future__ import annotations

import numpy as np

from .autodiff.forward import forward_gradients
from .autodiff.reverse import gradients
from .core.graph import topo_sort
from .core.modes import enable_grad, grad_mode, set_grad_enabled
from .core.pytree import tree_flatten, tree_unflatten
from .core.tensor import Tensor
from .ops.creation import zeros_like
from .ops.shape import copy, reshape, stack

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "hvp", "jacfwd", "jacrev",
           "jvp", "value_and_grad", "vjp", "vmap"]


# ---- pytrees: tensors in tuples, lists and dicts ----------------------------------------
def _not_a_tensor(api: str, x) -> ValueError:
    """A transform's input that is not a Tensor (a float, a list, ...)."""
    return ValueError(f"{api}: every input to differentiate must be Tensor, got {type(x)}; "
                      f"wrap numbers and arrays with torch.tensor(...)")


def _describe(spec) -> str:
    """A spec as torch.func prints one: `*` a leaf, `(*, *)` a tuple."""
    if spec is None:
        return "*"
    if spec[0] is dict:
        return "{" + ", ".join(f"{k!r}: {_describe(s)}" for k, s in zip(spec[1], spec[2])) + "}"
    inner = ", ".join(_describe(s) for s in spec[1])
    return f"[{inner}]" if spec[0] is list else f"({inner}{',' if len(spec[1]) == 1 else ''})"


# ---- one level of differentiation ---------------------------------------------------------
class _Level:
    """The stand-ins of one transform call, and the rule for handing its results back."""

    def __init__(self, outer_grad: bool = True, fresh: set = None) -> None:
        self.outer_grad = outer_grad and grad_mode.enabled   # may outer levels differentiate?
        self.fresh: set = set() if fresh is None else fresh  # ids of this level's own leaves

    def stand_in(self, x):
        if not isinstance(x, Tensor):
            raise _not_a_tensor("torch.func", x)
        if not x.dtype.is_floating:
            raise RuntimeError(f"torch.func: an input of dtype {x.dtype.name} cannot be "
                               f"differentiated: only floating point tensors require grad; "
                               f"convert it with .double() or .float()")
        connected = x.is_symbolic or (self.outer_grad and x.requires_grad)
        with set_grad_enabled(connected):
            mine = copy(x)   # a node under a tracer: it reads x's value on every run
        if connected or mine.is_symbolic:
            return mine      # outer levels differentiate through this level
        mine.requires_grad = True       # a leaf of its own, with its own buffer
        self.fresh.add(id(mine))
        return mine

    def stand_ins(self, tree):
        leaves, spec = tree_flatten(tree)
        mine = [self.stand_in(x) for x in leaves]
        return tree_unflatten(spec, mine), mine

    def recording(self, roots) -> set_grad_enabled:
        """Grad mode for computing this level's derivatives of `roots`: on (create_graph, so
        the derivatives are differentiable) only if the roots reach outside this level; a
        derivative that nothing outside can differentiate needs no tape."""
        tracked = [t for t in tree_flatten(roots)[0] if isinstance(t, Tensor)
                   and not t.is_symbolic and t.requires_grad]
        reach = self._reaching_outside(tracked) if self.outer_grad else set()
        return set_grad_enabled(any(id(t) in reach for t in tracked))

    def release(self, tree):
        """Results as the caller sees them: detached unless an outer level (or a closed-over
        tensor that requires grad) can still differentiate them."""
        leaves, spec = tree_flatten(tree)
        tracked = [t for t in leaves if isinstance(t, Tensor) and not t.is_symbolic
                   and t.requires_grad]
        keep = self._reaching_outside(tracked) if self.outer_grad else set()
        drop = {id(t) for t in tracked} - keep
        return tree_unflatten(spec, [_detached(t) if id(t) in drop else t for t in leaves])

    def _reaching_outside(self, tensors: list) -> set:
        """Ids of the tensors whose history reaches a leaf that requires grad and is not one
        of this level's stand-ins (one walk, inputs first)."""
        reaches: set = set()
        for node in topo_sort(tensors):
            if (node._op is None and node.requires_grad and id(node) not in self.fresh) or \
                    any(id(i) in reaches for i in node.inputs):
                reaches.add(id(node))
        return reaches


def _detached(t: Tensor) -> Tensor:
    out = Tensor._eager(t.array)
    out._version = t._version
    return out


def _zeros_for_none(grads, xs) -> list:
    return [zeros_like(x) if g is None else g for g, x in zip(grads, xs)]


def _argnums_tuple(argnums, nargs: int) -> tuple:
    """argnums as a tuple of non-negative ints, checked as torch.func checks them."""
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    if isinstance(argnums, tuple) and not argnums:
        raise RuntimeError("argnums must be non-empty")
    for k in items:
        if not isinstance(k, int) or isinstance(k, bool):
            raise RuntimeError(f"argnums is {type(argnums)}: give one int position or a "
                               f"tuple of int positions")
        if not -nargs <= k < nargs:
            raise RuntimeError(f"argnums: {k} is out of range for {nargs} positional inputs")
    return tuple(k % nargs for k in items)


def _split_aux(out, has_aux: bool, api: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: with has_aux=True, f must return a pair "
                           f"(output, aux), got {type(out).__name__}")
    return out


# ---- reverse mode ---------------------------------------------------------------------------
def grad_and_value(f, argnums=0, has_aux: bool = False):
    """A function returning (gradient of f w.r.t. args[argnums], f(*args)); with has_aux,
    f returns (value, aux) and the function returns (gradient, (value, aux))."""
    api = "grad_and_value(f)(*args)"

    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        level, args = _Level(), list(args)
        with enable_grad():
            diff = {}
            for k in nums:
                args[k], diff[k] = level.stand_ins(args[k])
            value, aux = _split_aux(f(*args, **kwargs), has_aux, api)
            if not isinstance(value, Tensor):
                raise RuntimeError(f"{api}: f returned {type(value)}, where a "
                                   f"one-element Tensor (the value to differentiate) is needed")
            if value.shape != ():
                dims = "unknown" if value.shape is None else len(value.shape)
                raise RuntimeError(f"{api}: f returned a {dims}-dim tensor; grad needs a "
                                   f"0-dim result (for other outputs, use vjp or jacrev)")
            xs = [x for k in nums for x in diff[k]]
            with level.recording(value):
                flat = iter(_zeros_for_none(gradients([value], xs), xs))
            grads = tuple(tree_unflatten(tree_flatten(args[k])[1],
                                         [next(flat) for _ in diff[k]]) for k in nums)
        grads = level.release(grads if isinstance(argnums, tuple) else grads[0])
        value = level.release(value)
        if has_aux:
            return grads, (value, level.release(aux))
        return grads, value
    return wrapper


def grad(f, argnums=0, has_aux: bool = False):
    """`torch.func.grad`: a function returning the gradient of scalar-valued f w.r.t.
    args[argnums] (a tuple of them for a tuple of argnums); (gradient, aux) with has_aux."""
    gv = grad_and_value(f, argnums, has_aux)

    def wrapper(*args, **kwargs):
        grads, value = gv(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return wrapper


def value_and_grad(f, argnums=0, has_aux: bool = False):
    """JAX's spelling: a function returning (f(*args), gradient); ((value, aux), gradient)
    with has_aux."""
    gv = grad_and_value(f, argnums, has_aux)

    def wrapper(*args, **kwargs):
        grads, value = gv(*args, **kwargs)
        return value, grads
    return wrapper


def vjp(f, *primals, has_aux: bool = False):
    """`torch.func.vjp`: (f(*primals), vjp_fn[, aux]); vjp_fn(cotangents), with cotangents
    shaped as the output, returns one gradient per primal, as a tuple. It may be called
    again (the recorded forward is kept)."""
    level = _Level()
    with enable_grad():
        pairs = [level.stand_ins(p) for p in primals]
        out, aux = _split_aux(f(*[p for p, _ in pairs]), has_aux, "vjp(f, *primals)")
    outs, out_spec = tree_flatten(out)
    for y in outs:
        if not isinstance(y, Tensor):
            raise RuntimeError(f"vjp(f, *primals): f returned {type(y)}, where tensors "
                               f"(alone or in tuples, lists, dicts) are needed")
    xs = [x for _, leaves in pairs for x in leaves]

    def vjp_fn(cotangents):
        cts, ct_spec = tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError(f"vjp_fn(cotangents): the cotangents are nested as "
                               f"{_describe(ct_spec)} but f's output as "
                               f"{_describe(out_spec)}; give one cotangent per output, "
                               f"nested the same way")
        for k, (ct, y) in enumerate(zip(cts, outs)):
            if not isinstance(ct, Tensor) or ct.shape != y.shape:
                got = list(ct.shape) if isinstance(ct, Tensor) else type(ct)
                raise RuntimeError(f"vjp_fn(cotangents): cotangent {k} is {got} for an "
                                   f"output of shape {list(y.shape)}; each cotangent must "
                                   f"have its output's shape")
        # grad mode at this call counts too; the cotangents may be differentiated by it
        call = _Level(level.outer_grad, level.fresh)
        with call.recording(outs + cts):
            flat = iter(_zeros_for_none(gradients(outs, xs, cts), xs))
            grads = tuple(tree_unflatten(tree_flatten(p)[1], [next(flat) for _ in leaves])
                          for p, leaves in pairs)
        return call.release(grads)

    result = (level.release(out), vjp_fn)
    return result + (level.release(aux),) if has_aux else result


# ---- forward mode ---------------------------------------------------------------------------
def jvp(f, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """`torch.func.jvp`: (f(*primals), J tangents) by forward mode; primals and tangents are
    tuples of the same structure; the tangent output is shaped as f's output."""
    api = "jvp(f, primals, tangents)"
    for what, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, tuple):
            raise RuntimeError(f"{api}: {what} is a {type(value).__name__}, where a tuple is "
                               f"needed (f is called as f(*{what})): write ({what[:-1]},)")
    p_leaves, p_spec = tree_flatten(primals)
    t_leaves, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{api}: primals are nested as {_describe(p_spec)} but tangents "
                           f"as {_describe(t_spec)}; give one tangent per primal, nested "
                           f"the same way")
    for x, t in zip(p_leaves, t_leaves):
        if not isinstance(x, Tensor) or not isinstance(t, Tensor):
            bad = x if not isinstance(x, Tensor) else t
            raise _not_a_tensor(api, bad)
        if not x.dtype.is_floating:
            raise ValueError(f"{api}: a primal of dtype {x.dtype.name} has no tangent; "
                             f"primals must be floating point")
        if t.shape != x.shape:
            raise RuntimeError(f"{api}: a tangent of shape {list(t.shape)} for a primal of "
                               f"shape {list(x.shape)}; each tangent must have its primal's "
                               f"shape")
    level = _Level()
    with enable_grad():
        args, xs = level.stand_ins(primals)
        out, aux = _split_aux(f(*args), has_aux, api)
        outs, out_spec = tree_flatten(out)
        for y in outs:
            if not isinstance(y, Tensor):
                raise RuntimeError(f"{api}: f returned {type(y)}, where tensors (alone or "
                                   f"in tuples, lists, dicts) are needed")
        with level.recording(outs + t_leaves):
            tangent_out = _zeros_for_none(forward_gradients(outs, xs, t_leaves), outs)
    result = (level.release(out), level.release(tree_unflatten(out_spec, tangent_out)))
    return result + (level.release(aux),) if has_aux else result


def hvp(f, primals, tangents):
    """The Hessian of scalar-valued f at primals times tangents, forward-over-reverse as
    torch.func's docs recipe `jvp(grad(f), primals, tangents)[1]` (over every primal: one
    primal gives a tensor, several a tuple)."""
    argnums = 0 if len(primals) == 1 else tuple(range(len(primals)))
    return jvp(grad(f, argnums), tuple(primals), tuple(tangents))[1]


# ---- Jacobians, one basis vector at a time -------------------------------------------------
def _basis(x: Tensor):
    """One-hot tensors shaped as x, one per element (so x's shape must be static)."""
    if x.shape is None or None in x.shape:
        raise ValueError(f"jacrev/jacfwd/hessian need a static shape, got {x.shape}: one "
                         f"vjp or jvp per element")
    size = int(np.prod(x.shape))
    for i in range(size):
        e = np.zeros(size, x.dtype.np)
        e[i] = 1
        yield Tensor._eager(e.reshape(x.shape))


def _select(f, args: tuple, argnums):
    """(the differentiated arguments, f as a function of them alone)."""
    nums = _argnums_tuple(argnums, len(args))

    def of_selected(*chosen):
        full = list(args)
        for k, value in zip(nums, chosen):
            full[k] = value
        return f(*full)
    return tuple(args[k] for k in nums), of_selected


def _jacobian(pieces: list, out: Tensor, x: Tensor, axis: int) -> Tensor:
    """One block shaped out.shape + x.shape from its per-element pieces (rows of a reverse
    Jacobian at axis 0, columns of a forward one at axis -1); ops, so it differentiates."""
    if not pieces:       # an empty output or input: an empty block
        return Tensor._eager(np.zeros(out.shape + x.shape, out.dtype.np))
    return reshape(stack(pieces, axis=axis), out.shape + x.shape)


def _blocks(outs, out_spec, primals, argnums, block) -> object:
    """The Jacobian's structure: f's output pytree outside, then the argnums tuple, then each
    argument's pytree; `block(j, k)` is output leaf j by input leaf k."""
    xs, x_spec = tree_flatten(primals)
    per_output = []
    for j in range(len(outs)):
        grouped = tree_unflatten(x_spec, [block(j, k) for k in range(len(xs))])
        per_output.append(grouped if isinstance(argnums, tuple) else grouped[0])
    return tree_unflatten(out_spec, per_output)


def jacrev(f, argnums=0, *, has_aux: bool = False, chunk_size=None):
    """`torch.func.jacrev`: the Jacobian of f w.r.t. args[argnums] by one vjp per output
    element; each block is shaped output.shape + input.shape. chunk_size is accepted for
    torch's signature (the vjps run one at a time)."""
    def wrapper(*args):
        primals, of_selected = _select(f, args, argnums)
        found = vjp(of_selected, *primals, has_aux=has_aux)
        outs, out_spec = tree_flatten(found[0])
        xs = tree_flatten(primals)[0]
        rows = []     # rows[j]: per element of output leaf j, the gradient of every input leaf
        for j, y in enumerate(outs):
            zeros = [zeros_like(o) for o in outs]
            cotangents = (tree_unflatten(out_spec, zeros[:j] + [e] + zeros[j + 1:])
                          for e in _basis(y))
            rows.append([tree_flatten(found[1](ct))[0] for ct in cotangents])
        jac = _blocks(outs, out_spec, primals, argnums,
                      lambda j, k: _jacobian([r[k] for r in rows[j]], outs[j], xs[k], 0))
        return (jac, found[2]) if has_aux else jac
    return wrapper


def jacfwd(f, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """`torch.func.jacfwd`: the Jacobian of f w.r.t. args[argnums] by one jvp per input
    element; blocks shaped as jacrev's. randomness is accepted for torch's signature."""
    def wrapper(*args):
        primals, of_selected = _select(f, args, argnums)
        xs, x_spec = tree_flatten(primals)
        zeros = [zeros_like(x) for x in xs]
        found = None
        columns = []  # columns[k]: per element of input leaf k, the tangent of every output leaf
        for k, x in enumerate(xs):
            columns.append([])
            for e in _basis(x):
                tangents = tree_unflatten(x_spec, zeros[:k] + [e] + zeros[k + 1:])
                found = jvp(of_selected, primals, tangents, has_aux=has_aux)
                columns[k].append(tree_flatten(found[1])[0])
        if found is None:    # no input elements: the output's structure from one call
            found = jvp(of_selected, primals, tree_unflatten(x_spec, zeros), has_aux=has_aux)
        outs, out_spec = tree_flatten(found[0])
        jac = _blocks(outs, out_spec, primals, argnums,
                      lambda j, k: _jacobian([c[j] for c in columns[k]], outs[j], xs[k], -1))
        return (jac, found[2]) if has_aux else jac
    return wrapper


def hessian(f, argnums=0):
    """`torch.func.hessian`: jacfwd(jacrev(f)), blocks shaped output + input + input."""
    return jacfwd(jacrev(f, argnums), argnums)


# ---- batching, by a loop ---------------------------------------------------------------------
def vmap(f, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """`torch.func.vmap` by a Python loop over the mapped dimension (correct, not fast):
    in_dims an int, None, or one per positional (tensor) argument; out_dims an int.
    randomness and chunk_size are accepted for torch's signature; a loop needs neither."""
    def wrapper(*args, **kwargs):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap(f, in_dims={in_dims}): {len(dims)} in_dims for "
                             f"{len(args)} inputs; give one in_dim per input (None: not "
                             f"batched) or a single int for all")
        sizes = {a.shape[d] for a, d in zip(args, dims) if d is not None}
        if None in sizes:
            raise ValueError("vmap needs a static size in the mapped dimension: it loops")
        if len(sizes) != 1:
            raise ValueError(f"vmap: the mapped dims differ in size {sorted(sizes)}; every "
                             f"mapped input needs one batch size" if sizes else
                             "vmap: every in_dim is None; map at least one input")
        results = []
        for i in range(sizes.pop()):
            sliced = [a if d is None else _take(a, d, i) for a, d in zip(args, dims)]
            results.append(tree_flatten(f(*sliced, **kwargs)))
        spec = results[0][1]
        return tree_unflatten(spec, [stack([r[0][j] for r in results], axis=out_dims)
                                     for j in range(len(results[0][0]))])
    return wrapper


def _take(a: Tensor, dim: int, i: int) -> Tensor:
    index = (slice(None),) * (dim % len(a.shape)) + (i,)
    return a[index]


# ---- modules as functions of their parameters ------------------------------------------------
def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """`torch.func.functional_call`: run `module(*args, **kwargs)` with the given tensors in
    place of its parameters and buffers (by dotted name), then put the originals back, so
    `grad(lambda p, x: loss(functional_call(model, p, (x,))))(params, x)` differentiates
    w.r.t. a dict of parameters. A tensor tied to a replaced one (the same object under
    another name) is replaced too, as tie_weights=True does."""
    dicts = parameter_and_buffer_dicts
    given = {}
    for d in (dicts if isinstance(dicts, (tuple, list)) else (dicts,)):
        for name, value in d.items():
            if name in given:
                raise ValueError(f"functional_call: {name} is given in more than one of the "
                                 f"dicts; give each parameter or buffer once")
            given[name] = value
    owned = list(module.named_parameters(remove_duplicate=False)) + \
        list(module.named_buffers(remove_duplicate=False))
    names = {name for name, _ in owned}
    if strict:
        unexpected, missing = sorted(set(given) - names), sorted(names - set(given))
        if unexpected or missing:
            lines = [f"\t{what} key(s): {', '.join(map(repr, keys))}." for what, keys in
                     (("Unexpected", unexpected), ("Missing", missing)) if keys]
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n"
                               + "\n".join(lines))
    by_original = {id(t): given[n] for n, t in owned if n in given} if tie_weights else {}
    swaps = [(n, given.get(n, by_original.get(id(t)))) for n, t in owned]
    swaps = [(n, v) for n, v in swaps if v is not None]
    swaps += [(n, v) for n, v in given.items() if n not in names]
    restore = [_swap(module, name, value) for name, value in swaps]
    try:
        args = args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for undo in reversed(restore):
            undo()


def _swap(module, name: str, value):
    """Put `value` at the dotted `name` of module; return the function that undoes it."""
    owner_name, _, attr = name.rpartition(".")
    owner = module.get_submodule(owner_name) if owner_name else module
    for table in (owner._parameters, owner._buffers):
        if attr in table:
            old = table[attr]
            table[attr] = value
            return lambda: table.__setitem__(attr, old)
    object.__setattr__(owner, attr, value)       # not a parameter: a plain attribute, as torch
    return lambda: object.__delattr__(owner, attr)

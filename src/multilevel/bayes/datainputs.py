"""A PyMC model with its data turned into inputs: one compilation serves every data set.

Bambi builds a model whose design matrices, group indices, response, trials, offsets,
weights and (data-scaled) prior parameters are constants of the PyMC graph. Compiled
as is, the log density embeds them, so every K-fold training set, SBC replicate or
prior-grid point is a new compilation. :func:`lift_data` rewrites a copy of the
model so that those constants are read from shared inputs instead:

* every floating-point constant (data, prior means and scales) other than a scalar 0
  or 1, and
* every integer array as long as the data (group indices, integer predictors,
  counts, trials) that does not set a shape,

packed by dtype into one flat buffer each (``buffer[a:b].reshape(shape)`` in the
graph). What is left — the operations, the shapes, the offsets into the buffers and
the small structural constants (index vectors of an LKJ factor, sizes) — is the
model's *structure*; two data sets with the same structure and shapes compile to the
same code, and the buffers' values are passed to it at run time (nutpie's user
data, as ``CompiledPyMCModel.with_data`` does).

Few buffers rather than one input per constant: nutpie unrolls its unpacking of
user data per shared variable, and 18 separate inputs made numba's compile of
sleepstudy's model several times slower.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

#: Tag set on the buffers: the compile cache digests them by type, not by value.
DATA_TAG = "multilevel_data_input"


@dataclass
class Lifted:
    """A copy of a PyMC model reading its data from shared buffers.

    Attributes
    ----------
    model : pymc.Model
        The rewritten model (variables, names, orders, dims as the original's).
    buffers : list
        The shared variables, one per dtype, in a fixed order.
    values : list of ndarray
        Their values for this model's data.
    """

    model: object
    buffers: list
    values: list
    priors: list = None   # (buffer, start, stop, label) of the free variables' prior parameters
    row_dims: tuple = ()  # dims whose length (the row count) is an input, not in the structure

    def digest(self) -> str:
        """SHA-256 of the data values (what tells two data sets of one structure apart)."""
        h = hashlib.sha256()
        for value in self.values:
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        return h.hexdigest()


def lift_data(model, rows: bool = False) -> Lifted | None:
    """``model`` with its data as inputs, or ``None`` when it has no data to lift.

    The original model is left unchanged. Raises whatever PyMC's graph conversion
    raises for models it cannot convert (the caller compiles those as they are).

    With ``rows=True`` the row count is an input too (:attr:`Lifted.row_dims` names the
    dims made symbolic): the pieces as long as the data (response, design matrices,
    group indices) are ``buffer[a:b].reshape((n, ...))`` with ``n`` computed from the
    buffer's run-time length, the observations' dim length is that ``n``, and the graph is
    rebuilt so that no static shape downstream holds the row count. Training sets of
    different sizes then have one structure (K-fold folds of unequal size compile
    once). Falls back to fixed rows when the observed variables disagree on a length.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.bayes.model import build_model
    >>> from multilevel.bayes.datainputs import lift_data
    >>> built = build_model("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> lifted = lift_data(built.pymc)
    >>> [v.dtype.name for v in lifted.values]
    ['float64', 'int64']
    >>> lift_data(built.pymc, rows=True).row_dims
    ('__obs__',)
    """
    import pytensor
    from pymc.model.fgraph import fgraph_from_model, model_from_fgraph
    from pytensor.tensor.variable import TensorConstant

    fgraph, _ = fgraph_from_model(model)
    n_rows = {int(np.shape(_constant_value(model.rvs_to_values[rv]))[0])
              for rv in model.observed_RVs
              if np.ndim(_constant_value(model.rvs_to_values[rv])) >= 1}
    chosen, seen = [], set()
    for node in fgraph.toposort():
        for position, var in enumerate(node.inputs):
            if not isinstance(var, TensorConstant) or var in seen:
                continue
            seen.add(var)
            if _is_data(var, node, position, n_rows, fgraph):
                chosen.append(var)
    if not chosen:
        return None
    by_dtype: dict[str, list] = {}
    for var in chosen:
        by_dtype.setdefault(str(var.dtype), []).append(var)
    row_length = next(iter(n_rows)) if rows and len(n_rows) == 1 else None
    params = _prior_parameters(fgraph)
    layout = {dtype: _layout(by_dtype[dtype], row_length) for dtype in sorted(by_dtype)}
    buffers, values, replacements, priors = [], [], [], []
    for dtype in sorted(by_dtype):
        parts = [np.asarray(var.data, dtype=dtype).ravel() for var in by_dtype[dtype]]
        value = np.ascontiguousarray(np.concatenate(parts))
        shape = (None,) if row_length is not None else value.shape
        buffer = pytensor.shared(value, name=f"data_{dtype}", shape=shape, borrow=True)
        setattr(buffer.tag, DATA_TAG, True)
        buffers.append(buffer)
        values.append(value)
    n = _symbolic_rows(buffers, [layout[d] for d in sorted(by_dtype)]) if row_length else None
    if n is None:
        row_length = None
    for b, dtype in enumerate(sorted(by_dtype)):
        start = 0
        for var, (fixed, per_row), (at, at_per_row) in zip(
                by_dtype[dtype], layout[dtype]["pieces"], layout[dtype]["offsets"]):
            size = int(np.prod(var.type.shape, dtype=np.int64))
            if row_length is None:
                piece = (buffers[b][start] if var.ndim == 0
                         else buffers[b][start:start + size].reshape(var.type.shape))
                piece = var.type.filter_variable(piece)
            else:   # offsets a + b·n and lengths as graphs of the symbolic row count n
                begin = at + at_per_row * n if at_per_row else at
                end = begin + (per_row * n if per_row else fixed)
                piece = (buffers[b][begin] if var.ndim == 0 else buffers[b][begin:end].reshape(
                    (n, *var.type.shape[1:]) if per_row else var.type.shape))
            replacements.append((var, piece))
            if var in params:
                priors.append((b, start, start + size, params[var]))
            start += size
    if row_length is None:
        fgraph.replace_all(replacements, import_missing=True)
        row_dims: tuple = ()
    else:
        fgraph, row_dims = _rebuild(fgraph, model, dict(replacements), n, row_length)
        if fgraph is None:
            return lift_data(model, rows=False)
    lifted = model_from_fgraph(fgraph, mutate_fgraph=True)
    _same_order(lifted, model)
    return Lifted(model=lifted, buffers=buffers, values=values, priors=priors, row_dims=row_dims)


def _layout(variables: list, row_length: int | None) -> dict:
    """Each piece's (fixed size, size per row) and its offset ``(a, b)`` = ``a + b·n``."""
    pieces, offsets, at = [], [], [0, 0]
    for var in variables:
        size = int(np.prod(var.type.shape, dtype=np.int64))
        if row_length is not None and var.ndim >= 1 and var.type.shape[0] == row_length:
            piece = (0, size // row_length)
        else:
            piece = (size, 0)
        offsets.append(tuple(at))
        pieces.append(piece)
        at = [at[0] + piece[0], at[1] + piece[1]]
    return {"pieces": pieces, "offsets": offsets, "total": tuple(at)}


def _symbolic_rows(buffers: list, layouts: list):
    """The row count as a graph of the first buffer holding rows: (length − fixed) // per row."""
    for buffer, layout in zip(buffers, layouts):
        fixed, per_row = layout["total"]
        if per_row:
            return (buffer.shape[0] - fixed) // per_row
    return None


def _rebuild(fgraph, model, replacements: dict, n, row_length: int):
    """The model graph with the data pieces of symbolic length, rebuilt so that the
    static shapes downstream follow (``rebuild_strict=False``); the observations' dim
    lengths (``__obs__``) and shapes asserted as the row count are ``n`` too. Returns the
    new graph and the row dims, or ``(None, ())`` when a static shape still holds the row
    count (the caller lifts with fixed rows)."""
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.replace import clone_replace
    from pytensor.tensor.variable import TensorConstant

    row_dims = []
    for rv in model.observed_RVs:
        dims = model.named_vars_to_dims.get(rv.name) or ()
        if dims and dims[0] not in row_dims:
            row_dims.append(dims[0])
    for dim in row_dims:
        length = fgraph._dim_lengths.get(dim)
        if length is not None and length in fgraph.variables:
            replacements[length] = n.astype(length.dtype) if length.ndim == 0 else length
    for node in fgraph.apply_nodes:   # a shape asserted as the row count (hurdle families)
        if type(node.op).__name__ in ("SpecifyShape", "Alloc"):
            for var in node.inputs[1:]:
                if isinstance(var, TensorConstant) and var.ndim == 0 and var.data == row_length:
                    replacements[var] = n.astype(var.dtype)
    outputs = clone_replace(fgraph.outputs, replace=replacements, rebuild_strict=False)
    new = FunctionGraph(outputs=outputs, clone=False)
    if any(row_length in (getattr(var.type, "shape", None) or ()) for var in new.variables):
        return None, ()   # the row count is still in a static shape: rows stay fixed
    new._coords = fgraph._coords
    new._dim_lengths = fgraph._dim_lengths
    return new, tuple(row_dims)


def _prior_parameters(fgraph) -> set:
    """Constants that are parameters of the free variables' priors (inputs of a random
    variable other than the likelihood's, e.g. a data-scaled Normal(ȳ, 2.5·sd(y)))."""
    from pymc.distributions.distribution import SymbolicRandomVariable
    from pymc.model.fgraph import ModelObservedRV
    from pytensor.tensor.random.op import RandomVariable
    from pytensor.tensor.variable import TensorConstant

    observed = {node.inputs[0].owner for node in fgraph.apply_nodes
                if isinstance(node.op, ModelObservedRV)}
    out: dict = {}
    for node in fgraph.toposort():
        if node in observed:
            continue
        if isinstance(node.op, RandomVariable):   # (rng, size, *parameters)
            found = [(i, v) for i, v in enumerate(node.inputs) if i >= 2 and isinstance(v, TensorConstant)]
        elif isinstance(node.op, SymbolicRandomVariable):   # e.g. HalfStudentT(ν, s)
            found = [(i, v) for i, v in enumerate(node.inputs)
                     if isinstance(v, TensorConstant) and np.dtype(v.dtype).kind == "f"]
        else:
            continue
        owner = _free_variable_name(node, fgraph)
        for i, var in found:   # labelled by variable, not by graph order (centring reorders)
            out.setdefault(var, (owner, type(node.op).__name__, i))
    return out


def _free_variable_name(node, fgraph) -> str | None:
    """The name of the free variable a prior's random variable builds (through
    distributions nested in others, e.g. an LKJ block's ``sd_dist``)."""
    from pymc.model.fgraph import ModelFreeRV

    todo, seen = list(node.outputs), set()
    while todo:
        var = todo.pop(0)
        for client, _ in fgraph.clients.get(var, ()):
            if isinstance(client.op, ModelFreeRV):
                return client.outputs[0].name
            if client not in seen:
                seen.add(client)
                todo.extend(client.outputs)
    return None


def prior_values(lifted: Lifted) -> dict:
    """The prior parameters' values by label (free variable, distribution, input)."""
    return {label: lifted.values[b][start:stop].copy() for b, start, stop, label in lifted.priors}


def with_prior_values(lifted: Lifted, values: dict) -> Lifted:
    """``lifted`` with its prior parameters replaced by ``values`` (:func:`prior_values` of
    a model of the same formula on other data), e.g. the priors that generated SBC's data.

    Raises ValueError when the two models' prior parameters do not correspond.
    """
    mine = {label: stop - start for _, start, stop, label in lifted.priors}
    theirs = {label: len(value) for label, value in values.items()}
    if mine != theirs:
        raise ValueError(f"the prior parameters {sorted(theirs)} do not match this model's {sorted(mine)}")
    new = [value.copy() for value in lifted.values]
    for b, start, stop, label in lifted.priors:
        new[b][start:stop] = values[label]
    set_values(lifted, new)
    return dataclasses.replace(lifted, values=new)


def _constant_value(var):
    return getattr(var, "data", None)


def _is_data(var, node, position, n_rows: set, fgraph) -> bool:
    """Floats always; integer arrays as long as the data, unless they set a shape."""
    kind = np.dtype(var.dtype).kind
    if kind == "f":
        # a scalar 0 or 1 (standard-normal offsets, unit shapes) stays a constant: PyTensor
        # simplifies with it, and a data-scaled value is never exactly either
        return var.ndim >= 1 or float(var.data) not in (0.0, 1.0)
    if kind not in "iu" or var.ndim < 1 or var.type.shape[0] not in n_rows:
        return False
    return not any(_sets_shape(client, i) for client, i in fgraph.clients[var])


def _sets_shape(node, position) -> bool:
    """Whether input ``position`` of ``node`` is a size or shape argument."""
    from pytensor.tensor.random.op import RandomVariable

    op = node.op
    if isinstance(op, RandomVariable):
        return position == 1   # (rng, size, *parameters)
    name = type(op).__name__
    return position > 0 and name in ("Alloc", "AllocEmpty", "Reshape", "SpecifyShape", "Split")


def _same_order(lifted, original) -> None:
    """PyMC's conversion lists variables in graph order; restore the original order (it
    fixes the layout of the sampler's parameter vector and of the trace)."""
    for attr in ("free_RVs", "observed_RVs", "deterministics", "potentials", "data_vars"):
        rank = {v.name: i for i, v in enumerate(getattr(original, attr))}
        getattr(lifted, attr).sort(key=lambda v: rank.get(v.name, len(rank)))
    lifted.check_bounds = original.check_bounds


def set_values(lifted: Lifted, values: list) -> None:
    """Point ``lifted``'s buffers at other data of the same structure."""
    for buffer, value in zip(lifted.buffers, values):
        buffer.set_value(value, borrow=True)

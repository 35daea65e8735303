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

    def digest(self) -> str:
        """SHA-256 of the data values (what tells two data sets of one structure apart)."""
        h = hashlib.sha256()
        for value in self.values:
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        return h.hexdigest()


def lift_data(model) -> Lifted | None:
    """``model`` with its data as inputs, or ``None`` when it has no data to lift.

    The original model is left unchanged. Raises whatever PyMC's graph conversion
    raises for models it cannot convert (the caller compiles those as they are).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.bayes.model import build_model
    >>> from multilevel.bayes.datainputs import lift_data
    >>> built = build_model("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> lifted = lift_data(built.pymc)
    >>> [v.dtype.name for v in lifted.values]
    ['float64', 'int64']
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
    params = _prior_parameters(fgraph)
    buffers, values, replacements, priors = [], [], [], []
    for dtype in sorted(by_dtype):
        parts = [np.asarray(var.data, dtype=dtype).ravel() for var in by_dtype[dtype]]
        value = np.ascontiguousarray(np.concatenate(parts))
        buffer = pytensor.shared(value, name=f"data_{dtype}", shape=value.shape, borrow=True)
        setattr(buffer.tag, DATA_TAG, True)
        start = 0
        for var, part in zip(by_dtype[dtype], parts):
            piece = (buffer[start] if var.ndim == 0
                     else buffer[start:start + part.size].reshape(var.type.shape))
            replacements.append((var, var.type.filter_variable(piece)))
            if var in params:
                priors.append((len(buffers), start, start + part.size, params[var]))
            start += part.size
        buffers.append(buffer)
        values.append(value)
    fgraph.replace_all(replacements, import_missing=True)
    lifted = model_from_fgraph(fgraph, mutate_fgraph=True)
    _same_order(lifted, model)
    return Lifted(model=lifted, buffers=buffers, values=values, priors=priors)


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
    return Lifted(model=lifted.model, buffers=lifted.buffers, values=new, priors=lifted.priors)


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

"""Plots of fits (``ml.plots``): groups with their fitted lines, residuals, posterior and
prior predictive checks, caterpillar plot of group effects, forest plot.

The presentation layer: these read fits and call verbs (predictions, intervals); nothing
below imports them. Each function returns a matplotlib ``Figure`` (matplotlib is
imported when a plot is drawn, not with this package). :mod:`multilevel.plots.draw` has
the figures drawn from tables and draws (forest, rank, data against simulations),
:mod:`multilevel.plots.intervals` the interval table they show.

Examples
--------
>>> import multilevel as ml
>>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
>>> fig = ml.plots.group_panels(m, "Days")
>>> len(fig.axes)
18
"""

from multilevel.plots.conditional import conditional_effects
from multilevel.plots.fits import caterpillar, forest, group_panels, ppc, prior_predictive, residuals
from multilevel.plots.smooths import smooth, smooth_curve

__all__ = ["caterpillar", "conditional_effects", "forest", "group_panels", "ppc", "prior_predictive",
           "residuals", "smooth", "smooth_curve"]

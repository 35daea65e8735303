"""lme4's messages about a fit — dropped rank-deficient columns, non-convergence,
singular fits — shared by the LMM, GLMM, GLM and least-squares paths."""

from __future__ import annotations

from multilevel.errors import ConvergenceWarning, DataWarning, SingularFitWarning, warn
from multilevel.formula import Design


def rank_message(design: Design) -> list[str]:
    """lme4's message for dropped aliased fixed-effect columns."""
    if not design.dropped_columns:
        return []
    return [f"fixed-effect model matrix is rank deficient so dropping {len(design.dropped_columns)} "
            f"column(s): {', '.join(design.dropped_columns)}"]


def warn_fit(fit) -> None:
    """The fit's messages, non-convergence and singularity as warnings (lme4's messages)."""
    for message in fit.messages:
        warn(message, DataWarning)
    if not fit.converged:
        warn(f"The optimizer did not converge: {fit.optimizer_message}. Try rhoend=1e-12, "
             "rescaling predictors, or a simpler random-effects structure.",
             ConvergenceWarning)
    if fit.singular:
        warn(
            _singular_message(fit),
            SingularFitWarning,
        )


def _singular_message(fit) -> str:
    if getattr(getattr(fit, "opt", None), "phi", None) is not None:   # structured terms
        return (f"boundary (singular) fit: {', '.join(fit.singular_terms())}: a variance estimated "
                "as zero or a correlation at its bound (lme4's isSingular). Consider removing "
                "that term or simplifying its covariance structure.")
    return (f"boundary (singular) fit: the variance of {', '.join(fit.singular_terms())} is "
            "estimated as zero (lme4's isSingular). Consider removing that term.")

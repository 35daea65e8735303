"""Registry of extra stateful transforms that formulas may call (basis functions).

Each entry maps a formula function name to a formulae stateful transform class, so
that its fitted state (centres, scales) is reused when predicting on new data.
"""

from __future__ import annotations

FORMULA_TRANSFORMS: dict[str, object] = {}

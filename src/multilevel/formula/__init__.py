"""lme4 formula syntax: parsing, model frames and design matrices."""

from multilevel.formula.design import Design, DesignSpec, ReTerm, build_design, lme4_name
from multilevel.formula.frame import FAMILIES, ModelFrame, check_family, model_frame
from multilevel.formula.parse import Bar, ParsedFormula, parse_formula

__all__ = [
    "Bar", "Design", "DesignSpec", "FAMILIES", "ModelFrame", "ParsedFormula", "ReTerm",
    "build_design", "check_family", "lme4_name", "model_frame", "parse_formula",
]

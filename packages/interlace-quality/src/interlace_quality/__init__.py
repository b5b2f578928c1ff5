"""interlace-quality: data quality checks for Interlace models, and the runner core uses.

Installing the distribution registers :class:`~interlace_quality.runner.QualityRunner` under the
``interlace.checks`` entry point; models then declare checks::

    @model(quality_checks=[{"not_null": "id"}, {"unique": "id"}])
    def orders(): ...

Check types: ``not_null``, ``unique``, ``accepted_values``, ``row_count``, ``freshness``,
``expression``, ``relationships``, ``range`` (see docs/quality.md).
"""

from __future__ import annotations

from interlace_quality.checks import CHECK_TYPES
from interlace_quality.runner import QualityRunner

__version__ = "0.1.0"

__all__ = ["CHECK_TYPES", "QualityRunner", "__version__"]

"""Imports every domain's tables so ``Base.metadata`` is complete (Alembic, tests, set-up)."""

from cityops.analytics import models as analytics_models
from cityops.auth import models as auth_models
from cityops.cases import models as case_models
from cityops.catalog import models as catalog_models
from cityops.geo import models as geo_models
from cityops.hotline import models as hotline_models
from cityops.ops import models as ops_models  # noqa: F401  (ops and open311 tables)
from cityops.simulate import models as simulate_models  # noqa: F401

__all__ = [
    "analytics_models",
    "auth_models",
    "case_models",
    "catalog_models",
    "geo_models",
    "hotline_models",
]

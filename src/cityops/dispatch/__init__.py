"""Dispatch suggestions learned from history: which minor class and department fits a text.

Owns the text classifier (``textclf``), its cross-validated evaluation (``evaluation``), training
from closed cases and the suggestion use case (``service``), the ``/dispatch`` routes (``api``)
and the ``cityops dispatch`` commands (``cli``). Models are files under the data dir, not
tables. Reads ``cases`` models; must not import ``web``, ``cli`` or other domains' services.
"""

"""catalog domain: component/event classes (部件/事件) with deadlines and criteria, catalogue
versions, departments (as org units) and routing rules.

Owns the tables ``catalog_versions``, ``catalog_classes`` and ``routing_rules``; writes org
units only through ``cityops.auth.service``. Must not import ``cases``, ``dispatch`` or ``web``:
cases call ``catalog.service.resolve_class`` and ``catalog.routing.suggest_department``.
"""

"""A district's workload over time: demo data, realistic volume for benchmarks, a live feed.

Owns the ``simulation_runs`` table and the generative model (staff, hotspots, arrivals, Chinese
free text, departments' speed). Every case change goes through the case rules: per action via
``cases.service`` or in batches via ``cases.bulk`` (same ``lifecycle.apply``, same clock).
Must not be imported by any domain package; only the CLI and the demo import it.
"""

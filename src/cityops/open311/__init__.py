"""Open311 GeoReport v2 for citizens' apps (随手拍, mini-programs): services, requests, tokens.

Owns the api-key and submission tables. Reads the catalogue, cases and org units; writes cases
only through ``cases.service.report_case``. Must not import web pages or other domains' routes.
"""

"""Evaluation (绩效评价): indicators per period and subject, weighted composites and rankings,
drill-down to the cases behind each figure, and the Excel workbooks offices exchange.

Owns no tables: it reads cases, case events, regions, users, org units and hotline requests
(through ``hotline.rates`` for the three rates). It must not write to any other domain and must
not be imported by the case or hotline services.
"""

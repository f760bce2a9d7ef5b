"""The 12345 hotline (接诉即办): calls, knowledge base, replies, callbacks, the three rates.

Owns the hotline tables (``models``): requests (one per call), callbacks (回访), knowledge
articles and the per-district policy (deadlines, rate weights). A request that needs handling
becomes a case through ``cases.service.report_case``; every later change of that case (reopen
after a "not resolved" callback) goes through ``cases.service.act``. Reads ``cases``, ``auth``,
``geo`` and ``dispatch`` (suggestions, duplicates); must not import ``web`` or ``cli``.
"""

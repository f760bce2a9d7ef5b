"""Operations: backup and restore, signed webhooks for other bureaus, bulk exports.

Reads every domain's tables (backup, export) and writes only its own (webhooks) — except
restore, which loads a whole database into an empty one. Must not import web routes.
"""

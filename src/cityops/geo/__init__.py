"""geo: the geography of a district — regions (district > street > community > unit grid),
grid generation, the geocoder, map layers and responsibility areas.

Owns the tables ``regions``, ``geo_generations`` and ``responsibility_areas``. Other domains
call ``geo.service.locate`` / ``locate_many`` / ``get_region`` and read ``geo.models``; geo
reads the cases table only to count cases per region on map layers and writes through the auth
service only for audit entries and the district row. It must not import ``cases`` services.
Geometries are stored in WGS84; GCJ-02 and BD-09 exist only at the edges (``coords``).
"""

"""Analytics: incremental roll-ups of case events and the questions asked of them — counts
and rates by time, class, region, source and department; trends; hotspots; anomalies;
recurring problems."""

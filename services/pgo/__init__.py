"""PGO (DVP) server."""

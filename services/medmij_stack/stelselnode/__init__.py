"""MedMij Stelselnode: publishes the ZAL, OCL, GNL and Whitelist."""

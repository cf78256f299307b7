"""DVA Resource Server: FHIR gegevensdiensten per zorgaanbieder."""

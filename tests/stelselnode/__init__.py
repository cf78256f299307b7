"""Tests of the Stelselnode: publishing with a rising Volgnummer, and its app."""

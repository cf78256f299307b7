"""Tests of the `stack` package: worlds, publication, the `medmij` command."""

"""`python -m stack` is the `medmij` command."""

from .cli import app

app(prog_name="medmij")

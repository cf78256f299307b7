"""`python -m medmij_stack.wiring` is the `medmij` command."""

from .cli import app

app(prog_name="medmij")

"""The `medmij` command."""

import typer

app = typer.Typer(help="The MedMij reference stack.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("0.1.0")

"""`sanad eval ...` commands."""
from __future__ import annotations

import typer

eval_app = typer.Typer(help="Evaluate retrieval and answers against gold Q&A pairs.", no_args_is_help=True)

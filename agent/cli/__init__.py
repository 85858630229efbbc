"""The ``bianque`` command line: one typer sub-app per noun, thin commands over the library."""

"""One module per node; each is a plain function ``(state, toolkit) -> partial update``."""

"""``python -m agent.cli``: the ``bianque`` command without its console script."""

from agent.cli.app import main

if __name__ == "__main__":
    main()

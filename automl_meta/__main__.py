"""`python -m automl_meta` runs the `automl` command."""

from automl_meta.cli import main

if __name__ == "__main__":
    main()

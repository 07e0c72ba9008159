"""Allow ``python -m hrc``."""

from hrc.cli import main

if __name__ == "__main__":
    main()

"""Print the requirements of pyproject.toml, one a line, for pip -r.

Usage: python3 requirements.py pyproject.toml [EXTRA ...]

Prints the project's dependencies and those of each named extra, except
torch (installed on its own from the CPU wheel). Standard library only, so it
runs in a bare base image before anything is installed.
"""

import sys

import tomllib


def main(path: str, extras: list[str]) -> None:
    with open(path, "rb") as handle:
        project = tomllib.load(handle)["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements.extend(project["optional-dependencies"][extra])
    for requirement in requirements:
        if not requirement.replace(" ", "").startswith("torch"):
            print(requirement)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])

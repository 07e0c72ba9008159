"""Dataset tags: the rules, checked in one place.

A tag is ``#`` followed by 1 to 64 characters, each a letter, a digit, ``_``,
``-`` or ``.``: ``#X``, ``#gtex_v8``, ``#dataset`` (the tags of the 2020 tool)
are valid. Tags are case-sensitive, as in 2020 (``#X`` is not ``#x``). A
dataset carries at least one tag and no tag twice. A search matches datasets
whose tags include every tag searched for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hrc.errors import UsageError

TAG_PATTERN = re.compile(r"#[A-Za-z0-9_.\-]{1,64}")
TAG_RULE = "'#' then 1-64 letters, digits, '_', '-' or '.', e.g. '#gtex_v8'"


def check_tag(tag: str, option: str = "--tags") -> str:
    """Return ``tag`` if it follows the rules, else raise.

    Raises
    ------
    UsageError
        Naming the option, the tag and the rule; a tag without the leading
        ``#`` gets the corrected spelling as a hint.
    """
    if TAG_PATTERN.fullmatch(tag):
        return tag
    hint = ""
    if tag and not tag.startswith("#") and TAG_PATTERN.fullmatch("#" + tag):
        hint = f" (did you mean '#{tag}'?)"
    raise UsageError(f"{option}: malformed tag {tag!r}{hint}; a tag is {TAG_RULE}")


def parse_tags(values: Iterable[str], option: str = "--tags") -> tuple[str, ...]:
    """Check a list of tags and return it as a tuple, in the order given.

    Each value may itself hold several tags separated by spaces or commas
    (``"#X #gtex_v8"``), as typed on a command line.

    Raises
    ------
    UsageError
        If no tag is given, a tag is malformed, or a tag appears twice.
    """
    tags: list[str] = []
    for value in values:
        tags.extend(part for part in re.split(r"[\s,]+", str(value)) if part)
    if not tags:
        raise UsageError(f"{option}: give at least one tag, e.g. '#gtex_v8'")
    seen: set[str] = set()
    for tag in tags:
        check_tag(tag, option)
        if tag in seen:
            raise UsageError(f"{option}: tag {tag!r} is given twice; give each once")
        seen.add(tag)
    return tuple(tags)


def matches(dataset_tags: Iterable[str], wanted: Iterable[str]) -> bool:
    """True when ``dataset_tags`` include every tag of ``wanted``."""
    return set(wanted) <= set(dataset_tags)

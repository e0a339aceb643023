"""Parse a judge's raw output in the XIFBench requirement-evaluation format.

The format (XIFBench appendix C, tables 16-17) is one section per requirement:

    ## Requirement 1: Does the response ...?
    ### Observation
    The response ...
    ### Decision
    YES

Judges decorate their answers (`**YES**`, `Yes.`), so the decision is read from the first
word of the Decision section, ignoring markdown emphasis and punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# [ \t], not \s: a heading must not run on into the next line (a bare "## Requirement 1:"
# would otherwise take the "### Observation" line below it as its title).
_SECTION = re.compile(r"^[ \t]*#{1,3}[ \t]*Requirement[ \t]+(\d+)[ \t]*[:.\-]?[ \t]*(.*)$",
                      re.IGNORECASE | re.MULTILINE)
_SUBHEADING = re.compile(r"^[ \t]*#{2,4}[ \t]*(Observation|Decision)[ \t]*:?[ \t]*(.*)$",
                         re.IGNORECASE | re.MULTILINE)
_DECISION_WORD = re.compile(r"[A-Za-z]+")


class RawJudgeError(ValueError):
    """The raw text does not follow the format; `requirement` is the 1-based number or None."""

    def __init__(self, message: str, requirement: int | None = None) -> None:
        self.requirement = requirement
        super().__init__(message)


@dataclass(frozen=True)
class RawDecision:
    number: int
    decision: bool
    observation: str


def parse_raw_judgment(text: str, expected: int) -> list[RawDecision]:
    """Return one decision per requirement, in order; raise RawJudgeError otherwise."""
    sections = list(_SECTION.finditer(text))
    if not sections:
        if expected == 0:
            return []
        raise RawJudgeError("no '## Requirement N:' section found", requirement=1)
    decisions: list[RawDecision] = []
    for index, match in enumerate(sections):
        number = int(match.group(1))
        if number != index + 1:
            raise RawJudgeError(
                f"requirement {number} found where requirement {index + 1} was expected",
                requirement=index + 1,
            )
        end = sections[index + 1].start() if index + 1 < len(sections) else len(text)
        decisions.append(_parse_section(number, text[match.end():end]))
    if len(decisions) != expected:
        raise RawJudgeError(
            f"has {len(decisions)} requirement sections but the group has {expected} requirements",
            requirement=min(len(decisions), expected) + 1,
        )
    return decisions


def _parse_section(number: int, body: str) -> RawDecision:
    parts: dict[str, str] = {}
    headings = list(_SUBHEADING.finditer(body))
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        # The text after the heading word, on its line ("### Decision: YES") and below it.
        parts[heading.group(1).lower()] = body[heading.start(2):end]
    if "decision" not in parts:
        raise RawJudgeError(f"requirement {number}: no '### Decision' section", number)
    word = _DECISION_WORD.search(parts["decision"])
    verdict = word.group(0).upper() if word else ""
    if verdict not in {"YES", "NO"}:
        shown = parts["decision"].strip()[:40] or "nothing"
        raise RawJudgeError(f"requirement {number}: decision is {shown!r}, not YES or NO", number)
    return RawDecision(number=number, decision=verdict == "YES",
                       observation=parts.get("observation", "").strip())

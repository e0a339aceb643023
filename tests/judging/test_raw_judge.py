"""The parser of raw judge output in the XIFBench requirement-evaluation format (spec section 2,
XIFBench appendix C tables 16-17). Pure function: no database."""

from __future__ import annotations

import pytest

from judging.raw_judge import RawDecision, RawJudgeError, parse_raw_judgment


def section(number: int, decision: str, observation: str = "", title: str = "Is it so?") -> str:
    head = f"## Requirement {number}: {title}" if title else f"## Requirement {number}:"
    return f"{head}\n### Observation\n{observation or f'obs {number}'}\n### Decision\n{decision}\n"


def raw(*decisions: str) -> str:
    return "\n".join(section(n, d) for n, d in enumerate(decisions, start=1))


def test_well_formed_output_gives_one_decision_per_requirement_in_order():
    text = (
        "## Requirement 1: Does the response thank the neighbour?\n"
        "### Observation\n"
        "The note thanks the neighbour for looking after the plants.\n"
        "It does so in the first sentence.\n"
        "### Decision\n"
        "YES\n"
        "\n"
        "## Requirement 2: Is the note signed with a first name only?\n"
        "### Observation\n"
        "The note is signed with a full name, Daniel Morgan.\n"
        "### Decision\n"
        "NO\n"
    )
    assert parse_raw_judgment(text, expected=2) == [
        RawDecision(1, True, "The note thanks the neighbour for looking after the plants.\n"
                             "It does so in the first sentence."),
        RawDecision(2, False, "The note is signed with a full name, Daniel Morgan."),
    ]


@pytest.mark.parametrize(("written", "expected"), [
    ("YES", True), ("NO", False), ("yes", True), ("no", False),
    ("**YES**", True), ("**NO**", False), ("Yes.", True), ("No.", False),
    ("*Yes*", True), ("`NO`", False), ("YES - the response does this.", True),
    ("No, it does not.", False), ("  \n\n  YES\n\n", True),
])
def test_decorated_decisions_are_read_from_their_first_word(written, expected):
    [decision] = parse_raw_judgment(section(1, written), expected=1)
    assert decision.decision is expected


def test_decision_and_observation_on_the_heading_line():
    text = ("## Requirement 1: Is it short?\n### Observation: One paragraph.\nStill short.\n"
            "### Decision: **YES**\n")
    assert parse_raw_judgment(text, expected=1) == [
        RawDecision(1, True, "One paragraph.\nStill short.")]


def test_heading_without_title_keeps_the_observation():
    """A bare `## Requirement 1:` line must not swallow the `### Observation` heading below."""
    text = "## Requirement 1:\n### Observation\nIt is short.\n### Decision\nNO\n"
    assert parse_raw_judgment(text, expected=1) == [RawDecision(1, False, "It is short.")]


def test_preamble_and_crlf_line_endings_are_tolerated():
    text = ("Here is my evaluation.\r\n\r\n" + raw("YES", "NO")).replace("\n", "\r\n")
    decisions = parse_raw_judgment(text, expected=2)
    assert [d.decision for d in decisions] == [True, False]
    assert decisions[0].observation == "obs 1"


def test_missing_observation_is_allowed_and_empty():
    text = "## Requirement 1: Is it so?\n### Decision\nYES\n"
    assert parse_raw_judgment(text, expected=1) == [RawDecision(1, True, "")]


@pytest.mark.parametrize("order", [(2, 1), (1, 3), (1, 1), (0, 1)])
def test_numbering_out_of_order_is_an_error_naming_the_position(order):
    text = "\n".join(section(n, "YES") for n in order)
    with pytest.raises(RawJudgeError) as excinfo:
        parse_raw_judgment(text, expected=2)
    wrong = next(i for i, n in enumerate(order, start=1) if n != i)
    assert excinfo.value.requirement == wrong
    assert f"requirement {wrong} was expected" in str(excinfo.value)


def test_missing_decision_section_names_the_requirement():
    text = section(1, "YES") + "## Requirement 2: Is it so?\n### Observation\nno verdict given\n"
    with pytest.raises(RawJudgeError) as excinfo:
        parse_raw_judgment(text, expected=2)
    assert excinfo.value.requirement == 2
    assert "requirement 2: no '### Decision' section" in str(excinfo.value)


@pytest.mark.parametrize("verdict", ["", "MAYBE", "Partially", "N/A", "1"])
def test_decision_that_is_not_yes_or_no_names_the_requirement(verdict):
    text = section(1, "YES") + section(2, verdict) + section(3, "NO")
    with pytest.raises(RawJudgeError) as excinfo:
        parse_raw_judgment(text, expected=3)
    assert excinfo.value.requirement == 2
    assert "not YES or NO" in str(excinfo.value)


def test_too_many_sections_names_the_first_extra_requirement():
    with pytest.raises(RawJudgeError) as excinfo:
        parse_raw_judgment(raw("YES", "NO", "YES"), expected=2)
    assert excinfo.value.requirement == 3
    assert "3 requirement sections but the group has 2" in str(excinfo.value)


def test_too_few_sections_names_the_first_missing_requirement():
    with pytest.raises(RawJudgeError) as excinfo:
        parse_raw_judgment(raw("YES", "NO"), expected=4)
    assert excinfo.value.requirement == 3
    assert "2 requirement sections but the group has 4" in str(excinfo.value)


def test_no_section_at_all_names_requirement_1():
    with pytest.raises(RawJudgeError) as excinfo:
        parse_raw_judgment("The response is fine. YES.", expected=2)
    assert excinfo.value.requirement == 1


def test_no_section_for_a_group_without_requirements_is_empty():
    assert parse_raw_judgment("Nothing to evaluate.", expected=0) == []

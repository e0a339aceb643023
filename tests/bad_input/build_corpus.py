"""Writes the malformed files of this folder and manifest.json (run: python build_corpus.py).

Each entry: the file, its importer, whether it needs the demo benchmark loaded, and the
`file:line: field` prefix (plus a fragment of the message) that its refusal must start with.
Files too big to commit (the 50 MB line, deep nesting) are listed with `generate` and made
at test time by tests/test_bad_input.py.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = "task,unit,annotator,field,value,note\n"


def item(key: str, lang: str = "en", group: str | None = None, **extra) -> dict:
    record = {"id": key, "language": lang, "instruction": f"Write about {key}.",
              "requirements": [{"id": "r1", "text": "Is it polite?"},
                               {"id": "r2", "text": "Is it short?"}]}
    if group:
        record["group"] = group
    record.update(extra)
    return record


def response(**extra) -> dict:
    record = {"item": "easy-001-en", "model": "bad-model", "response": "Blue light scatters.",
              "judgments": [{"judge": "j1", "protocol": "requirements",
                             "decisions": [{"requirement": "r1", "decision": "YES"},
                                           {"requirement": "r2", "decision": "NO"}]}]}
    record.update(extra)
    return record


def score(value: str) -> bytes:
    base = json.dumps(response(judgments=[{"judge": "j1", "protocol": "direct_score",
                                           "score": 5}]))
    return (base.replace('"score": 5', f'"score": {value}') + "\n").encode()


def pair(key: str = "bad-p1", **extra) -> dict:
    record = {"id": key, "language": "en", "instruction": "Say hi.", "model_a": "m1",
              "response_a": "hi", "model_b": "m2", "response_b": "hello",
              "judgments": [{"judge": "j1", "preference": "a"}]}
    record.update(extra)
    return record


def jsonl(*records) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


RAW_TWO = ("## Requirement 1: Is it polite?\n### Observation\nYes.\n### Decision\nYES\n"
           "## Requirement 2: Is it short?\n### Observation\nIt is.\n")
RAW_THREE = RAW_TWO + "### Decision\nNO\n## Requirement 3: Extra?\n### Decision\nYES\n"
LABEL = "instruction_validation,easy-001-en,{who},clarity,yes,\n"

# (file, importer, needs_demo, expected prefix, contents)
CORPUS: list[tuple[str, str, bool, str, bytes]] = [
    # --- 1. benchmark ---
    ("b01_invalid_json.jsonl", "benchmark", False, "2: invalid JSON",
     jsonl(item("a")) + b'{"id": "b", "language": "en",\n'),
    ("b02_not_an_object.jsonl", "benchmark", False, "1: expected a JSON object",
     b'["a", "en", "Write."]\n'),
    ("b03_missing_id.jsonl", "benchmark", False, "1: id: missing",
     jsonl({k: v for k, v in item("a").items() if k != "id"})),
    ("b04_missing_requirements.jsonl", "benchmark", False, "1: requirements: missing",
     jsonl({k: v for k, v in item("a").items() if k != "requirements"})),
    ("b05_requirement_without_id.jsonl", "benchmark", False, "1: requirements[1].id: missing",
     jsonl(item("a", requirements=[{"id": "r1", "text": "A?"}, {"text": "B?"}]))),
    ("b06_unknown_field.jsonl", "benchmark", False, "2: instructions: unknown field",
     jsonl(item("a"), item("b", instructions="typo"))),
    ("b07_wrong_type.jsonl", "benchmark", False, "1: instruction: expected a string",
     jsonl(item("a", instruction=42))),
    ("b08_requirements_not_a_list.jsonl", "benchmark", False,
     "1: requirements: expected a list", jsonl(item("a", requirements={"id": "r1"}))),
    ("b09_duplicate_ids.jsonl", "benchmark", False, "3: id: duplicate id 'a'",
     jsonl(item("a"), item("b"), item("a"))),
    ("b10_group_requirements_differ.jsonl", "benchmark", False,
     "2: requirements: differ from line 1",
     jsonl(item("g-en", group="g"),
           item("g-zh", "zh", group="g", requirements=[{"id": "r1", "text": "Polite?"}]))),
    ("b11_two_lines_one_language.jsonl", "benchmark", False, "2: language: group 'g'",
     jsonl(item("g-en", group="g"), item("g-en2", group="g"))),
    ("b12_bad_language_tag.jsonl", "benchmark", False, "1: language: 'english!'",
     jsonl(item("a", language="english!"))),
    ("b13_bad_resource_level.jsonl", "benchmark", False, "1: resource_level: 'huge'",
     jsonl(item("a", resource_level="huge"))),
    ("b14_meta_not_an_object.jsonl", "benchmark", False, "1: meta: expected an object",
     jsonl(item("a", meta=[1, 2]))),
    ("b15_id_with_separator.jsonl", "benchmark", False, "1: id: must not contain",
     jsonl(item("a|b"))),
    ("b16_duplicate_requirement_id.jsonl", "benchmark", False,
     "1: requirements[1].id: duplicate requirement id",
     jsonl(item("a", requirements=[{"id": "r1", "text": "A?"}, {"id": "r1", "text": "B?"}]))),
    ("b17_requirements_differ_from_database.jsonl", "benchmark", True,
     "1: requirements: differ from those of group 'easy-001'",
     jsonl(item("easy-001-en", group="easy-001", subset="easy"))),
    ("b18_language_taken_in_database.jsonl", "benchmark", True,
     "1: language: group 'easy-001' already has a 'en' item",
     jsonl(item("easy-001-en-bis", group="easy-001"))),
    ("b19_utf16.jsonl", "benchmark", False, "1: not valid UTF-8: the file is UTF-16",
     jsonl(item("a")).decode().encode("utf-16")),
    ("b20_latin1.jsonl", "benchmark", False, "2: not valid UTF-8",
     jsonl(item("a")) + json.dumps(item("b", instruction="Café crème"),
                                   ensure_ascii=False).encode("latin-1") + b"\n"),
    ("b21_bom_then_missing_field.jsonl", "benchmark", False, "1: instruction: missing",
     b"\xef\xbb\xbf" + jsonl({k: v for k, v in item("a").items() if k != "instruction"})),
    ("b22_crlf_wrong_type.jsonl", "benchmark", False, "2: group: expected a string",
     jsonl(item("a"), item("b", group=7)).replace(b"\n", b"\r\n")),
    ("b23_nul_byte.jsonl", "benchmark", False, "1: invalid JSON",
     jsonl(item("a")).replace(b"Write", b"Wr\x00ite")),
    ("b24_nul_escape.jsonl", "benchmark", False, "1: instruction: contains a NUL character",
     jsonl(item("a", instruction="Wr\u0000ite"))),
    ("b25_huge_integer.jsonl", "benchmark", False, "1: invalid JSON (a number with too many",
     jsonl(item("a", meta={"n": 1})).replace(b'"n": 1', b'"n": ' + b"9" * 5000)),
    ("b26_nan_in_meta.jsonl", "benchmark", False, "1: meta.x: NaN is not a JSON number",
     jsonl(item("a", meta={"x": 1})).replace(b'"x": 1', b'"x": NaN')),
    ("b27_duplicate_key.jsonl", "benchmark", False, "1: id: given twice in one object",
     jsonl(item("a")).replace(b'{"id": "a"', b'{"id": "a", "id": "b"')),
    ("b28_lone_surrogate.jsonl", "benchmark", False, "1: instruction: contains a lone surrogate",
     jsonl(item("a")).replace(b"Write", b"Wr\\ud800ite")),
    ("b29_id_too_long.jsonl", "benchmark", False, "1: id: longer than 200 characters",
     jsonl(item("x" * 300))),
    ("b30_empty.jsonl", "benchmark", False, "1: the file has no records", b""),
    ("b31_blank_lines_only.jsonl", "benchmark", False, "1: the file has no records",
     b"\n  \n\t\n"),
    ("b32_empty_requirement_text.jsonl", "benchmark", False, "1: requirements[0].text: empty",
     jsonl(item("a", requirements=[{"id": "r1", "text": " "}]))),
    ("b33_deep_meta.jsonl", "benchmark", False, "1: meta",
     jsonl(item("a", meta={"x": 1})).replace(b'"x": 1', b'"x": ' + b"[" * 150 + b"]" * 150)),
    ("b34_seed_differs_in_group.jsonl", "benchmark", False, "2: seed: 'other'",
     jsonl(item("g-en", group="g", seed="s"), item("g-zh", "zh", group="g", seed="other"))),
    # --- 2. responses ---
    ("r01_unknown_item.jsonl", "responses", True, "1: item: no item 'nope-001-en'",
     jsonl(response(item="nope-001-en"))),
    ("r02_missing_model.jsonl", "responses", True, "1: model: missing",
     jsonl({k: v for k, v in response().items() if k != "model"})),
    ("r03_bad_decision.jsonl", "responses", True,
     "1: judgments[0].decisions[0].decision: 'MAYBE' is not",
     jsonl(response()).replace(b'"decision": "YES"', b'"decision": "MAYBE"')),
    ("r04_unknown_requirement.jsonl", "responses", True,
     "1: judgments[0].decisions[1].requirement: the item's group has no requirement 'r9'",
     jsonl(response()).replace(b'"requirement": "r2"', b'"requirement": "r9"')),
    ("r05_requirement_without_decision.jsonl", "responses", True,
     "1: judgments[0].decisions: no decision on requirement(s) r2",
     jsonl(response(judgments=[{"judge": "j1", "protocol": "requirements",
                                "decisions": [{"requirement": "r1", "decision": True}]}]))),
    ("r06_raw_missing_decision.jsonl", "responses", True,
     "1: judgments[0].raw requirement 2: requirement 2: no '### Decision' section",
     jsonl(response(judgments=[{"judge": "j1", "protocol": "requirements", "raw": RAW_TWO}]))),
    ("r07_raw_too_many_requirements.jsonl", "responses", True,
     "1: judgments[0].raw requirement 3: has 3 requirement sections",
     jsonl(response(judgments=[{"judge": "j1", "protocol": "requirements",
                                "raw": RAW_THREE.replace("It is.\n", "It is.\n")}]))),
    ("r08_raw_without_sections.jsonl", "responses", True,
     "1: judgments[0].raw requirement 1: no '## Requirement N:' section found",
     jsonl(response(judgments=[{"judge": "j1", "protocol": "requirements",
                                "raw": "Looks fine to me. YES"}]))),
    ("r09_score_out_of_range.jsonl", "responses", True,
     "1: judgments[0].score: 11 is outside 1..10", score("11")),
    ("r10_score_nan.jsonl", "responses", True,
     "1: judgments[0].score: NaN is not a JSON number", score("NaN")),
    ("r11_score_infinity.jsonl", "responses", True,
     "1: judgments[0].score: Infinity is not a JSON number", score("Infinity")),
    ("r12_score_overflow.jsonl", "responses", True,
     "1: judgments[0].score: number too large", score("1e400")),
    ("r13_score_string.jsonl", "responses", True,
     "1: judgments[0].score: expected a number, got a string", score('"7"')),
    ("r14_score_boolean.jsonl", "responses", True,
     "1: judgments[0].score: expected a number, got a boolean", score("true")),
    ("r15_score_negative.jsonl", "responses", True,
     "1: judgments[0].score: -3 is outside 1..10", score("-3")),
    ("r16_duplicate_response.jsonl", "responses", True,
     "2: model: a response of 'bad-model' to 'easy-001-en' is already on line 1",
     jsonl(response(), response())),
    ("r17_unknown_protocol.jsonl", "responses", True,
     "1: judgments[0].protocol: 'vibes' is not one of",
     jsonl(response(judgments=[{"judge": "j1", "protocol": "vibes"}]))),
    ("r18_judgments_not_a_list.jsonl", "responses", True,
     "1: judgments: expected a list, got an object",
     jsonl(response(judgments={"judge": "j1"}))),
    ("r19_decisions_and_raw.jsonl", "responses", True,
     "1: judgments[0].decisions: give exactly one of 'decisions' and 'raw'",
     jsonl(response(judgments=[{"judge": "j1", "protocol": "requirements",
                                "decisions": [], "raw": RAW_TWO}]))),
    ("r20_unknown_judgment_field.jsonl", "responses", True,
     "1: judgments[0].verdict: unknown field",
     jsonl(response(judgments=[{"judge": "j1", "protocol": "direct_score", "score": 4,
                                "verdict": "ok"}]))),
    ("r21_bad_dimension.jsonl", "responses", True,
     "1: judgments[0].dimension: 'Helpfulness!' is not a lower-case name",
     jsonl(response(judgments=[{"judge": "j1", "protocol": "direct_score", "score": 4,
                                "dimension": "Helpfulness!"}]))),
    ("r22_model_too_long.jsonl", "responses", True, "1: model: longer than 200 characters",
     jsonl(response(model="m" * 201))),
    ("r23_nul_in_model.jsonl", "responses", True, "1: model: contains a NUL character",
     jsonl(response(model="bad\u0000model"))),
    ("r24_duplicate_key_in_judgment.jsonl", "responses", True,
     "1: judgments[0].score: given twice in one object",
     score("4").replace(b'"score": 4', b'"score": 4, "score": 11')),
    # --- 3. pairs ---
    ("p01_bad_preference.jsonl", "pairs", False,
     "1: judgments[0].preference: 'c' is not a, b or tie",
     jsonl(pair(judgments=[{"judge": "j1", "preference": "c"}]))),
    ("p02_duplicate_pair_id.jsonl", "pairs", False, "2: id: duplicate id 'bad-p1'",
     jsonl(pair(), pair())),
    ("p03_missing_response.jsonl", "pairs", False, "1: response_b: missing",
     jsonl({k: v for k, v in pair().items() if k != "response_b"})),
    ("p04_swapped_not_boolean.jsonl", "pairs", False,
     "1: judgments[0].swapped: expected true or false",
     jsonl(pair(judgments=[{"judge": "j1", "preference": "a", "swapped": "yes"}]))),
    ("p05_judged_twice.jsonl", "pairs", False, "1: judgments[1].judge: 'j1' judged this pair",
     jsonl(pair(judgments=[{"judge": "j1", "preference": "a"},
                           {"judge": "j1", "preference": "b"}]))),
    ("p06_wrong_type.jsonl", "pairs", False, "1: model_a: expected a string, got a list",
     jsonl(pair(model_a=["m1"]))),
    ("p07_infinity_preference_list.jsonl", "pairs", False,
     "1: judgments[0].preference: -Infinity is not a JSON number",
     jsonl(pair()).replace(b'"preference": "a"', b'"preference": -Infinity')),
    # --- 4. labels ---
    ("l01_wrong_delimiter.csv", "labels", True, "1: header: missing column(s)",
     (HEADER + LABEL.format(who="ana")).replace(",", ";").encode()),
    ("l02_unbalanced_quote.csv", "labels", True, "2: malformed CSV",
     (HEADER + 'instruction_validation,easy-001-en,ana,clarity,yes,"open note\n'
      + LABEL.format(who="ben")).encode()),
    ("l03_unknown_task.csv", "labels", True, "2: task: 'vibe_check'",
     (HEADER + "vibe_check,easy-001-en,ana,clarity,yes,\n").encode()),
    ("l04_unknown_field.csv", "labels", True, "2: field: 'beauty'",
     (HEADER + "instruction_validation,easy-001-en,ana,beauty,yes,\n").encode()),
    ("l05_unknown_unit.csv", "labels", True, "2: unit: no item 'nope-001-en'",
     (HEADER + "instruction_validation,nope-001-en,ana,clarity,yes,\n").encode()),
    ("l06_unit_without_requirement.csv", "labels", True, "2: unit: 'easy-001-en' names no",
     (HEADER + "requirement_assessment,easy-001-en,ana,explicitness,yes,\n").encode()),
    ("l07_unknown_requirement_unit.csv", "labels", True,
     "2: unit: item 'easy-001-en' has no requirement 'r9'",
     (HEADER + "requirement_assessment,easy-001-en#r9,ana,atomicity,no,\n").encode()),
    ("l08_quality_out_of_range.csv", "labels", True, "2: value: '6' is not one of",
     (HEADER + "translation_validation,easy-001-zh,ana,quality,6,\n").encode()),
    ("l09_translation_of_english_item.csv", "labels", True,
     "2: unit: 'easy-001-en' is an English item",
     (HEADER + "translation_validation,easy-001-en,ana,quality,4,\n").encode()),
    ("l10_duplicate_label.csv", "labels", True, "3: field: a second 'clarity' label",
     (HEADER + LABEL.format(who="ana") + LABEL.format(who="ana")).encode()),
    ("l11_empty_annotator.csv", "labels", True, "2: annotator: empty",
     (HEADER + LABEL.format(who=" ")).encode()),
    ("l12_wrong_column_count.csv", "labels", True, "2: 4 columns where the header has 6",
     (HEADER + "instruction_validation,easy-001-en,ana,clarity\n").encode()),
    ("l13_empty.csv", "labels", True, "1: the file is empty", b""),
    ("l14_header_only.csv", "labels", True, "2: the file has a header but no labels",
     HEADER.encode()),
    ("l15_latin1.csv", "labels", True, "3: not valid UTF-8",
     (HEADER + LABEL.format(who="ana")
      + "instruction_validation,easy-001-en,zoë,clarity,no,\n").encode("latin-1")),
    ("l16_utf16.csv", "labels", True, "1: not valid UTF-8: the file is UTF-16",
     (HEADER + LABEL.format(who="ana")).encode("utf-16")),
    ("l17_nul_in_annotator.csv", "labels", True, "2: annotator: contains a NUL character",
     (HEADER + LABEL.format(who="an\x00a")).encode()),
    ("l18_unknown_column.csv", "labels", True, "1: header: unknown column(s) confidence",
     (HEADER.strip() + ",confidence\n" + LABEL.format(who="ana").strip() + ",0.9\n").encode()),
    ("l19_bom_crlf_bad_value.csv", "labels", True, "3: value: 'maybe' is not one of",
     b"\xef\xbb\xbf" + (HEADER + LABEL.format(who="ana")
                        + "instruction_validation,easy-001-en,ben,clarity,maybe,\n"
                        ).replace("\n", "\r\n").encode()),
    ("l20_annotator_too_long.csv", "labels", True, "2: annotator: longer than 150 characters",
     (HEADER + LABEL.format(who="a" * 151)).encode()),
    ("l21_unknown_judge_decision.csv", "labels", True, "2: unit: no judge decision",
     (HEADER + "judge_agreement,easy-001-en|nobody|r1|j1,ana,agree,yes,\n").encode()),
    ("l22_stray_quote.csv", "labels", True, "2: malformed CSV",
     (HEADER + 'instruction_validation,easy-001-en,"ana"x,clarity,yes,\n').encode()),
    ("l23_unknown_pair.csv", "labels", True, "2: unit: no pair 'pair-999'",
     (HEADER + "pairwise_preference,pair-999,ana,preference,a,\n").encode()),
    ("l24_stray_quote_in_header.csv", "labels", True, "1: header: malformed CSV",
     ('"task"s,unit,annotator,field,value,note\n' + LABEL.format(who="ana")).encode()),
]

# Made at test time (too big to commit): name, importer, needs_demo, expected prefix.
GENERATED = [
    ("g01_50mb_line.jsonl", "benchmark", False, "1: line too long", "big_jsonl"),
    ("g02_50mb_line.csv", "labels", True, "2: line too long", "big_csv"),
    ("g03_deep_nesting.jsonl", "benchmark", False, "1: invalid JSON (nested", "deep_json"),
    ("g04_50mb_line_responses.jsonl", "responses", True, "3: line too long", "big_responses"),
]


def main() -> None:
    manifest = []
    for name, importer, needs_demo, expect, data in CORPUS:
        (HERE / name).write_bytes(data)
        manifest.append({"file": name, "importer": importer, "needs_demo": needs_demo,
                         "expect": f"{name}:{expect}"})
    for name, importer, needs_demo, expect, generate in GENERATED:
        manifest.append({"file": name, "importer": importer, "needs_demo": needs_demo,
                         "expect": f"{name}:{expect}", "generate": generate})
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False)
                                        + "\n")


if __name__ == "__main__":
    main()

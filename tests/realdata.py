"""Converters from the public data sets in ../shared/data to Accord's interchange formats.

Used by tests/test_real_data.py. They read the shared files in place (never copied into the
repository) and return plain records; the tests write them to a temporary directory and import
them through the management commands, as a user would.

- M-IFEval (lightblue-tech/M-IFEval): prompts -> benchmark JSONL (spec section 1), the strict
  checker results of each model -> responses JSONL (spec section 2).
- PandaLM (WeOpenML/PandaLM): the human-annotated test set -> pairs JSONL (spec section 3)
  and its three annotators -> labels CSV (spec section 4).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# --- M-IFEval -------------------------------------------------------------------------------

MIFEVAL_LANGUAGES = ("es", "fr", "ja")
# Folder suffixes under m-ifeval/evaluations/ (the 4 models kept in the trimmed copy).
MIFEVAL_MODEL_DIRS = (
    "gpt-4o-2024-08-06",
    "claude-3-5-sonnet-20240620",
    "Qwen__Qwen2.5-7B-Instruct-GPTQ-Int4",
    "mistralai__Mistral-7B-Instruct-v0.3",
)
MIFEVAL_JUDGE = "m-ifeval-checker-strict"


def mifeval_model_name(model_dir: str) -> str:
    """`Qwen__Qwen2.5-7B-Instruct-GPTQ-Int4` -> `Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4`."""
    return model_dir.replace("__", "/")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _format_kwarg(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_format_kwarg(v) for v in value)
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def constraint_question(instruction_id: str, kwargs: dict[str, Any]) -> str:
    """A YES/NO question made from an M-IFEval constraint id and its parameters."""
    _, group, name = instruction_id.split(":")
    question = (f"Does the response satisfy the {group.replace('_', ' ')} constraint "
                f"'{name.replace('_', ' ')}'")
    params = [f"{key} = {_format_kwarg(value)}" for key, value in kwargs.items()
              if value is not None]
    if params:
        question += f" ({'; '.join(params)})"
    return question + "?"


def mifeval_item_id(language: str, key: int) -> str:
    return f"{language}-{key}"


def mifeval_benchmark(data_dir: Path, language: str) -> list[dict[str, Any]]:
    """One benchmark line per prompt; one requirement per constraint (r1, r2, ...).

    M-IFEval prompts are written natively per language, not translated from each other, so
    every item is its own group (the default: `group` = `id`).
    """
    records = []
    for row in _read_jsonl(data_dir / "m-ifeval" / "data" / f"{language}_input_data.jsonl"):
        if len(row["kwargs"]) != len(row["instruction_id_list"]):
            raise ValueError(f"{language} prompt {row['key']}: kwargs and constraints differ")
        requirements = []
        for number, (instruction_id, kwargs) in enumerate(
                zip(row["instruction_id_list"], row["kwargs"], strict=True), start=1):
            _, group, name = instruction_id.split(":")
            requirements.append({
                "id": f"r{number}",
                "text": constraint_question(instruction_id, kwargs),
                "category": group,
                "dimension": name,
            })
        records.append({
            "id": mifeval_item_id(language, row["key"]),
            "language": language,
            "instruction": row["prompt"],
            "requirements": requirements,
            "meta": {"source": "lightblue-tech/M-IFEval", "key": row["key"],
                     "instruction_id_list": row["instruction_id_list"],
                     "kwargs": row["kwargs"]},
        })
    return records


def mifeval_responses(data_dir: Path, language: str, model_dir: str) -> list[dict[str, Any]]:
    """The strict checker's verdicts of one model, as a requirements-protocol judgment."""
    root = data_dir / "m-ifeval"
    prompts = _read_jsonl(root / "data" / f"{language}_input_data.jsonl")
    results = _read_jsonl(root / "evaluations" / f"{language}_input_response_data_{model_dir}"
                          / "eval_results_strict.jsonl")
    if len(prompts) != len(results):
        raise ValueError(f"{language}/{model_dir}: {len(results)} results for "
                         f"{len(prompts)} prompts")
    records = []
    for prompt, result in zip(prompts, results, strict=True):
        # The eval files follow the input file's order; check rather than trust it.
        if (result["prompt"], result["instruction_id_list"]) != (
                prompt["prompt"], prompt["instruction_id_list"]):
            raise ValueError(f"{language}/{model_dir}: result for prompt {prompt['key']} "
                             "does not match the input file")
        records.append({
            "item": mifeval_item_id(language, prompt["key"]),
            "model": mifeval_model_name(model_dir),
            "response": result["response"],
            "judgments": [{
                "judge": MIFEVAL_JUDGE,
                "protocol": "requirements",
                "decisions": [
                    {"requirement": f"r{number}", "decision": followed}
                    for number, followed in enumerate(result["follow_instruction_list"],
                                                      start=1)
                ],
            }],
        })
    return records


# --- PandaLM --------------------------------------------------------------------------------

PANDALM_ANNOTATORS = ("annotator1", "annotator2", "annotator3")
HUMAN_PREFERENCE = {"1": "a", "2": "b", "0": "tie"}
GPT_PREFERENCE = {"1": "a", "2": "b", "Tie": "tie", "garbage": "tie"}
PANDALM_PREFERENCE = {"1": "a", "2": "b", "0": "tie"}


def pandalm_pair_id(idx: Any) -> str:
    return f"pandalm-{idx}"


def _load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _response_text(value: Any) -> str:
    """Six responses of testset-v1.json (idx 157-164, a "verify this statement" task) are JSON
    `true`: the model answered "True" and the authors' serialiser turned it into a boolean.
    Responses are text in format 3, so they are written back as the text the model gave."""
    return value if isinstance(value, str) else str(value)


def pandalm_pairs(data_dir: Path) -> list[dict[str, Any]]:
    """One pair per test-set item, with the two LLM judges' preferences."""
    root = data_dir / "pandalm"
    items = _load_json(root / "testset-v1.json")
    gpt = {str(r["idx"]): r["gpt_result"]
           for r in _load_json(root / "gpt-3.5-turbo-testset-v1.json")}
    panda = {str(r["idx"]): r["pandalm_result"]
             for r in _load_json(root / "pandalm-7b-testset-v1.json")}
    records = []
    for item in items:
        idx = str(item["idx"])
        model_a, model_b = item["cmp_key"].split("_")
        instruction = item["instruction"]
        if item["input"]:
            instruction += "\n\n" + item["input"]
        records.append({
            "id": pandalm_pair_id(idx),
            "language": "en",
            "instruction": instruction,
            "model_a": model_a, "response_a": _response_text(item["response1"]),
            "model_b": model_b, "response_b": _response_text(item["response2"]),
            "judgments": [
                {"judge": "gpt-3.5-turbo", "preference": GPT_PREFERENCE[str(gpt[idx])]},
                {"judge": "pandalm-7b", "preference": PANDALM_PREFERENCE[str(panda[idx])]},
            ],
        })
    return records


def pandalm_labels_csv(data_dir: Path) -> str:
    """The three human annotators' labels, format 4 (one row per item and annotator)."""
    items = _load_json(data_dir / "pandalm" / "testset-v1.json")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["task", "unit", "annotator", "field", "value", "note"])
    for item in items:
        for number, column in enumerate(PANDALM_ANNOTATORS, start=1):
            writer.writerow(["pairwise_preference", pandalm_pair_id(item["idx"]),
                             f"pandalm-annotator-{number}", "preference",
                             HUMAN_PREFERENCE[str(item[column])], ""])
    return out.getvalue()


# --- writing --------------------------------------------------------------------------------

def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path

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
import re
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


# --- LLMBar -----------------------------------------------------------------------------------
# princeton-nlp/LLMBar (llmbar/SOURCE.md): pairs with one gold label each, and the verdicts of
# 2 judges x 2 prompting strategies in both presentation orders.

LLMBAR_SUBSETS = (
    "LLMBar/Natural",
    "LLMBar/Adversarial/Neighbor",
    "LLMBar/Adversarial/GPTInst",
    "LLMBar/Adversarial/GPTOut",
    "LLMBar/Adversarial/Manual",
    "Processed/FairEval",
    "Processed/LLMEval^2",
    "Processed/MT-Bench",
)
LLMBAR_JUDGES = ("GPT-4", "ChatGPT")
LLMBAR_STRATEGIES = ("Vanilla_NoRules", "Metrics_Reference")
LLMBAR_GOLD_ANNOTATOR = "llmbar-gold"
# `winner` is already in the original numbering; null = the completion could not be parsed,
# which LLMBar counts as wrong, as a "tie" is against a gold of 1 or 2.
LLMBAR_WINNER = {"1": "a", "2": "b", None: "tie"}
LLMBAR_LABEL = {1: "a", 2: "b"}


def llmbar_slug(subset: str) -> str:
    """`Processed/LLMEval^2` -> `llmbar-processed-llmeval2` (a benchmark name and id prefix)."""
    cleaned = "".join(c if c.isalnum() else "-" for c in subset.lower().replace("^", ""))
    return "llmbar-" + "-".join(part for part in cleaned.split("-") if part)


def llmbar_judge_name(judge: str, strategy: str) -> str:
    return f"{judge}/{strategy}"


def llmbar_pair_id(subset: str, index: int) -> str:
    return f"{llmbar_slug(subset)}-{index}"


def llmbar_pairs(data_dir: Path, subset: str) -> list[dict[str, Any]]:
    """One pair per dataset item, with every judge x strategy verdict in both orders
    (`"swapped": true` for the `swap = True` run)."""
    root = data_dir / "llmbar" / subset
    items = _load_json(root / "dataset.json")
    verdicts: dict[str, list[dict[str, Any]]] = {}
    for judge in LLMBAR_JUDGES:
        for strategy in LLMBAR_STRATEGIES:
            results = _load_json(root / "evaluators" / judge / strategy / "result.json")
            if len(results) != len(items):
                raise ValueError(f"{subset} {judge}/{strategy}: {len(results)} results for "
                                 f"{len(items)} items")
            verdicts[llmbar_judge_name(judge, strategy)] = results
    records = []
    for index, item in enumerate(items):
        judgments = []
        for name, results in verdicts.items():
            result = results[index]
            if (result["input"], result["label"]) != (item["input"], item["label"]):
                raise ValueError(f"{subset} {name}: result {index} is not dataset item {index}")
            final = result["results"][-1]
            for swapped in (False, True):
                winner = final[f"swap = {swapped}"]["winner"]
                judgments.append({"judge": name, "swapped": swapped,
                                  "preference": LLMBAR_WINNER[winner]})
        records.append({
            "id": llmbar_pair_id(subset, index), "language": "en",
            "instruction": item["input"],
            "model_a": "output_1", "response_a": _response_text(item["output_1"]),
            "model_b": "output_2", "response_b": _response_text(item["output_2"]),
            "judgments": judgments,
        })
    return records


def llmbar_labels_csv(data_dir: Path, subset: str) -> str:
    """The gold label of every item as one annotator's labels (format 4)."""
    items = _load_json(data_dir / "llmbar" / subset / "dataset.json")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["task", "unit", "annotator", "field", "value", "note"])
    for index, item in enumerate(items):
        writer.writerow(["pairwise_preference", llmbar_pair_id(subset, index),
                         LLMBAR_GOLD_ANNOTATOR, "preference", LLMBAR_LABEL[item["label"]], ""])
    return out.getvalue()


def _fraction(text: str) -> float:
    """`"97 / 100 = 97.0%"` -> 0.97 (from the counts, not the rounded percentage)."""
    counts = text.split("=")[0]
    numerator, denominator = (int(part) for part in counts.split("/"))
    return numerator / denominator


def llmbar_statistics(data_dir: Path, subset: str, judge: str, strategy: str) -> dict[str, float]:
    """The published run summary as fractions: `acc` (the paper's Acc., mean of both orders)
    and `agr` (Agr., the same winner in both orders); `acc_printed` is the file's own
    `correct_average` string."""
    stats = _load_json(data_dir / "llmbar" / subset / "evaluators" / judge / strategy
                       / "statistics.json")
    return {
        "acc": (_fraction(stats["correct_False"]) + _fraction(stats["correct_True"])) / 2,
        "acc_printed": float(stats["correct_average"].rstrip("%")) / 100,
        "agr": _fraction(stats["equal"]),
    }


# --- SummEval ---------------------------------------------------------------------------------
# summeval-llm/SOURCE.md (DAMO-NLP-SG/LLM_summeval): 100 CNN/DM articles x 12 systems, rated
# 1-5 on four dimensions by 3 experts, and scored per dimension by LLM judges (Shen et al. 2023).

SUMMEVAL_SYSTEMS = ("M8", "M9", "M10", "M11", "M12", "M13", "M14", "M15", "M17", "M20", "M22",
                    "M23")
SUMMEVAL_DIMENSIONS = ("coherence", "consistency", "fluency", "relevance")
# Accord judge name -> (folder under eval_model_generations, prompt method).
SUMMEVAL_JUDGES = {
    "gpt-4-0314/rts": ("gpt-4-0314", "rts"),
    "gpt-3.5-turbo-0301/rts": ("gpt-3.5-turbo-0301", "rts"),
    "gpt-3.5-turbo-0301/mcq": ("gpt-3.5-turbo-0301", "mcq"),
}
SUMMEVAL_INSTRUCTION = "Summarise the news article in a few sentences."
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBER = r"(\d+(?:\.\d+)?|one|two|three|four|five)\b"
_SCORE_COLON = re.compile(r"score:\s*" + _NUMBER, re.IGNORECASE)
# "score", "scores", "scoring", "scored", then anything short of a sentence end.
_SCORE_SENTENCE = re.compile(r"\bscor\w*((?:(?![.!?](?:\s|$)).)*)", re.IGNORECASE | re.DOTALL)
_SENTENCE_NUMBER = re.compile(r"\b" + _NUMBER, re.IGNORECASE)
_LAST_DIGIT = re.compile(r"[1-5](?:\.\d+)?")


def _rts_number(text: str) -> float:
    text = text.lower()
    return float(_NUMBER_WORDS.get(text, text))


def summeval_parse_rts(text: str) -> float | None:
    """The score of a reason-then-score judgment, as SOURCE.md's script reads it: the first
    "score: N"; else the first N (a number or a number word one-five) after "score" (or
    "scoring", "scores", ...) in the same sentence; else the last digit 1-5 (with its
    decimals: "4.5"). Numbers outside 1-5 ("scored 15 penalties") are not a score. None
    when nothing fits."""
    for match in _SCORE_COLON.finditer(text):
        value = _rts_number(match.group(1))
        if 1 <= value <= 5:
            return value
    for sentence in _SCORE_SENTENCE.finditer(text):
        for match in _SENTENCE_NUMBER.finditer(sentence.group(1)):
            value = _rts_number(match.group(1))
            if 1 <= value <= 5:
                return value
    digits = _LAST_DIGIT.findall(text)
    if digits:
        value = float(digits[-1])
        return value if value <= 5 else None
    return None


def summeval_parse_mcq(text: str) -> float | None:
    """A multiple-choice judgment: the letter A-E is the score 1-5."""
    letter = text.strip()
    return float("ABCDE".index(letter) + 1) if letter in ("A", "B", "C", "D", "E") else None


def _summeval_annotations(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    root = data_dir / "summeval-llm" / "model_output_annotations"
    return {system: _read_jsonl(root / f"{system}_outputs_annotations.jsonl")
            for system in SUMMEVAL_SYSTEMS}


def summeval_benchmark(data_dir: Path) -> list[dict[str, Any]]:
    """One benchmark line per article (the story id), the article as the input material."""
    articles: dict[str, str] = {}
    for system, rows in _summeval_annotations(data_dir).items():
        for row in rows:
            if articles.setdefault(row["id"], row["text"]) != row["text"]:
                raise ValueError(f"{system}: article {row['id']} differs between systems")
    return [{"id": story, "language": "en", "instruction": SUMMEVAL_INSTRUCTION,
             "input_material": text, "requirements": []}
            for story, text in sorted(articles.items())]


def summeval_judge_scores(data_dir: Path, judge: str, system: str,
                          dimension: str) -> dict[str, float | None]:
    """Story id -> the judge's parsed score (None when it can't be parsed). A file with two
    runs appended keeps the last line per id, as the authors' loader does."""
    folder, method = SUMMEVAL_JUDGES[judge]
    path = (data_dir / "summeval-llm" / "eval_model_generations" / folder
            / f"eval_{system}_generations" / f"{dimension}_{method}.txt")
    parse = summeval_parse_rts if method == "rts" else summeval_parse_mcq
    return {row["id"]: parse(row["resp"]) for row in _read_jsonl(path)}


def summeval_responses(data_dir: Path) -> tuple[list[dict[str, Any]], dict[tuple[str, str], int]]:
    """The 1,200 summaries with a direct score per judge and dimension, and per (judge,
    dimension) the number of summaries whose score could not be parsed (no judgment)."""
    unparsed: dict[tuple[str, str], int] = {(j, d): 0 for j in SUMMEVAL_JUDGES
                                            for d in SUMMEVAL_DIMENSIONS}
    records = []
    for system, rows in _summeval_annotations(data_dir).items():
        scores = {(judge, dimension): summeval_judge_scores(data_dir, judge, system, dimension)
                  for judge in SUMMEVAL_JUDGES for dimension in SUMMEVAL_DIMENSIONS}
        for row in rows:
            judgments = []
            for (judge, dimension), by_id in scores.items():
                score = by_id[row["id"]]
                if score is None:
                    unparsed[(judge, dimension)] += 1
                    continue
                judgments.append({"judge": judge, "protocol": "direct_score",
                                  "dimension": dimension, "score": score})
            records.append({"item": row["id"], "model": system, "response": row["decoded"],
                            "judgments": judgments})
    return records, unparsed


def summeval_labels_csv(data_dir: Path) -> str:
    """The 3 experts' ratings (list position = annotator), one label per dimension."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["task", "unit", "annotator", "field", "value", "note"])
    for system, rows in _summeval_annotations(data_dir).items():
        for row in rows:
            if len(row["expert_annotations"]) != 3:
                raise ValueError(f"{system} {row['id']}: not 3 expert annotations")
            for number, rating in enumerate(row["expert_annotations"], start=1):
                for dimension in SUMMEVAL_DIMENSIONS:
                    writer.writerow(["response_rating", f"{row['id']}|{system}",
                                     f"expert-{number}", dimension, str(rating[dimension]), ""])
    return out.getvalue()

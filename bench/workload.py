"""The bench workload: a benchmark shaped like XIFBench x10, generated from a seed.

`generate(out, scale, seed)` writes the four interchange files (spec sections 1-4) twice: whole
at `out/` and split by group into `out/part1` (first 10% of groups), `out/part2` (next 40%)
and `out/part3` (last 50%), so a database can be loaded 10% / +40% / +50%. `out/workload.json`
holds the counts. At scale 1: 558 instructions x 10 copies = 5,580 groups of 6 languages
(33,480 items), 1-7 requirements per group, 3 models answering every item with one judge's
decision on every requirement (~520k decisions), one pair per group and exactly 1,000,000 human
labels by 40 annotators, 2-3 per labelled unit.

Groups are ordered copy by copy, so the parts are whole copies (copy 0, copies 1-4, copies
5-9) and a hard group's `seed` (an easy group of the same copy) lies in the same part.
Labels come from a latent truth per unit and field that each annotator reproduces with their
own accuracy, so agreement statistics land where real ones do (kappa well above 0, below 1).
Texts are slices of a seeded pseudo-word stream in each language's script: cheap, and as
long and as wide (UTF-8 bytes per character) as real text.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

GENERATOR_VERSION = 1
BENCHMARK_NAME = "xifbench-x10"
INSTRUCTIONS_AT_SCALE_1 = 558
COPIES = 10
LABELS_AT_SCALE_1 = 1_000_000
LANGUAGES = ("en", "zh", "ru", "ar", "hi", "sw")
MODELS = ("qwen-2.5-72b", "llama-3.1-70b-instruct", "gpt-4o-mini")
JUDGE = "gpt-4o-2024-08-06"
PAIR_JUDGE = "gpt-4-turbo"
PARTS = ("part1", "part2", "part3")
FILES = ("benchmark.jsonl", "responses.jsonl", "pairs.jsonl", "labels.csv")
TEXT_CHARS = (200, 2000)
# Weights of 1..7 requirements per group: skewed high, for ~5.2 per group and ~520k decisions.
REQUIREMENT_COUNT_WEIGHTS = (0.03, 0.05, 0.08, 0.14, 0.20, 0.25, 0.25)
ANNOTATORS = (
    "amani", "bilal", "chen_wei", "dmitri", "esther", "farah", "gaurav", "hana", "ivan",
    "jamila", "kofi", "lin_yu", "mariam", "neha", "olga", "pedro", "qadir", "rania", "sasha",
    "tariq", "uma", "vera", "wanjiru", "xiao_min", "yusuf", "zainab", "arjun", "baraka",
    "celine", "deepa", "elena", "fatuma", "grigori", "hamza", "irina", "jun", "kavya",
    "leila", "mwangi", "nadia",
)
# Each annotator reproduces the latent truth with a probability drawn from this range.
ANNOTATOR_ACCURACY = (0.80, 0.97)
CATEGORY_DIMENSIONS = {
    "content": ("include content", "exclude content", "topic"),
    "style": ("writing style", "tone", "audience"),
    "format": ("structure", "markup", "list"),
    "numeric": ("word count", "sentence count", "paragraph count"),
    "language": ("response language", "script"),
    "situation": ("role play", "scenario"),
}
REQUIREMENT_TEMPLATES = {
    "content": "Does the response mention {word} and explain why it matters?",
    "style": "Is the response written in a {word} style throughout?",
    "format": "Is the response laid out as {n} sections each headed by {word}?",
    "numeric": "Does the response contain at most {n}0 words?",
    "language": "Is the response written entirely in the language of the instruction?",
    "situation": "Does the response answer as a {word} speaking to a newcomer?",
}


@dataclass(frozen=True)
class TaskPlan:
    """How much of one task kind gets labels: the share of its units labelled, and the
    chance that the truth of a yes/no field is yes."""

    labelled_share: float
    yes_rate: float


# Shares chosen so the queue bench always finds unlabelled units of every kind.
PLANS = {
    "instruction_validation": TaskPlan(0.6, 0.93),
    "requirement_assessment": TaskPlan(0.11, 0.88),
    "translation_validation": TaskPlan(0.6, 0.0),
    "pairwise_preference": TaskPlan(0.6, 0.0),
}
JUDGE_AGREEMENT_YES_RATE = 0.84
QUALITY_TRUTH = (0.03, 0.07, 0.15, 0.35, 0.40)
PREFERENCE_TRUTH = (0.45, 0.45, 0.10)


def _rng(seed: int, purpose: str) -> np.random.Generator:
    """One independent stream per purpose: changing how one thing is drawn leaves the rest."""
    return np.random.default_rng([seed, *purpose.encode()])


# --- text ----------------------------------------------------------------------------------

def _alphabet(language: str) -> list[str]:
    if language == "zh":
        return [chr(c) for c in range(0x4E00, 0x6000)]
    if language == "ru":
        return [chr(c) for c in range(0x0430, 0x0450)]
    if language == "ar":
        return [chr(c) for c in range(0x0627, 0x064B) if not 0x063B <= c <= 0x0640]
    if language == "hi":
        consonants = [chr(c) for c in range(0x0915, 0x093A)]
        signs = ["", "", *[chr(c) for c in range(0x093E, 0x094D)]]
        return [c + s for c in consonants for s in signs]
    if language == "sw":
        return [c + v for c in ("", "k", "m", "n", "w", "t", "s", "j", "l", "z", "ch", "ng")
                for v in "aeiou"]
    return list("etaoinshrdlucmfwypvbgk")


class TextSource:
    """Text in one language's script: slices of a long seeded stream of pseudo-words."""

    POOL_CHARS = 400_000

    def __init__(self, language: str, seed: int) -> None:
        rng = _rng(seed, f"text-{language}")
        alphabet = _alphabet(language)
        lengths = rng.integers(1 if language == "zh" else 2, 7, size=3000)
        letters = [alphabet[i] for i in rng.integers(len(alphabet), size=int(lengths.sum()))]
        ends = np.cumsum(lengths).tolist()
        vocabulary = ["".join(letters[end - n:end]) for end, n in zip(ends, lengths.tolist(),
                                                                      strict=True)]
        separator = "" if language == "zh" else " "
        stop = {"zh": "\u3002", "ar": ".", "hi": "\u0964"}.get(language, ".")
        comma = {"zh": "\uff0c", "ar": "\u060c"}.get(language, ",")
        count = self.POOL_CHARS // 3
        words = [vocabulary[i] for i in rng.integers(len(vocabulary), size=count).tolist()]
        # A sentence ends after 7% of words, a clause after 5% more.
        marks = np.array(["", comma, stop])[np.digitize(rng.random(count), (0.88, 0.93))]
        self.pool = separator.join(np.char.add(words, marks).tolist())[:self.POOL_CHARS]

    def texts(self, rng: np.random.Generator, count: int, low: int = TEXT_CHARS[0],
              high: int = TEXT_CHARS[1]) -> list[str]:
        """`count` texts of low..high characters, lengths log-uniform (short ones common)."""
        lengths = np.exp(rng.uniform(math.log(low + 2), math.log(high), size=count)).astype(int)
        starts = rng.integers(0, len(self.pool) - high, size=count)
        pool = self.pool
        return [pool[s:s + n].strip() for s, n in zip(starts.tolist(), lengths.tolist(),
                                                       strict=True)]


# --- the benchmark --------------------------------------------------------------------------

@dataclass
class Group:
    key: str
    part: int
    subset: str
    seed_key: str
    requirements: list[dict[str, str]]

    @property
    def is_seed(self) -> bool:
        return not self.seed_key


def _groups(scale: float, seed: int) -> list[Group]:
    rng = _rng(seed, "groups")
    instructions = max(3, round(INSTRUCTIONS_AT_SCALE_1 * scale))
    easy = max(1, instructions // 3)
    english = TextSource("en", seed)
    words = english.pool.replace(",", "").replace(".", "").split()
    total = instructions * COPIES
    counts = (rng.choice(7, p=REQUIREMENT_COUNT_WEIGHTS, size=total) + 1).tolist()
    categories = list(CATEGORY_DIMENSIONS)
    category_of = rng.integers(len(categories), size=sum(counts)).tolist()
    dimension_pick = rng.integers(6, size=sum(counts)).tolist()
    word_of = rng.integers(len(words), size=sum(counts)).tolist()
    number_of = rng.integers(2, 9, size=sum(counts)).tolist()
    unseeded = (rng.random(total) < 0.25).tolist()
    groups = []
    at = 0
    for g in range(total):
        copy, index = divmod(g, instructions)
        part = 0 if copy == 0 else 1 if copy < 5 else 2
        subset = "easy" if index < easy else "hard"
        seed_key = "" if subset == "easy" or unseeded[g] else f"easy-{index % easy:04d}-{copy}"
        requirements = []
        for number in range(1, counts[g] + 1):
            category = categories[category_of[at]]
            dimensions = CATEGORY_DIMENSIONS[category]
            text = REQUIREMENT_TEMPLATES[category].format(word=words[word_of[at]],
                                                          n=number_of[at])
            requirements.append({"id": f"r{number}", "text": text, "category": category,
                                 "dimension": dimensions[dimension_pick[at] % len(dimensions)]})
            at += 1
        groups.append(Group(f"{subset}-{index:04d}-{copy}", part, subset, seed_key,
                            requirements))
    return groups


class PartWriter:
    """One file kind written whole and into the part of each line's group."""

    def __init__(self, out: Path, name: str, header: str = "") -> None:
        self.whole = (out / name).open("w", encoding="utf-8", newline="")
        self.parts = [(out / part / name).open("w", encoding="utf-8", newline="")
                      for part in PARTS]
        self.lines = [0, 0, 0]
        if header:
            for handle in self._handles():
                handle.write(header)

    def _handles(self) -> list[TextIO]:
        return [self.whole, *self.parts]

    def write(self, part: int, text: str) -> None:
        self.whole.write(text)
        self.parts[part].write(text)
        self.lines[part] += text.count("\n")

    def close(self) -> None:
        for handle in self._handles():
            handle.close()


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n"


# --- labels ---------------------------------------------------------------------------------

class LabelMaker:
    """Labels from a latent truth: each annotator gives the true value with their accuracy,
    else a wrong one (a neighbouring grade for 1-5 scales)."""

    def __init__(self, seed: int) -> None:
        self.rng = _rng(seed, "labels")
        self.accuracy = self.rng.uniform(*ANNOTATOR_ACCURACY, size=len(ANNOTATORS))

    def annotators(self, units: int, per_unit: np.ndarray) -> np.ndarray:
        """(units, 3) distinct annotator indexes; columns past a unit's count are -1."""
        scores = self.rng.random((units, len(ANNOTATORS)), dtype=np.float32)
        chosen = np.argpartition(scores, 3, axis=1)[:, :3]
        chosen[np.arange(3)[None, :] >= per_unit[:, None]] = -1
        return chosen

    def per_unit(self, units: int) -> np.ndarray:
        return self.rng.integers(2, 4, size=units)

    def yes_no(self, truth_yes: np.ndarray, who: np.ndarray) -> np.ndarray:
        """truth_yes: (units,) bool; who: (units, 3). Returns (units, 3) bool (yes)."""
        correct = self.rng.random(who.shape) < self.accuracy[who]
        return np.where(correct, truth_yes[:, None], ~truth_yes[:, None])

    def quality(self, who: np.ndarray) -> np.ndarray:
        truth = self.rng.choice(5, p=QUALITY_TRUTH, size=who.shape[0]) + 1
        correct = self.rng.random(who.shape) < self.accuracy[who]
        step = np.where(self.rng.random(who.shape) < 0.5, -1, 1)
        off = np.clip(truth[:, None] + step, 1, 5)
        off = np.where(off == truth[:, None], truth[:, None] - step, off)
        return np.where(correct, truth[:, None], off)

    def preference(self, who: np.ndarray) -> np.ndarray:
        truth = self.rng.choice(3, p=PREFERENCE_TRUTH, size=who.shape[0])
        correct = self.rng.random(who.shape) < self.accuracy[who]
        other = (truth[:, None] + self.rng.integers(1, 3, size=who.shape)) % 3
        return np.where(correct, truth[:, None], other)


def _csv_lines(task: str, units: list[str], who: np.ndarray, field: str,
               values: np.ndarray, names: list[str]) -> list[str]:
    """One CSV line per (unit, annotator) whose annotator slot is used."""
    lines = []
    for unit, row_who, row_values in zip(units, who.tolist(), values.tolist(), strict=True):
        for annotator, value in zip(row_who, row_values, strict=True):
            if annotator >= 0:
                lines.append(f"{task},{unit},{ANNOTATORS[annotator]},{field},"
                             f"{names[value] if names else value},\n")
    return lines


YES_NO = ["no", "yes"]
PREFERENCES = ["a", "b", "tie"]


# --- the whole workload ---------------------------------------------------------------------

def generate(out: Path, scale: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """Write the workload into `out` (replacing what is there) and return workload.json."""
    if out.exists():
        shutil.rmtree(out)
    for part in PARTS:
        (out / part).mkdir(parents=True)
    groups = _groups(scale, seed)
    sources = {language: TextSource(language, seed) for language in LANGUAGES}
    english = sources["en"]
    text_rng = _rng(seed, "texts")
    judge_rng = _rng(seed, "judge")
    instructions = {lang: sources[lang].texts(text_rng, len(groups)) for lang in LANGUAGES}
    answers = {lang: sources[lang].texts(text_rng, len(groups) * len(MODELS))
               for lang in LANGUAGES}
    decisions = sum(len(g.requirements) for g in groups) * len(LANGUAGES) * len(MODELS)
    observations = english.texts(text_rng, decisions, low=40, high=160)
    verdicts = (judge_rng.random(decisions) < 0.7).tolist()
    pair_models = [[MODELS[i] for i in judge_rng.permutation(len(MODELS))[:2].tolist()]
                   for _ in groups]
    pair_preferences = judge_rng.choice(3, p=PREFERENCE_TRUTH, size=len(groups)).tolist()

    items: list[tuple[Group, str, str]] = []      # (group, item key, language)
    benchmark = PartWriter(out, "benchmark.jsonl")
    responses = PartWriter(out, "responses.jsonl")
    pairs = PartWriter(out, "pairs.jsonl")
    decision = 0
    for g, group in enumerate(groups):
        english_responses: dict[str, str] = {}
        for language in LANGUAGES:
            key = f"{group.key}-{language}"
            items.append((group, key, language))
            line: dict[str, Any] = {"id": key, "group": group.key, "language": language,
                                    "subset": group.subset}
            if group.seed_key:
                line["seed"] = group.seed_key
            line["instruction"] = instructions[language][g]
            line["requirements"] = group.requirements
            line["meta"] = {"source": "accord-bench", "generator": GENERATOR_VERSION}
            benchmark.write(group.part, _dump(line))
            for m, model in enumerate(MODELS):
                text = answers[language][g * len(MODELS) + m]
                judged = []
                for req in group.requirements:
                    judged.append({"requirement": req["id"],
                                   "decision": "YES" if verdicts[decision] else "NO",
                                   "observation": observations[decision]})
                    decision += 1
                responses.write(group.part, _dump({
                    "item": key, "model": model, "response": text,
                    "judgments": [{"judge": JUDGE, "protocol": "requirements",
                                   "decisions": judged}]}))
                if language == "en":
                    english_responses[model] = text
        model_a, model_b = pair_models[g]
        pairs.write(group.part, _dump({
            "id": f"p-{group.key}", "language": "en", "instruction": instructions["en"][g],
            "model_a": model_a, "response_a": english_responses[model_a],
            "model_b": model_b, "response_b": english_responses[model_b],
            "judgments": [{"judge": PAIR_JUDGE, "preference": PREFERENCES[pair_preferences[g]]}],
        }))
    for writer in (benchmark, responses, pairs):
        writer.close()

    label_counts = _write_labels(out, groups, items, round(LABELS_AT_SCALE_1 * scale), seed)
    summary = {
        "generator_version": GENERATOR_VERSION, "seed": seed, "scale": scale,
        "benchmark": BENCHMARK_NAME, "languages": list(LANGUAGES), "models": list(MODELS),
        "judge": JUDGE, "pair_judge": PAIR_JUDGE, "annotators": list(ANNOTATORS),
        "counts": {
            "groups": len(groups), "items": len(items),
            "requirements": sum(len(g.requirements) for g in groups),
            "responses": len(items) * len(MODELS), "decisions": decisions,
            "pairs": len(groups), "labels": sum(label_counts["labels"].values()),
            "labels_by_task": label_counts["labels"],
            "labelled_units_by_task": label_counts["units"],
        },
        "parts": {part: {"benchmark.jsonl": benchmark.lines[i],
                         "responses.jsonl": responses.lines[i],
                         "pairs.jsonl": pairs.lines[i],
                         "labels.csv": label_counts["part_lines"][i]}
                  for i, part in enumerate(PARTS)},
    }
    (out / "workload.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _write_labels(out: Path, groups: list[Group], items: list[tuple[Group, str, str]],
                  target: int, seed: int) -> dict[str, Any]:
    maker = LabelMaker(seed)
    rng = maker.rng
    by_part: list[list[str]] = [[], [], []]
    labels: dict[str, int] = {}
    units_labelled: dict[str, int] = {}

    def add(task: str, parts: np.ndarray, units: list[str], who: np.ndarray, field: str,
            values: np.ndarray, names: list[str]) -> None:
        for part in range(3):
            mask = parts == part
            chosen = [u for u, keep in zip(units, mask.tolist(), strict=True) if keep]
            lines = _csv_lines(task, chosen, who[mask], field, values[mask], names)
            by_part[part].extend(lines)
            labels[task] = labels.get(task, 0) + len(lines)

    def sample(task: str, candidates: list[tuple[Group, str, str]]) -> list[tuple[Group, str, str]]:
        chosen = rng.random(len(candidates)) < PLANS[task].labelled_share
        picked = [c for c, keep in zip(candidates, chosen.tolist(), strict=True) if keep]
        units_labelled[task] = len(picked)
        return picked

    # Instruction validation: fields per item, truths per group (resolution is per group).
    task = "instruction_validation"
    picked = sample(task, items)
    who = maker.annotators(len(picked), maker.per_unit(len(picked)))
    parts = np.array([g.part for g, _, _ in picked])
    truth_of_group = {g.key: rng.random(5) < PLANS[task].yes_rate for g in groups}
    for f, field in enumerate(("clarity", "linguistic_independence", "cultural_accessibility",
                               "max_constraints", "max_content_constraints")):
        seed_only = f >= 3
        keep = np.array([g.is_seed or not seed_only for g, _, _ in picked], dtype=bool)
        truth = np.array([truth_of_group[g.key][f] for g, _, _ in picked], dtype=bool)
        values = maker.yes_no(truth, who).astype(int)
        add(task, parts[keep], [k for (_, k, _), ok in zip(picked, keep.tolist(), strict=True)
                                if ok], who[keep], field, values[keep], YES_NO)

    # Requirement assessment: completeness per item, four fields per requirement.
    task = "requirement_assessment"
    picked = sample(task, items)
    who = maker.annotators(len(picked), maker.per_unit(len(picked)))
    parts = np.array([g.part for g, _, _ in picked])
    values = maker.yes_no(rng.random(len(picked)) < PLANS[task].yes_rate, who).astype(int)
    add(task, parts, [k for _, k, _ in picked], who, "completeness", values, YES_NO)
    row_of_unit = np.repeat(np.arange(len(picked)), [len(g.requirements) for g, _, _ in picked])
    requirement_units = [f"{k}#{r['id']}" for g, k, _ in picked for r in g.requirements]
    for field in ("explicitness", "atomicity", "category", "dimension"):
        truth = rng.random(len(requirement_units)) < PLANS[task].yes_rate
        values = maker.yes_no(truth, who[row_of_unit]).astype(int)
        add(task, parts[row_of_unit], requirement_units, who[row_of_unit], field, values,
            YES_NO)

    task = "translation_validation"
    picked = sample(task, [i for i in items if i[2] != "en"])
    who = maker.annotators(len(picked), maker.per_unit(len(picked)))
    add(task, np.array([g.part for g, _, _ in picked]), [k for _, k, _ in picked], who,
        "quality", maker.quality(who), [])

    task = "pairwise_preference"
    picked = sample(task, [(g, f"p-{g.key}", "en") for g in groups])
    who = maker.annotators(len(picked), maker.per_unit(len(picked)))
    add(task, np.array([g.part for g, _, _ in picked]), [k for _, k, _ in picked], who,
        "preference", maker.preference(who), PREFERENCES)

    # Judge agreement takes the rest, so the file holds exactly `target` labels: n units of
    # 2 or 3 annotators with 2*n2 + 3*n3 = remaining.
    task = "judge_agreement"
    remaining = max(0, target - sum(labels.values()))
    decision_units = [(g, f"{k}|{model}|{r['id']}|{JUDGE}")
                      for g, k, _ in items for model in MODELS for r in g.requirements]
    units = min(len(decision_units), max(math.ceil(remaining / 3), round(remaining / 2.5)))
    threes = min(units, max(0, remaining - 2 * units))
    chosen = np.sort(rng.choice(len(decision_units), size=units, replace=False))
    per_unit = np.full(units, 2)
    per_unit[rng.choice(units, size=threes, replace=False)] = 3
    who = maker.annotators(units, per_unit)
    truth = rng.random(units) < JUDGE_AGREEMENT_YES_RATE
    picked_units = [decision_units[i] for i in chosen.tolist()]
    units_labelled[task] = units
    add(task, np.array([g.part for g, _ in picked_units]), [u for _, u in picked_units], who,
        "agree", maker.yes_no(truth, who).astype(int), YES_NO)

    writer = PartWriter(out, "labels.csv", header="task,unit,annotator,field,value,note\n")
    for part, lines in enumerate(by_part):
        writer.write(part, "".join(lines))
    writer.close()
    return {"labels": labels, "units": units_labelled, "part_lines": writer.lines}


def matches(out: Path, scale: float, seed: int) -> bool:
    """Whether `out` already holds the workload of this scale, seed and generator version."""
    try:
        summary = json.loads((out / "workload.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (summary.get("generator_version"), summary.get("seed"), summary.get("scale")) == (
        GENERATOR_VERSION, seed, scale) and all((out / part / name).is_file()
                                                for part in PARTS for name in FILES)

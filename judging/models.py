"""Model responses and the LLM judge's decisions on them."""

from __future__ import annotations

from django.db import models


class Protocol(models.TextChoices):
    REQUIREMENTS = "requirements", "Requirements (YES/NO per requirement)"
    DIRECT_SCORE = "direct_score", "Direct score (1-10)"


class Response(models.Model):
    item = models.ForeignKey("annotation.Item", on_delete=models.CASCADE, related_name="responses")
    model = models.CharField(max_length=200)
    text = models.TextField()
    line_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["line_number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "model"], name="response_one_per_model"),
        ]

    def __str__(self) -> str:
        return f"{self.model} on {self.item_id}"


class Judgment(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="judgments")
    judge = models.CharField(max_length=200)
    protocol = models.CharField(max_length=20, choices=Protocol.choices)
    score = models.FloatField(null=True, blank=True)
    # What a direct score rates ("coherence", "fluency", ...); empty for one holistic score.
    dimension = models.CharField(max_length=100, blank=True)
    # The judge's own text when it was imported raw; kept so a reviewer can read it.
    raw = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["response", "judge", "protocol", "dimension"],
                name="judgment_one_per_protocol_and_dimension",
            ),
        ]
        # Reports ask whether a benchmark has judgments of a protocol (direct scores): without
        # it, a "no" walked every judgment of the benchmark (50-80 ms at 100k judgments).
        indexes = [models.Index(fields=["protocol"], name="judgment_protocol")]

    def __str__(self) -> str:
        return f"{self.judge} ({self.protocol})"


class JudgeDecision(models.Model):
    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="decisions")
    requirement = models.ForeignKey(
        "annotation.Requirement", on_delete=models.CASCADE, related_name="judge_decisions"
    )
    decision = models.BooleanField()
    observation = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["judgment", "requirement"], name="decision_one_per_requirement"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requirement_id}: {'YES' if self.decision else 'NO'}"


class PairJudgment(models.Model):
    class Preference(models.TextChoices):
        A = "a", "A"
        B = "b", "B"
        TIE = "tie", "Tie"

    pair = models.ForeignKey("annotation.Pair", on_delete=models.CASCADE, related_name="judgments")
    judge = models.CharField(max_length=200)
    # The judge saw response B first. `preference` still names the pair's own A and B, so
    # the two orders compare directly (position consistency).
    swapped = models.BooleanField(default=False)
    preference = models.CharField(max_length=3, choices=Preference.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pair", "judge", "swapped"],
                                    name="pairjudgment_one_per_judge_and_order"),
        ]

    def __str__(self) -> str:
        return f"{self.judge}: {self.preference}"

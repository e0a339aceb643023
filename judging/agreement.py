"""Agreement statistics: pure functions on arrays, no ORM.

Two shapes of input cover every coefficient:
- `counts`: an (n_units, n_categories) integer matrix, the number of labels each unit got in
  each category (missing labels are simply not counted). Percent agreement, Fleiss' kappa,
  Krippendorff's alpha, Gwet's AC1/AC2 and Brennan-Prediger need nothing else, so reports
  can build it from one aggregate query (value counts per unit) without loading labels.
- two aligned label vectors (`a`, `b`, category indices) for the pairwise coefficients:
  Cohen's kappa and the judge-versus-human measures.

Every function returns a `Stat`: the value, how many units and labels it rests on, and when
the value is undefined for the data, `value=None` with the reason. Nothing here raises on
degenerate data, and nothing makes a number up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stat:
    name: str
    value: float | None
    n_units: int
    n_labels: int
    reason: str | None = None
    ci95: tuple[float, float] | None = None

    @property
    def defined(self) -> bool:
        return self.value is not None

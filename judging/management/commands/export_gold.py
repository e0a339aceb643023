"""`manage.py export_gold --benchmark NAME --out DIR [--strategy conservative|majority]`.

The gold export of spec section 6 (judging.gold.export_gold): the benchmark without its
rejected groups, tagged; the removed groups; the judge's decisions beside the gold ones; every
label; the agreement report; the scores from the judge and from gold; Parquet copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Benchmark
from judging.gold import STRATEGIES, GoldExportError, export_gold


class Command(BaseCommand):
    help = ("Write the gold export of a benchmark (spec section 6) into a new directory: "
            "benchmark.jsonl, removed.jsonl, judgments_gold.jsonl, labels.csv, "
            "agreement.json, scores.csv and Parquet copies of the tables.")
    # As the import commands: the system checks import every URL and view (~0.5 s and ~28 MB)
    # for a command that reads rows and writes files. `manage.py check` runs them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--benchmark", required=True, help="benchmark name")
        parser.add_argument("--out", required=True,
                            help="the directory to create (must not exist, or be empty)")
        parser.add_argument("--strategy", choices=STRATEGIES, default="conservative",
                            help="how several annotators' labels resolve (default: "
                                 "conservative, the XIFBench rule)")

    def handle(self, *args: Any, **options: Any) -> None:
        benchmark = Benchmark.objects.filter(name=options["benchmark"]).first()
        if benchmark is None:
            raise CommandError(f"no benchmark named {options['benchmark']!r}")
        try:
            summary = export_gold(benchmark=benchmark, out_dir=Path(options["out"]),
                                  strategy=options["strategy"])
        except GoldExportError as exc:
            raise CommandError(str(exc)) from exc
        for name, rows in summary.files.items():
            self.stdout.write(f"{name}: {rows}")
        self.stdout.write(self.style.SUCCESS(
            f"gold export of {benchmark.name!r} ({summary.strategy}) in {summary.out_dir}; "
            f"{summary.removed_groups} group(s) removed"))

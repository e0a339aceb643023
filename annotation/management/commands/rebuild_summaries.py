from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation import summaries
from annotation.models import Benchmark


class Command(BaseCommand):
    help = ("Recompute the maintained agreement summaries of a benchmark (or of every one) "
            "from its labels. Accord keeps them current as labels are written; this is for "
            "repair, e.g. after labels were changed directly in the database.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--benchmark", help="its name (default: every benchmark)")

    def handle(self, *args, benchmark: str | None = None, **options) -> None:
        benchmarks = Benchmark.objects.order_by("name")
        if benchmark is not None:
            benchmarks = benchmarks.filter(name=benchmark)
            if not benchmarks.exists():
                raise CommandError(f"no benchmark named {benchmark!r}")
        for each in benchmarks:
            summaries.rebuild(each)
            self.stdout.write(f"{each.name}: summaries rebuilt")

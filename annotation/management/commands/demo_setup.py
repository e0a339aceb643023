from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from annotation import importers
from annotation.models import Batch, Benchmark, TaskKind
from annotation.services import SampleRequest, batch_create, user_ensure
from annotation.tasks import Filters

FIXTURES = settings.BASE_DIR / "fixtures"
BENCHMARK = "xifbench-demo"
ADMIN = ("admin", "accord-admin")
ANNOTATORS = (("ana", "accord-ana"), ("ben", "accord-ben"))

# One batch per task kind, both annotators, a third of each batch labelled by both.
DEMO_BATCHES = (
    (TaskKind.INSTRUCTION_VALIDATION, "Demo: instruction validation", Filters()),
    (TaskKind.REQUIREMENT_ASSESSMENT, "Demo: requirement assessment",
     Filters(languages=("en",))),
    (TaskKind.JUDGE_AGREEMENT, "Demo: judge agreement", Filters()),
    (TaskKind.TRANSLATION_VALIDATION, "Demo: translation validation", Filters()),
    (TaskKind.PAIRWISE_PREFERENCE, "Demo: pairwise preference", Filters()),
    # Dimensions default to those the judge scored (helpfulness, fluency).
    (TaskKind.RESPONSE_RATING, "Demo: response rating", Filters(languages=("en", "zh", "ar"))),
)


class Command(BaseCommand):
    help = ("Load the demo benchmark from fixtures/, create the demo accounts and one batch per "
            "task kind. Safe to run again: nothing is duplicated.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet-logins", action="store_true",
                            help="do not print the demo logins")

    def handle(self, *args, quiet_logins: bool = False, **options) -> None:
        for name, importer in (("benchmark.jsonl", importers.import_benchmark),
                               ("responses.jsonl", importers.import_responses),
                               ("pairs.jsonl", importers.import_pairs)):
            path = FIXTURES / name
            summary = importer(data=path.read_bytes(), file_name=name, benchmark_name=BENCHMARK)
            self.stdout.write(str(summary))
        admin = user_ensure(username=ADMIN[0], password=ADMIN[1], is_staff=True)
        annotators = [user_ensure(username=u, password=p) for u, p in ANNOTATORS]
        path = FIXTURES / "labels.csv"
        self.stdout.write(str(importers.import_labels(
            data=path.read_bytes(), file_name=path.name, benchmark_name=BENCHMARK)))

        benchmark = Benchmark.objects.get(name=BENCHMARK)
        for kind, name, filters in DEMO_BATCHES:
            if Batch.objects.filter(benchmark=benchmark, name=name).exists():
                continue
            batch = batch_create(
                benchmark=benchmark, kind=kind, name=name, annotators=annotators,
                filters=filters, created_by=admin,
                sample=SampleRequest(seed=2025, overlap_fraction=0.3, overlap_k=2),
            )
            self.stdout.write(f"created batch {batch.name!r} with {batch.units.count()} units")

        if not quiet_logins:
            self.stdout.write(self.style.SUCCESS(
                "\nAccord demo is ready at http://127.0.0.1:8000/\n"
                f"  admin      {ADMIN[0]} / {ADMIN[1]}\n"
                + "".join(f"  annotator  {u} / {p}\n" for u, p in ANNOTATORS)
            ))

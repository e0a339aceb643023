from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Benchmark, TaskKind
from annotation.selectors import batch_progress
from annotation.services import SampleRequest, ServiceError, annotators_by_name, batch_create
from annotation.tasks import Filters


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


class Command(BaseCommand):
    help = ("Draw a sample of units from a benchmark, stratified by language, and assign it "
            "to annotators. The same --seed draws the same sample.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--benchmark", required=True)
        parser.add_argument("--kind", required=True, choices=TaskKind.values)
        parser.add_argument("--name", required=True, help="the batch's name (unique per benchmark)")
        parser.add_argument("--annotators", required=True, type=_csv,
                            help="comma-separated usernames")
        size = parser.add_mutually_exclusive_group()
        size.add_argument("--size", type=int, help="number of units to draw")
        size.add_argument("--fraction", type=float, help="share of matching units, e.g. 0.1")
        parser.add_argument("--languages", type=_csv, default=(),
                            help="comma-separated language codes (default: all)")
        parser.add_argument("--subset", default="", help="e.g. easy or hard (default: all)")
        parser.add_argument("--models", type=_csv, default=(),
                            help="comma-separated response models (default: all)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--overlap", type=float, default=0.0,
                            help="share of the sample labelled by several annotators, e.g. 0.1")
        parser.add_argument("--overlap-annotators", type=int, default=2,
                            help="annotators per overlap unit (default 2)")
        parser.add_argument("--dimensions", type=_csv, default=(),
                            help="response rating only: comma-separated dimensions to rate "
                                 "(default: the dimensions the judges scored)")

    def handle(self, *args, **o) -> None:
        benchmark = Benchmark.objects.filter(name=o["benchmark"]).first()
        if benchmark is None:
            raise CommandError(f"no benchmark named {o['benchmark']!r}")
        try:
            batch = batch_create(
                benchmark=benchmark, kind=o["kind"], name=o["name"],
                annotators=annotators_by_name(o["annotators"]),
                filters=Filters(languages=o["languages"], subset=o["subset"],
                                models=o["models"]),
                sample=SampleRequest(size=o["size"], fraction=o["fraction"], seed=o["seed"],
                                     overlap_fraction=o["overlap"],
                                     overlap_k=o["overlap_annotators"]),
                dimensions=o["dimensions"],
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        n_units = batch.units.count()
        n_overlap = batch.units.filter(is_overlap=True).count()
        self.stdout.write(self.style.SUCCESS(
            f"batch {batch.name!r} (id {batch.pk}): {n_units} units, {n_overlap} in overlap"))
        for row in batch_progress(batch):
            self.stdout.write(f"  {row['annotator']}: {row['progress'].total} assignments")

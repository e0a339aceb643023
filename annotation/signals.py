"""Deleting a user cascades to their labels, which bypasses the service layer: recount the
agreement summaries of the units those labels were on."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from . import summaries
from .models import Benchmark

_PENDING = "_accord_labelled_units"


@receiver(pre_delete, sender=get_user_model())
def remember_labelled_units(sender: Any, instance: Any, **kwargs: Any) -> None:
    setattr(instance, _PENDING, summaries.units_labelled_by(instance.pk))


@receiver(post_delete, sender=get_user_model())
def recount_labelled_units(sender: Any, instance: Any, **kwargs: Any) -> None:
    pending = getattr(instance, _PENDING, {})
    with transaction.atomic():
        for benchmark in Benchmark.objects.filter(pk__in=list(pending)):
            summaries.refresh_units(benchmark, pending[benchmark.pk])


def build_missing_summaries(**kwargs: Any) -> None:
    """After `migrate`: benchmarks labelled before the summaries existed get them now."""
    from .models import Label, UnitTally

    labelled = Label.objects.values("benchmark_id").distinct()
    summarised = UnitTally.objects.values("benchmark_id").distinct()
    for benchmark in Benchmark.objects.filter(pk__in=labelled).exclude(pk__in=summarised):
        summaries.rebuild(benchmark)

"""Forms of the admin pages (imports, batches). They validate input; the services decide."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from judging.models import Response

from .import_jobs import CREATES_BENCHMARK, IMPORTERS
from .models import Benchmark, Group, Item, Pair, TaskKind
from .services import SampleRequest, rating_dimensions
from .tasks import DIMENSION_NAME, Filters, task_spec

IMPORT_KINDS = (
    ("benchmark", "Benchmark (JSONL, instructions and requirements)"),
    ("responses", "Responses and judge decisions (JSONL)"),
    ("pairs", "Pairwise comparisons (JSONL)"),
    ("labels", "Human labels (CSV)"),
)
assert {k for k, _ in IMPORT_KINDS} == set(IMPORTERS)


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=IMPORT_KINDS, widget=forms.RadioSelect,
                             initial="benchmark")
    benchmark = forms.CharField(
        max_length=200, label="Benchmark name",
        help_text="An existing benchmark, or a new name for a benchmark or pairs file.",
        widget=forms.TextInput(attrs={"list": "benchmark-names", "autocomplete": "off"}),
    )
    # An empty file reaches the importer, whose refusal names the file and line 1.
    file = forms.FileField(allow_empty_file=True)

    def clean_benchmark(self) -> str:
        return self.cleaned_data["benchmark"].strip()

    def clean(self) -> dict:
        data = super().clean()
        kind, name = data.get("kind"), data.get("benchmark")
        if kind and name and kind not in CREATES_BENCHMARK and not (
            Benchmark.objects.filter(name=name).exists()
        ):
            self.add_error("benchmark", f"No benchmark is named {name!r}; import its "
                           "benchmark file first.")
        return data


def _distinct(queryset: QuerySet, *fields: str) -> list[str]:
    values: set[str] = set()
    for field in fields:
        values.update(v for v in queryset.values_list(field, flat=True).distinct().order_by()
                      if v)
    return sorted(values)


def language_choices() -> list[tuple[str, str]]:
    languages = set(_distinct(Item.objects.all(), "language"))
    languages.update(_distinct(Pair.objects.all(), "language"))
    return [(code, code) for code in sorted(languages)]


def subset_choices() -> list[tuple[str, str]]:
    return [("", "All subsets"), *((s, s) for s in _distinct(Group.objects.all(), "subset"))]


def model_choices() -> list[tuple[str, str]]:
    models = set(_distinct(Response.objects.all(), "model"))
    models.update(_distinct(Pair.objects.all(), "model_a", "model_b"))
    return [(m, m) for m in sorted(models)]


def annotator_queryset() -> QuerySet:
    return get_user_model().objects.filter(is_active=True, is_staff=False).order_by("username")


class AnnotatorChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_username()


class BatchForm(forms.Form):
    """The parameters of `services.batch_create`. With `preview=True` the name and the
    annotators may be left out: the preview only needs the filters and the sample."""

    benchmark = forms.ModelChoiceField(queryset=Benchmark.objects.order_by("name"),
                                       empty_label=None)
    kind = forms.ChoiceField(choices=TaskKind.choices, label="Task")
    dimensions = forms.CharField(
        required=False, max_length=500, label="Dimensions to rate",
        help_text="Response rating only: comma-separated, each rated 1-5. Empty: the "
                  "dimensions the judges scored.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    languages = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None checked: every language.",
    )
    subset = forms.ChoiceField(required=False)
    models = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Response models",
        help_text="For judge agreement, pairwise preference and response rating. None "
                  "checked: every model.",
    )
    size = forms.IntegerField(required=False, min_value=1, label="Sample size",
                              help_text="A number of units.")
    fraction = forms.FloatField(required=False, min_value=0, max_value=1,
                                label="Sample fraction", help_text="A share, e.g. 0.1.",
                                widget=forms.NumberInput(attrs={"step": "any"}))
    seed = forms.IntegerField(initial=0, help_text="Same seed, same sample.")
    overlap_fraction = forms.FloatField(
        initial=0.1, min_value=0, max_value=1, label="Overlap fraction",
        help_text="Share labelled by several annotators.",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    overlap_k = forms.IntegerField(initial=2, min_value=2, label="Annotators per overlap unit",
                                   help_text="At least 2.")
    annotators = AnnotatorChoiceField(queryset=annotator_queryset(),
                                      widget=forms.CheckboxSelectMultiple)
    name = forms.CharField(max_length=200, label="Batch name")

    def __init__(self, *args, preview: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["languages"].choices = language_choices()
        self.fields["subset"].choices = subset_choices()
        self.fields["models"].choices = model_choices()
        self.fields["annotators"].queryset = annotator_queryset()
        if preview:
            self.fields["annotators"].required = False
            self.fields["name"].required = False

    def hint_dimensions(self) -> None:
        """Show what an empty field means for the chosen benchmark (or the first one): one
        query, so only the page that shows the form asks it (not the preview)."""
        benchmark = None
        chosen = self.data.get("benchmark") if self.is_bound else self.initial.get("benchmark")
        benchmarks = self.fields["benchmark"].queryset
        if chosen and str(chosen).isdigit():
            benchmark = benchmarks.filter(pk=chosen).first()
        benchmark = benchmark or benchmarks.first()
        scored = rating_dimensions(benchmark) if benchmark is not None else []
        if scored:
            self.fields["dimensions"].widget.attrs["placeholder"] = ", ".join(scored)
            self.fields["dimensions"].help_text = (
                "Response rating only: comma-separated, each rated 1-5. Empty: the dimensions "
                f"the judges of {benchmark.name} scored ({', '.join(scored)}).")

    def clean_dimensions(self) -> list[str]:
        names = [d.strip() for d in self.cleaned_data["dimensions"].split(",") if d.strip()]
        return list(dict.fromkeys(names))

    def dimensions_to_rate(self) -> list[str]:
        """The dimensions to pass to batch_create: none unless the task rates responses
        (text left over from switching the task is ignored)."""
        kind = self.cleaned_data.get("kind")
        if not kind or not task_spec(kind).open_scale:
            return []
        return self.cleaned_data.get("dimensions") or []

    def clean_fraction(self) -> float | None:
        fraction = self.cleaned_data["fraction"]
        if fraction is not None and fraction <= 0:
            raise forms.ValidationError("Give a fraction above 0, or leave it empty.")
        return fraction

    def clean(self) -> dict:
        data = super().clean()
        if data.get("size") is not None and data.get("fraction") is not None:
            raise forms.ValidationError(
                "Give a sample size or a sample fraction, not both.", code="size_and_fraction")
        bad = [d for d in self.dimensions_to_rate() if not DIMENSION_NAME.match(d)]
        if bad:
            self.add_error("dimensions", forms.ValidationError(
                "%(bad)s: a dimension is a lower-case name of letters, digits and underscores, "
                "e.g. helpfulness, fluency.", params={"bad": ", ".join(bad)}))
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(languages=tuple(data["languages"]), subset=data["subset"] or "",
                       models=tuple(data["models"]))

    def sample(self) -> SampleRequest:
        data = self.cleaned_data
        return SampleRequest(size=data["size"], fraction=data["fraction"], seed=data["seed"],
                             overlap_fraction=data["overlap_fraction"],
                             overlap_k=data["overlap_k"])

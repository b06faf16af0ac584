"""Forms of the catalog pages: uploading a file, mapping its columns, importing from the hub, label noise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django import forms
from django.core.validators import RegexValidator
from django.db.models import F, QuerySet

from rlab.catalog.importing import (
    DATASET_NAME,
    DATASET_NAME_RULE,
    MAX_NAME_LENGTH,
    READERS,
    FieldMapping,
    name_problem,
)
from rlab.catalog.models import Dataset
from rlab.catalog.uploads import MAX_UPLOAD_BYTES
from rlab.spec import HUB_ID

MAPPED_FIELDS = ("problem", "answer", "solution", "subject", "level", "choices", "index")
MAPPING_HELP = {
    "problem": "The problem statement (required).",
    "answer": "The gold answer: a string, a number or a list of them (required).",
    "solution": "A reference solution or demonstration.",
    "subject": "Subject, for filtering.",
    "level": "Difficulty level, for filtering.",
    "choices": "The options of a multiple-choice problem (a list).",
    "index": "The example's index that π rankings refer to; default: its position in the file.",
}


class DatasetNameField(forms.CharField):
    default_validators = [RegexValidator(DATASET_NAME, DATASET_NAME_RULE.capitalize() + ".")]

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=MAX_NAME_LENGTH, **kwargs)


class DatasetNameMixin:
    """The dataset's name: the one typed in, else one derived from the source (`default_name`), checked
    like a typed one and unique in the team."""

    def __init__(self, *args, team=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.team = team

    def default_name(self) -> str:
        raise NotImplementedError

    def clean(self) -> dict:
        cleaned = super().clean()
        if "name" in self.errors or any(f not in cleaned for f in self.source_fields):
            return cleaned
        name = cleaned.get("name") or self.default_name()
        if problem := name_problem(name):
            where = "" if cleaned.get("name") else " (taken from the source; type a name instead)"
            self.add_error("name", f"{problem[0].upper()}{problem[1:]}{where}.")
        elif self.team is not None and Dataset.objects.filter(team=self.team, name=name).exists():
            self.add_error("name", f"A dataset named {name!r} already exists in this team.")
        else:
            cleaned["name"] = name
        return cleaned

    def dataset_name(self) -> str:
        return self.cleaned_data["name"]


class UploadForm(DatasetNameMixin, forms.Form):
    file = forms.FileField(help_text=f"{', '.join(READERS)} — up to {MAX_UPLOAD_BYTES // 2**20} MB.")
    name = DatasetNameField(required=False, help_text="Default: the file name without its extension.")
    licence_note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in READERS:
            raise forms.ValidationError(f"Unsupported file type; use {', '.join(READERS)}.")
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
        return upload

    source_fields = ("file",)

    def default_name(self) -> str:
        return Path(self.cleaned_data["file"].name).stem


class MappingForm(forms.Form):
    """Which column fills each Example field: a choice among the file's columns once it has been
    previewed, free text (a dotted path) otherwise."""

    problem = forms.CharField(initial="problem")
    answer = forms.CharField(initial="answer")
    solution = forms.CharField(required=False)
    subject = forms.CharField(required=False)
    level = forms.CharField(required=False)
    choices = forms.CharField(required=False)
    index = forms.CharField(required=False)

    def __init__(self, *args, columns: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.help_text = MAPPING_HELP[name]
            if columns:
                options = [] if field.required else [("", "— none —")]
                field.widget = forms.Select(choices=options + [(c, c) for c in columns])

    def to_mapping(self) -> FieldMapping:
        return FieldMapping(**{name: self.cleaned_data[name] or None for name in MAPPED_FIELDS})


class HubImportForm(DatasetNameMixin, forms.Form):
    hub_id = forms.RegexField(
        regex=HUB_ID, label="Hub dataset id", help_text="e.g. HuggingFaceH4/MATH-500", max_length=200
    )
    config = forms.CharField(required=False, max_length=100, help_text="Configuration name, if any.")
    split = forms.CharField(initial="train", max_length=100, help_text="e.g. train, test or train[:1000].")
    name = DatasetNameField(required=False, help_text="Default: the dataset id's last part.")

    source_fields = ("hub_id",)

    def default_name(self) -> str:
        return self.cleaned_data["hub_id"].split("/")[-1]


class NoiseForm(forms.Form):
    fraction = forms.FloatField(
        min_value=0.0, max_value=1.0, initial=0.5, help_text="Share of the numeric labels to corrupt."
    )
    seed = forms.IntegerField(min_value=0, initial=0)

    def clean_fraction(self) -> float:
        fraction = self.cleaned_data["fraction"]
        if fraction == 0:
            raise forms.ValidationError("A variant with no corrupted labels is the dataset itself.")
        return fraction


SORTS = {
    "index": ("index",),
    "-index": ("-index",),
    "pi": (F("pi_rank").asc(nulls_last=True), "index"),
    "-pi": (F("pi_rank").desc(nulls_last=True), "index"),
    "variance": (F("historical_variance").asc(nulls_last=True), "index"),
    "-variance": (F("historical_variance").desc(nulls_last=True), "index"),
}


@dataclass(frozen=True)
class SortLink:
    label: str
    sort: str  # the sort a click on the column asks for
    arrow: str  # shows the current sort on its column


SORT_COLUMNS = (("index", "#", "index"), ("pi", "π", "pi"), ("variance", "Variance", "-variance"))


class ExampleFilterForm(forms.Form):
    """Sorting and filtering a dataset's examples table (GET parameters; invalid values are ignored)."""

    sort = forms.ChoiceField(choices=[(key, key) for key in SORTS], required=False)
    subject = forms.ChoiceField(required=False)
    level = forms.ChoiceField(required=False)
    changed = forms.BooleanField(required=False, label="Changed labels only")

    def __init__(self, data, *, subjects: list[str], levels: list[str]) -> None:
        super().__init__(data)
        self.fields["subject"].choices = [("", "all subjects")] + [(s, s) for s in subjects]
        self.fields["level"].choices = [("", "all levels")] + [(v, v) for v in levels]

    def _values(self) -> dict:
        self.is_valid()  # keeps the valid fields in cleaned_data
        return self.cleaned_data

    def apply(self, examples: QuerySet) -> QuerySet:
        values = self._values()
        if subject := values.get("subject"):
            examples = examples.filter(subject=subject)
        if level := values.get("level"):
            examples = examples.filter(level=level)
        if values.get("changed"):
            examples = examples.filter(original_answer__isnull=False).exclude(original_answer=F("answer"))
        return examples.order_by(*SORTS[self.current_sort])

    @property
    def current_sort(self) -> str:
        return self._values().get("sort") or "index"

    def sort_links(self) -> list[SortLink]:
        """Column headers: a click sorts by the column, a second click reverses the order."""
        links = []
        for column, label, first in SORT_COLUMNS:
            if self.current_sort.lstrip("-") == column:
                descending = self.current_sort.startswith("-")
                links.append(
                    SortLink(label, column if descending else f"-{column}", "▼" if descending else "▲")
                )
            else:
                links.append(SortLink(label, first, ""))
        return links

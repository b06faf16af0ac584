"""The filters of the per-problem drill-down (GET parameters; invalid values are ignored)."""

from django import forms


class ProblemFilters(forms.Form):
    subject = forms.ChoiceField(required=False)
    level = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False)

    def __init__(self, data, *, subjects: list[str], levels: list[str], kinds: list[tuple[str, str]]) -> None:
        super().__init__(data)
        self.fields["subject"].choices = [("", "all subjects")] + [(s, s) for s in subjects]
        self.fields["level"].choices = [("", "all levels")] + [(v, f"level {v}") for v in levels]
        self.fields["kind"].choices = [("", "all problems"), *kinds]

    @property
    def values(self) -> dict[str, str]:
        self.is_valid()  # keeps the valid fields in cleaned_data
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}

"""The dashboard's forms. They check the shape of what a person typed (lengths, no NUL bytes,
known states); the services check its meaning, and a refusal from a service lands on the field
it names, with its hint, through `ServiceErrorForm.add_service_error`.
"""

from __future__ import annotations

import re
import shlex

from django import forms

from builds.models import Build, Project
from builds.services.errors import ServiceError
from runtimes.durations import parse_age
from runtimes.errors import UsageError
from runtimes.rust_versions import RustVersion
from runtimes.targets import validate_triple

_SEPARATORS = re.compile(r"[\s,]+")


class HintedBoundField(forms.BoundField):
    """A field that also knows the hint a service gave with its error, for the template."""

    @property
    def hint(self) -> str:
        return self.form.hints.get(self.name, "")


class ServiceErrorForm(forms.Form):
    bound_field_class = HintedBoundField
    # Service field names that this form shows under another field.
    field_aliases: dict[str, str] = {}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.hints: dict[str, str] = {}
        self.non_field_hint = ""

    def add_service_error(self, error: ServiceError) -> None:
        """Show a service's refusal on the field it names (or above the form)."""
        field = self.field_aliases.get(error.field or "", error.field)
        if field not in self.fields:
            field = None
        self.add_error(field, error.message)
        if error.hint and field:
            self.hints[field] = error.hint
        elif error.hint:
            self.non_field_hint = error.hint


class ProjectForm(ServiceErrorForm):
    name = forms.CharField(max_length=100, help_text="shown on pages; its slug names the project")
    source = forms.CharField(
        max_length=500,
        help_text=(
            "a git URL (https://, ssh://, git://, file://, user@host:path) "
            "or a directory on the server (an absolute path)"
        ),
    )
    default_ref = forms.CharField(
        max_length=200,
        required=False,
        label="Default ref",
        help_text="branch, tag or commit to build (git projects only); empty: the default branch",
    )
    triples = forms.CharField(
        max_length=1000,
        required=False,
        label="Targets",
        help_text="target triples, separated by commas or spaces, like aarch64-unknown-linux-gnu",
    )
    field_aliases = {"git_url": "source", "local_path": "source"}

    def clean_triples(self) -> list[str]:
        return [triple for triple in _SEPARATORS.split(self.cleaned_data["triples"]) if triple]

    def service_arguments(self) -> dict[str, object]:
        """The keyword arguments of `create_project`: a path is local, anything else git."""
        data = self.cleaned_data
        source = data["source"]
        is_path = source.startswith("/")
        return {
            "name": data["name"],
            "git_url": "" if is_path else source,
            "local_path": source if is_path else "",
            "default_ref": data["default_ref"],
            "triples": data["triples"],
        }


class TargetForm(ServiceErrorForm):
    triple = forms.CharField(
        max_length=100, label="Target", help_text="a target triple, like aarch64-unknown-linux-gnu"
    )
    image = forms.CharField(
        max_length=300,
        required=False,
        help_text="an image of its own (optional); empty: the bundled toolchain image",
    )
    release = forms.BooleanField(required=False, help_text="build with --release")
    dockerfile = forms.CharField(
        max_length=300,
        required=False,
        help_text="a Dockerfile in the project to make its image from (optional), e.g. "
        "docker/cross.Dockerfile",
    )
    build_args = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="the Dockerfile's build arguments, one NAME=value a line",
    )

    cargo_args = forms.CharField(
        required=False,
        max_length=2000,
        help_text="cargo's own arguments for every build, as a shell would split them: "
        "--features cli -p app --bin tool",
    )

    def clean_cargo_args(self) -> list[str]:
        """Split as a shell would (quotes kept together); each is checked by the service."""
        try:
            return shlex.split(self.cleaned_data["cargo_args"])
        except ValueError as error:
            raise forms.ValidationError(f"cannot split these arguments: {error}") from None

    def clean_build_args(self) -> dict[str, str]:
        """NAME=value lines as a mapping; each name and value is checked by the service."""
        pairs: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["build_args"].splitlines(), start=1):
            if not line.strip():
                continue
            name, equals, value = line.partition("=")
            if not equals:
                raise forms.ValidationError(f"line {number}: NAME=value expected")
            pairs[name.strip()] = value
        return pairs


class BuildFilterForm(forms.Form):
    """The build list's filters, from the query string."""

    project = forms.SlugField(max_length=100, required=False, help_text="project slug")
    target = forms.CharField(max_length=100, required=False, help_text="target triple")
    state = forms.ChoiceField(choices=[("", "any"), *Build.State.choices], required=False)
    user = forms.CharField(max_length=150, required=False, help_text="user name")

    def filters(self) -> dict[str, str]:
        """The keyword arguments of `selectors.recent_builds`."""
        data = self.cleaned_data
        return {
            "project": data["project"],
            "target": data["target"],
            "state": data["state"],
            "triggered_by": data["user"],
        }


def _age_field() -> forms.CharField:
    return forms.CharField(
        max_length=12, required=False, help_text="unused for this long: 30m, 12h, 7d, 2w"
    )


class CacheCleanForm(forms.Form):
    """What an admin cleans from the caches page: the volumes of a project, of a target, or
    unused for a while; all of them when nothing is chosen. `confirm` is set by the preview.
    """

    project = forms.ModelChoiceField(
        queryset=Project.objects.order_by("name"), required=False, empty_label="every project"
    )
    target = forms.CharField(max_length=100, required=False, help_text="a target triple")
    older_than = _age_field()
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_target(self) -> str:
        target = self.cleaned_data["target"].strip()
        if target:
            try:
                validate_triple(target)
            except UsageError as error:
                raise forms.ValidationError(error.message) from None
        return target

    def clean_older_than(self) -> int | None:
        return _age(self.cleaned_data["older_than"])


class ImageRemovalForm(forms.Form):
    """Which old toolchain images an admin removes from the caches page: one toolchain's, or
    those unused for a while, or every old one. `confirm` is set by the preview. Prefixed:
    the clean form on the same page has an `older_than` too.
    """

    prefix = "images"
    toolchain = forms.CharField(max_length=12, required=False, help_text="a channel, e.g. 1.85")
    older_than = _age_field()
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_toolchain(self) -> str:
        text = self.cleaned_data["toolchain"].strip()
        if not text:
            return ""
        try:
            return RustVersion.parse(text).channel
        except UsageError as error:
            raise forms.ValidationError(f"{error.message} ({error.hint})") from None

    def clean_older_than(self) -> int | None:
        return _age(self.cleaned_data["older_than"])


def _age(text: str) -> int | None:
    """Seconds of an age typed as 7d or 12h; None for nothing typed."""
    if not text.strip():
        return None
    try:
        return parse_age(text.strip())
    except UsageError as error:
        raise forms.ValidationError(f"{error.message} ({error.hint})") from None

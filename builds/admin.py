"""The Django admin, for the few things only an administrator does: switch an engine host or
a target off, trust a registry, set cache quotas, revoke API tokens, delete old builds.

What workers record (builds and their results, artifacts, images, cache volumes, what an
engine reported) is shown read-only: an administrator may delete such a record, never
rewrite it. Every field a person types is checked with the same validators the dashboard,
the API and the CLI use. Build lists stay fast with tens of thousands of builds: no second
count for the unfiltered total, a bounded count for paging, related rows in the same query,
and a build's log shown as its tail, never as thousands of chunk rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from builds import selectors
from builds.models import (
    ApiToken,
    Approval,
    Artifact,
    Build,
    BuildVariable,
    CacheEviction,
    CacheQuota,
    CacheVolume,
    EngineHost,
    Image,
    LogChunk,
    Project,
    Target,
    TrustedRegistry,
)
from builds.services import policies, projects, variables
from builds.services.builds import delete_artifacts, delete_builds
from builds.services.errors import ServiceError
from runtimes.sizes import human_size

Checked = TypeVar("Checked")
Value = TypeVar("Value")


def _service_checked(check: Callable[[Value], Checked], value: Value) -> Checked:
    """Run a service's check of a field; its refusal (and hint) becomes the field's error."""
    try:
        return check(value)
    except ServiceError as error:
        message = f"{error.message} ({error.hint})" if error.hint else error.message
        raise ValidationError(message) from None


class BoundedCountPaginator(Paginator):
    """Counts at most `MAX_COUNT` rows: past that, the list pages through the newest ones and
    the date hierarchy or a filter narrows it down, instead of every page load counting the
    whole table.
    """

    MAX_COUNT = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        return queryset.values("pk")[: self.MAX_COUNT].count()


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record workers keep up to date: viewable, deletable, never added or edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# Projects and targets


class ProjectAdminForm(forms.ModelForm):
    """The project's fields, each checked by the service that registers projects."""

    class Meta:
        model = Project
        fields = ["name", "slug", "git_url", "local_path", "default_ref", "protected_refs"]

    def clean_git_url(self) -> str:
        return _service_checked(projects.check_git_url, self.cleaned_data["git_url"])

    def clean_default_ref(self) -> str:
        return _service_checked(projects.check_ref, self.cleaned_data["default_ref"])

    def clean_local_path(self) -> str:
        return _service_checked(projects.check_local_path, self.cleaned_data["local_path"])

    def clean_protected_refs(self) -> str:
        return _service_checked(projects.check_protected_refs, self.cleaned_data["protected_refs"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "git_url" in data and "local_path" in data:
            refs = {field: data.get(field, "") for field in ("default_ref", "protected_refs")}
            try:
                projects.check_source(
                    git_url=data["git_url"], local_path=data["local_path"], refs=refs
                )
            except ServiceError as error:
                self.add_error(None if error.field == "git_url" else error.field, error.message)
        return data


class TargetAdminForm(forms.ModelForm):
    """A target's fields, each checked by the service that adds targets."""

    class Meta:
        model = Target
        fields = [
            "project",
            "triple",
            "image",
            "dockerfile",
            "build_args",
            "cargo_args",
            "release",
            "enabled",
            "disk_limit",
        ]

    def clean_triple(self) -> str:
        return _service_checked(projects.check_triple, self.cleaned_data["triple"])

    def clean_image(self) -> str:
        return _service_checked(projects.check_image, self.cleaned_data["image"])

    def clean_disk_limit(self) -> str:
        return _service_checked(projects.check_disk_limit, self.cleaned_data["disk_limit"])

    def clean_dockerfile(self) -> str:
        return _service_checked(projects.check_dockerfile, self.cleaned_data["dockerfile"])

    def clean_build_args(self) -> dict[str, str]:
        build_args = self.cleaned_data["build_args"]
        if not isinstance(build_args, dict) or not all(
            isinstance(value, str) for value in build_args.values()
        ):
            raise forms.ValidationError('an object of strings, e.g. {"BASE": "debian:trixie"}')
        return _service_checked(projects.check_build_args, build_args)

    def clean_cargo_args(self) -> list[str]:
        cargo_args = self.cleaned_data["cargo_args"]
        if not isinstance(cargo_args, list) or not all(
            isinstance(value, str) for value in cargo_args
        ):
            raise forms.ValidationError('a list of strings, e.g. ["--features", "cli"]')
        return _service_checked(projects.check_cargo_arguments, cargo_args)


class TargetInline(admin.TabularInline):
    model = Target
    form = TargetAdminForm
    fields = ["triple", "image", "dockerfile", "release", "enabled", "disk_limit"]
    extra = 0
    # A target goes with its builds and their files: through its own delete page.
    can_delete = False
    show_change_link = True


class BuildVariableForm(forms.ModelForm):
    """A variable of the project's builds. A secret's value is write-only: the form never shows
    it, and left empty it keeps the stored one.
    """

    value = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 40}))

    class Meta:
        model = BuildVariable
        fields = ["name", "target", "value", "secret"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.secret:
            self.fields["value"].widget = forms.PasswordInput(render_value=False)
            self.fields["value"].help_text = "secret: never shown; leave empty to keep it"
            self.initial["value"] = ""

    def clean_name(self) -> str:
        return _service_checked(variables.check_variable_name, self.cleaned_data["name"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        secret, value = data.get("secret", False), data.get("value", "")
        if not value and secret and self.instance.pk and self.instance.secret:
            value = self.instance.value
        try:
            data["value"] = variables.check_variable_value(value, secret=secret)
        except ServiceError as error:
            self.add_error("value", error.message)
        return data


class BuildVariableInline(admin.TabularInline):
    model = BuildVariable
    form = BuildVariableForm
    extra = 0

    def get_formset(self, request: HttpRequest, obj: Project | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        targets = formset.form.base_fields["target"]
        targets.queryset = Target.objects.filter(project=obj) if obj else Target.objects.none()
        return formset


def _deletion_summary(
    builds: QuerySet[Build],
) -> tuple[list[Any], dict[str, int], set[str], list[str]]:
    """What deleting `builds` deletes, for the confirmation page, counted in the database
    rather than by loading every log chunk (which Django's own summary would do).
    """
    to_delete: list[Any] = []
    for build in builds.select_related("target__project").annotate(files=Count("artifacts")):
        link = format_html(
            '<a href="{}">{}</a>', reverse("admin:builds_build_change", args=[build.pk]), build
        )
        to_delete.append(link)
        to_delete.append([f"{build.log_lines} log lines", f"{build.files} artifacts"])
    model_count = {
        "builds": builds.count(),
        "log chunks": LogChunk.objects.filter(build__in=builds).count(),
        "artifacts": Artifact.objects.filter(build__in=builds).count(),
    }
    protected = [
        f"build {build} is {build.state}: cancel it first"
        for build in builds.exclude(state__in=Build.FINAL_STATES).select_related("target__project")
    ]
    return to_delete, model_count, set(), protected


def _listed(objects: list[Model], builds: list[Any]) -> list[Any]:
    """The objects for the confirmation page, with their builds listed under them."""
    return [*map(str, objects), builds] if builds else list(map(str, objects))


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectAdminForm
    inlines = [TargetInline, BuildVariableInline]
    list_display = ["name", "slug", "display_source", "default_ref", "created_by", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_by", "created_at"]

    @admin.display(description="source")
    def display_source(self, project: Project) -> str:
        return project.display_source

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_deleted_objects(self, objs: Iterable[Project], request: HttpRequest) -> Any:
        projects = list(objs)
        to_delete, model_count, perms_needed, protected = _deletion_summary(
            Build.objects.filter(project__in=projects)
        )
        model_count = {
            "projects": len(projects),
            "targets": Target.objects.filter(project__in=projects).count(),
            **model_count,
        }
        return (
            _listed(projects, to_delete),
            model_count,
            perms_needed,
            protected,
        )

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        self.delete_queryset(request, Project.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        delete_builds(Build.objects.filter(project__in=queryset))
        queryset.delete()


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    form = TargetAdminForm
    list_display = ["triple", "project", "image", "release", "enabled"]
    list_filter = ["enabled", "release"]
    list_select_related = ["project"]
    search_fields = ["triple", "project__name", "project__slug"]

    def get_deleted_objects(self, objs: Iterable[Target], request: HttpRequest) -> Any:
        targets = list(objs)
        to_delete, model_count, perms_needed, protected = _deletion_summary(
            Build.objects.filter(target__in=targets)
        )
        model_count = {"targets": len(targets), **model_count}
        return (
            _listed(targets, to_delete),
            model_count,
            perms_needed,
            protected,
        )

    def delete_model(self, request: HttpRequest, obj: Target) -> None:
        self.delete_queryset(request, Target.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Target]) -> None:
        delete_builds(Build.objects.filter(target__in=queryset))
        queryset.delete()


# Builds and what they made


class ArtifactInline(admin.TabularInline):
    model = Artifact
    fields = ["name", "path", "size_shown", "sha256", "glibc", "smoke_state"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="size")
    def size_shown(self, artifact: Artifact) -> str:
        return human_size(artifact.size)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Build)
class BuildAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "project",
        "target_triple",
        "state",
        "success",
        "joined_build",
        "engine_host",
        "triggered_by",
        "created_at",
    ]
    list_display_links = ["id"]
    list_filter = [
        "state",
        "success",
        "error_kind",
        "engine_host",
        ("joined", admin.EmptyFieldListFilter),
    ]
    # A build's name is its target's, whose name is its project's: all in the one query.
    list_select_related = ["project", "target__project", "engine_host", "triggered_by"]
    search_fields = ["=id", "project__slug", "target__triple", "ref", "commit", "error_message"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = BoundedCountPaginator
    list_per_page = 50
    inlines = [ArtifactInline]
    fieldsets = [
        (None, {"fields": ["project", "target", "engine_host", "ref", "commit", "release"]}),
        (
            "Result",
            {
                "fields": [
                    "state",
                    "success",
                    "exit_code",
                    "error_kind",
                    "error_message",
                    "cancel_requested",
                    "approval",
                    "joined",
                ]
            },
        ),
        (
            "Run",
            {
                "fields": [
                    "triggered_by",
                    "task_id",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "heartbeat_at",
                    "phases",
                    "fetch_skipped",
                    "crates_downloaded",
                    "image",
                    "image_source",
                    "image_reason",
                    "image_digest",
                    "rustc_version",
                    "requested_toolchain",
                    "toolchain",
                    "toolchain_reason",
                    "strategy",
                    "strategy_reason",
                    "glibc_floor",
                    "target_cache",
                    "target_cache_protected",
                    "target_cache_seeded",
                ]
            },
        ),
        ("Log", {"fields": ["log_lines", "log_tail"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Build | None = None) -> list[str]:
        return [field.name for field in Build._meta.fields] + ["log_tail"]

    @admin.display(description="target", ordering="target__triple")
    def target_triple(self, build: Build) -> str:
        return build.target.triple

    @admin.display(description="joined", ordering="joined")
    def joined_build(self, build: Build) -> str:
        """The build it joined, by id: the list needs no row of it."""
        if build.joined_id is None:
            return "—"
        link = reverse("admin:builds_build_change", args=[build.joined_id])
        return format_html('<a href="{}">#{}</a>', link, build.joined_id)

    @admin.display(description="log (last lines)")
    def log_tail(self, build: Build) -> SafeString:
        tail = selectors.log_tail(build)
        shown = f"lines {tail.first_line + 1} to {tail.next_line} of {build.log_lines}"
        return format_html(
            '<p>{}</p><pre class="build-log">{}</pre>',
            shown if tail.lines else "no log lines",
            "\n".join(tail.lines),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Build | None = None) -> bool:
        if obj is not None and not obj.is_final:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Iterable[Build], request: HttpRequest) -> Any:
        return _deletion_summary(Build.objects.filter(pk__in=[b.pk for b in objs]))

    def delete_model(self, request: HttpRequest, obj: Build) -> None:
        delete_builds(Build.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Build]) -> None:
        delete_builds(queryset)


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyAdmin):
    list_display = ["name", "build", "size_shown", "glibc", "smoke_state", "sha256"]
    list_select_related = ["build__target__project"]
    search_fields = ["name", "sha256", "=build__id"]
    fields = [
        "build",
        "name",
        "path",
        "size",
        "sha256",
        "glibc",
        "file",
        "smoke_state",
        "smoke_summary",
        "smoke_command",
        "smoke_exit_code",
        "smoke_output",
        "smoke_seconds",
    ]
    readonly_fields = fields
    show_full_result_count = False
    paginator = BoundedCountPaginator

    @admin.display(description="size", ordering="size")
    def size_shown(self, artifact: Artifact) -> str:
        return human_size(artifact.size)

    def delete_model(self, request: HttpRequest, obj: Artifact) -> None:
        self.delete_queryset(request, Artifact.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> None:
        delete_artifacts(queryset)


# Engine hosts and what they hold


@admin.register(EngineHost)
class EngineHostAdmin(admin.ModelAdmin):
    """A host is registered by its worker when the worker starts; here it is switched on or
    off. Its engine URL, runtime and limits come from the worker's options.
    """

    list_display = ["name", "queue", "kind", "version", "rootless", "enabled", "last_seen"]
    list_filter = ["enabled", "kind"]
    search_fields = ["name", "queue"]
    fields = [
        "name",
        "enabled",
        "engine_url",
        "runtime",
        "queue",
        "max_concurrent_builds",
        "kind",
        "version",
        "rootless",
        "cgroup",
        "last_seen",
        "doctor_checks",
    ]
    readonly_fields = [name for name in fields if name != "enabled"]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="doctor checks")
    def doctor_checks(self, host: EngineHost) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(host.doctor, indent=2, sort_keys=True))


@admin.register(Image)
class ImageAdmin(ReadOnlyAdmin):
    list_display = [
        "reference", "engine_host", "origin", "size_shown", "toolchain", "rustc_version"
    ]  # fmt: skip
    list_filter = ["engine_host", "origin"]
    list_select_related = ["engine_host"]
    search_fields = ["reference", "digest", "image_id"]

    @admin.display(description="size", ordering="size")
    def size_shown(self, image: Image) -> str:
        return human_size(image.size)


@admin.register(CacheVolume)
class CacheVolumeAdmin(ReadOnlyAdmin):
    list_display = ["name", "engine_host", "kind", "project", "target", "size_shown", "in_use"]
    list_filter = ["engine_host", "kind", "in_use"]
    list_select_related = ["engine_host", "project"]
    search_fields = ["name", "target", "project__slug"]

    @admin.display(description="size", ordering="size")
    def size_shown(self, volume: CacheVolume) -> str:
        return human_size(volume.size)


# Policies


class TrustedRegistryForm(forms.ModelForm):
    """A registry's settings. The password is write-only: the page never shows it, and left
    empty it keeps the one stored (a login without a username has none).
    """

    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="write-only: never shown; leave empty to keep the stored one",
    )

    class Meta:
        model = TrustedRegistry
        fields = ["host", "note", "allowed_images", "pull_policy", "username", "password"]

    def clean_host(self) -> str:
        return _service_checked(policies.check_registry_host, self.cleaned_data["host"])

    def clean_allowed_images(self) -> str:
        return _service_checked(policies.check_allowed_images, self.cleaned_data["allowed_images"])

    def clean_password(self) -> str:
        given = self.cleaned_data.get("password", "")
        return given or (self.instance.password if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("username"):
            data["password"] = ""
        elif not data.get("password"):
            self.add_error("password", "A login needs its password.")
        return data


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    """People's decisions on Dockerfiles and untrusted images, read-only: they are made on the
    build's page, where the Dockerfile or image is shown with its concerns and the waiting
    builds follow the decision.
    """

    list_display = ["path", "kind", "project", "code", "decision", "decided_by", "decided_at"]
    list_filter = ["kind", "decision"]
    list_select_related = ["project", "decided_by"]
    search_fields = ["path", "code", "project__slug"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TrustedRegistry)
class TrustedRegistryAdmin(admin.ModelAdmin):
    form = TrustedRegistryForm
    list_display = ["host", "pull_policy", "allowed", "login", "note", "added_by", "created_at"]
    list_select_related = ["added_by"]
    search_fields = ["host", "note"]
    readonly_fields = ["added_by", "created_at"]

    @admin.display(description="allowed images")
    def allowed(self, registry: TrustedRegistry) -> str:
        return ", ".join(registry.allowed_images.split())

    @admin.display(description="login")
    def login(self, registry: TrustedRegistry) -> str:
        return registry.username or "none"

    def save_model(
        self, request: HttpRequest, obj: TrustedRegistry, form: Any, change: bool
    ) -> None:
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)


class CacheQuotaForm(forms.ModelForm):
    class Meta:
        model = CacheQuota
        fields = ["project", "engine_host", "warn_bytes", "max_bytes"]
        help_texts = {
            "project": "a project's own limit on its target caches",
            "engine_host": "an engine host's own limit, over the global one; both empty: the "
            "global quota (default 5 GB warning, 10 GB limit)",
            "warn_bytes": "bytes; at most the maximum",
            "max_bytes": "bytes",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        warn, limit = data.get("warn_bytes"), data.get("max_bytes")
        for name in ("warn_bytes", "max_bytes"):
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, "A size cannot be negative.")
        if data.get("project") and data.get("engine_host"):
            self.add_error("engine_host", "A quota is a project's or an engine host's, not both.")
        if warn is not None and limit is not None and warn > limit:
            self.add_error(
                "warn_bytes",
                f"The warning level ({human_size(warn)}) must not be above the maximum "
                f"({human_size(limit)}).",
            )
        return data


@admin.register(CacheQuota)
class CacheQuotaAdmin(admin.ModelAdmin):
    form = CacheQuotaForm
    list_display = ["__str__", "warn_shown", "max_shown"]
    list_select_related = ["project", "engine_host"]

    @admin.display(description="warn at", ordering="warn_bytes")
    def warn_shown(self, quota: CacheQuota) -> str:
        return human_size(quota.warn_bytes)

    @admin.display(description="maximum", ordering="max_bytes")
    def max_shown(self, quota: CacheQuota) -> str:
        return human_size(quota.max_bytes)


@admin.register(CacheEviction)
class CacheEvictionAdmin(ReadOnlyAdmin):
    """What the quotas' eviction removed, and why: the worker's record."""

    list_display = ["volume", "engine_host", "project", "size_shown", "last_used", "removed_at"]
    list_filter = ["engine_host"]
    list_select_related = ["engine_host", "project"]
    search_fields = ["volume", "reason"]

    @admin.display(description="size", ordering="size")
    def size_shown(self, eviction: CacheEviction) -> str:
        return human_size(eviction.size)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are made on the dashboard or with `manage.py api_token USER`, where the token is
    shown once; here a token can only be revoked (deleted).
    """

    list_display = ["user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "prefix"]
    fields = ["user", "prefix", "key_hash", "created_at", "last_used_at"]
    readonly_fields = fields

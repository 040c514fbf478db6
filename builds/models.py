"""What the server keeps: projects and their targets, builds with their logs and artifacts,
and what it knows of each engine host (images, cache volumes, doctor checks).

Writes go through `builds.services`, reads through `builds.selectors`; models hold data,
constraints and the few properties that only rephrase their own fields.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.text import slugify

from runtimes import caches, smoke, vocabulary
from runtimes.cargo_args import BUILD, SERVER_COMMANDS
from runtimes.engine import ENGINE_HOST_RUNTIMES, RUNTIME_LABELS
from runtimes.images import registries, trust
from runtimes.sources import redact_url


def _constant_name(word: str) -> str:
    """`SMOKE_RUNNING` for "smoke-running", `NOT_RUN` for "not run": a choice's Python name."""
    return word.upper().replace(" ", "_").replace("-", "_")


class EngineHost(models.Model):
    """A Docker or Podman engine and the Celery queue of the worker that drives it."""

    Runtime = models.TextChoices(
        "Runtime",
        [(runtime.upper(), (runtime, RUNTIME_LABELS[runtime])) for runtime in ENGINE_HOST_RUNTIMES],
    )

    # The status of a step of a Podman machine set-up; the last one of a set-up is final.
    MACHINE_STEP, MACHINE_READY, MACHINE_FAILED = "step", "ready", "failed"

    name = models.SlugField(max_length=50, unique=True)
    engine_url = models.CharField(
        max_length=300, blank=True, help_text="unix:// or tcp:// URL; empty: the local engine"
    )
    runtime = models.CharField(max_length=10, choices=Runtime.choices, default=Runtime.AUTO)
    queue = models.CharField(max_length=80, unique=True, help_text="the worker's Celery queue")
    max_concurrent_builds = models.PositiveSmallIntegerField(default=2)
    enabled = models.BooleanField(default=True)
    # What the worker last found the engine to be.
    kind = models.CharField(max_length=10, blank=True)
    version = models.CharField(max_length=60, blank=True)
    rootless = models.BooleanField(null=True)
    cgroup = models.CharField(max_length=40, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    doctor = models.JSONField(default=list, blank=True, help_text="the last doctor checks")
    machine_steps = models.JSONField(
        default=list,
        blank=True,
        help_text="the last Podman machine set-up on macOS, step by step: {at, text, status}",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def machine_in_progress(self) -> bool:
        """Whether a Podman machine set-up has steps and has not ended (ready or failed)."""
        steps = self.machine_steps or []
        final = (self.MACHINE_READY, self.MACHINE_FAILED)
        return bool(steps) and steps[-1].get("status") not in final


class Project(models.Model):
    """A Rust project the server builds: from a git repository or a directory on the server."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    git_url = models.CharField(max_length=500, blank=True)
    local_path = models.CharField(max_length=500, blank=True)
    default_ref = models.CharField(max_length=200, blank=True, default="")
    protected_refs = models.TextField(
        blank=True,
        help_text="branches whose builds share the protected target cache, besides the default "
        "branch and tags: one pattern a line, * and ? as in shell (release/*)",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="project_has_exactly_one_source",
                condition=(Q(git_url="") & ~Q(local_path="")) | (~Q(git_url="") & Q(local_path="")),
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_source(self) -> str:
        """The source as pages and the API show it: credentials in a git URL are hidden."""
        return redact_url(self.git_url) if self.git_url else self.local_path

    def get_absolute_url(self) -> str:
        return reverse("project", args=[self.slug])


class Target(models.Model):
    """One target triple of a project, with an optional image of its own."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="targets")
    triple = models.CharField(max_length=100)
    image = models.CharField(max_length=300, blank=True, help_text="image override")
    dockerfile = models.CharField(max_length=300, blank=True)
    build_args = models.JSONField(default=dict, blank=True)
    cargo_args = models.JSONField(
        default=list,
        blank=True,
        help_text="cargo's own arguments for every build of it: --features, -p, --bin, --profile…",
    )
    release = models.BooleanField(default=False, help_text="build with --release")
    enabled = models.BooleanField(default=True)
    disk_limit = models.CharField(
        max_length=12,
        blank=True,
        help_text="what a build may hold in its target cache, e.g. 20g; empty: the server's "
        "XCARGO_BUILD_DISK_LIMIT",
    )

    class Meta:
        ordering = ["project__name", "triple"]
        constraints = [
            models.UniqueConstraint(fields=["project", "triple"], name="one_target_per_triple")
        ]

    def __str__(self) -> str:
        return f"{self.project} · {self.triple}"


class BuildVariable(models.Model):
    """An environment variable a project's builds see, for every target or for one, set by
    admins. A secret's value is write-only: no page, log or API shows it, and the build log
    masks it wherever the build prints it.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="variables")
    target = models.ForeignKey(
        Target,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="variables",
        help_text="empty: every target of the project; a target's own variable wins",
    )
    name = models.CharField(max_length=128)
    value = models.TextField(blank=True)
    secret = models.BooleanField(default=False)

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=Q(target__isnull=True),
                name="one_project_variable_per_name",
            ),
            models.UniqueConstraint(
                fields=["target", "name"],
                condition=Q(target__isnull=False),
                name="one_target_variable_per_name",
            ),
        ]

    def __str__(self) -> str:
        where = self.target.triple if self.target_id else "every target"
        return f"{self.name} ({where})"

    @property
    def shown_value(self) -> str | None:
        """The value as pages and the API show it: None for a secret."""
        return None if self.secret else self.value


class Build(models.Model):
    """One build of one target. `state` is where the build is; `success` whether cargo
    succeeded: a build that ran to its end with a compile error is finished, unsuccessful;
    one that xcargo could not run (no engine, timeout, worker lost) is failed.
    """

    # Both lists come from runtimes.vocabulary, the one place they are defined.
    State = models.TextChoices(
        "State", [(_constant_name(state), (state, state)) for state in vocabulary.STATES]
    )
    ErrorKind = models.TextChoices(
        "ErrorKind", [(kind.name, (kind.word, kind.label)) for kind in vocabulary.ERROR_KINDS]
    )

    RUNNING_STATES = vocabulary.RUNNING_STATES
    ACTIVE_STATES = vocabulary.ACTIVE_STATES
    FINAL_STATES = vocabulary.FINAL_STATES

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="builds")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="builds")
    engine_host = models.ForeignKey(EngineHost, on_delete=models.PROTECT, related_name="builds")
    ref = models.CharField(max_length=200, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    release = models.BooleanField(default=False)
    cargo_args = models.JSONField(
        default=list, blank=True, help_text="cargo's own arguments it was built with"
    )
    command = models.CharField(
        max_length=10,
        choices=[(command, command) for command in SERVER_COMMANDS],
        default=BUILD,
        help_text="build, or test: the tests built and run under the target's emulator",
    )
    test_args = models.JSONField(
        default=list,
        blank=True,
        help_text="a test run's arguments for the test programs (cargo test -- ARGS)",
    )
    tests = models.JSONField(
        null=True,
        blank=True,
        help_text="a test run's results: passed, failed, ignored, programs, failures, broken",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    success = models.BooleanField(null=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    task_id = models.CharField(max_length=50, blank=True)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="when its task was last seen on the queue"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    phases = models.JSONField(default=dict, blank=True, help_text="seconds per phase")
    fetch_skipped = models.BooleanField(default=False)
    crates_downloaded = models.PositiveIntegerField(default=0)
    image = models.CharField(max_length=300, blank=True)
    image_source = models.CharField(
        max_length=20, blank=True, help_text="where the image choice came from"
    )
    image_reason = models.CharField(max_length=300, blank=True, help_text="why this image")
    image_digest = models.CharField(max_length=300, blank=True)
    rustc_version = models.CharField(max_length=100, blank=True)
    requested_toolchain = models.CharField(
        max_length=20, blank=True, help_text="the toolchain asked for with the build; empty: none"
    )
    toolchain = models.CharField(max_length=20, blank=True, help_text="the toolchain it used")
    toolchain_reason = models.CharField(max_length=300, blank=True, help_text="why that one")
    strategy = models.CharField(max_length=20, blank=True, help_text="container, zig or native")
    strategy_reason = models.CharField(max_length=300, blank=True, help_text="why that one")
    glibc_floor = models.CharField(
        max_length=10, blank=True, help_text="the oldest glibc its artifacts must run on"
    )
    target_cache = models.CharField(max_length=255, blank=True, help_text="its target volume")
    target_cache_protected = models.BooleanField(
        null=True, help_text="whether it wrote the protected target cache (default branch, tags)"
    )
    target_cache_seeded = models.BooleanField(
        default=False, help_text="its ref's cache was made for it as a copy of the protected one"
    )
    exit_code = models.IntegerField(null=True, blank=True)
    error_kind = models.CharField(
        max_length=20, choices=ErrorKind.choices, default=ErrorKind.NONE, blank=True
    )
    error_message = models.TextField(blank=True)
    log_lines = models.PositiveIntegerField(default=0)
    approval = models.ForeignKey(
        "Approval",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="builds",
        help_text="the decision its custom Dockerfile or its image waited for",
    )
    joined = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="joiners",
        help_text="the identical build, queued at the same time, that this one joined: it did "
        "not run itself, and ended with that build's state, result and artifacts",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        # Lists read builds newest first, whole or by one filter (and a project's by state):
        # each in its index's order to the last column, so a page, a deep page's offset and
        # a count read the index alone, never every row or a sort of them.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="build_recent"),
            models.Index(fields=["project", "-created_at", "-id"], name="build_project_recent"),
            models.Index(
                fields=["project", "state", "-created_at", "-id"], name="build_project_state_recent"
            ),
            models.Index(fields=["target", "-created_at", "-id"], name="build_target_recent"),
            models.Index(fields=["state", "-created_at", "-id"], name="build_state_recent"),
            models.Index(fields=["triggered_by", "-created_at", "-id"], name="build_user_recent"),
            models.Index(fields=["engine_host", "state"], name="build_host_state"),
        ]
        constraints = [
            # The lock that keeps two builds of one target off one target volume: a build is
            # claimed by moving it into a running state, which this constraint lets only one
            # build of a target on a host hold at a time.
            models.UniqueConstraint(
                fields=["engine_host", "target"],
                condition=Q(state__in=vocabulary.RUNNING_STATES),
                name="one_running_build_per_target_and_host",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.target}"

    def get_absolute_url(self) -> str:
        return reverse("build", args=[self.pk])

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def is_running(self) -> bool:
        return self.state in self.RUNNING_STATES

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or self.heartbeat_at
        return (end - self.started_at).total_seconds() if end else None

    @property
    def state_text(self) -> str:
        """The state as pages say it; a finished build says how cargo ended."""
        text = self.get_state_display()
        if self.state != self.State.FINISHED:
            return text
        if self.success:
            return f"{text}: succeeded"
        if self.error_kind:
            return f"{text}: {self.get_error_kind_display()}"
        return f"{text}: cargo failed"

    @property
    def state_classes(self) -> str:
        """The CSS classes of its state's badge, beside `state`: "state-finished unsuccessful"."""
        classes = f"state-{slugify(self.state)}"
        if self.state == self.State.FINISHED and not self.success:
            classes += " unsuccessful"
        return classes


class Approval(models.Model):
    """A person's yes or no to one reviewed Dockerfile of a project, or to one image of a
    registry nobody trusted: its approval code binds the decision to that exact text and its
    build arguments, or to that image's digest, so an unchanged one is asked about once, and a
    changed one again.
    """

    class Kind(models.TextChoices):
        DOCKERFILE = trust.DOCKERFILE, "Dockerfile"
        IMAGE = trust.IMAGE, "image"

    class Decision(models.TextChoices):
        PENDING = "pending", "waiting for a person"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="approvals")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DOCKERFILE)
    code = models.CharField(
        max_length=64, help_text="the review digest's or the image digest's first characters"
    )
    path = models.CharField(
        max_length=300, help_text="the Dockerfile, in the project; or the image as named"
    )
    text = models.TextField(help_text="the Dockerfile; or the image's name by digest")
    concerns = models.JSONField(default=list, help_text="[{line, what, registry}]")
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "code"], name="one_approval_per_code")
        ]

    def __str__(self) -> str:
        return f"{self.project} · {self.path} ({self.code}): {self.decision}"

    def lines(self) -> list[tuple[int, str, list[str]]]:
        """Each line of the text with the concerns about it, for the page."""
        about: dict[int, list[str]] = {}
        for concern in self.concerns:
            about.setdefault(int(concern["line"]), []).append(str(concern["what"]))
        return [
            (number, text, about.get(number, []))
            for number, text in enumerate(self.text.splitlines(), start=1)
        ]

    def untrusted_registries(self) -> list[str]:
        return sorted({c["registry"] for c in self.concerns if c.get("registry")})


class LogChunk(models.Model):
    """A run of consecutive log lines: a build's log is written in chunks as it streams, so
    neither the worker nor a page ever holds the whole of a long log.
    """

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="log_chunks")
    first_line = models.PositiveIntegerField()
    line_count = models.PositiveIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ["build", "first_line"]
        constraints = [
            models.UniqueConstraint(fields=["build", "first_line"], name="chunk_order_unique")
        ]


def _artifact_path(artifact: Artifact, filename: str) -> str:
    return f"builds/{artifact.build_id}/{filename}"


class Artifact(models.Model):
    """A file a build produced, stored by the server, with its size and sha256, and what
    starting it once after the build showed (its smoke-run; `smoke_state` empty: not tried).
    """

    # The words come from runtimes.smoke; empty is the server's own: no smoke-run was tried
    # (not an executable, smoke = "off", or a build from before smoke-runs).
    SmokeState = models.TextChoices(
        "SmokeState",
        [("NOT_TRIED", ("", "not tried"))]
        + [(_constant_name(state), (state, state)) for state in smoke.STATES],
    )

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=255)
    path = models.CharField(max_length=500, help_text="where cargo put it in target/")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    glibc = models.CharField(
        max_length=10, blank=True, help_text="the newest glibc version it needs; empty: none"
    )
    file = models.FileField(upload_to=_artifact_path, max_length=500)
    smoke_state = models.CharField(
        max_length=10, choices=SmokeState.choices, default=SmokeState.NOT_TRIED, blank=True
    )
    smoke_summary = models.TextField(
        blank=True, help_text="how it ran, or why it could not, or what failed"
    )
    smoke_command = models.TextField(blank=True, help_text="the command line; empty: none ran")
    smoke_exit_code = models.IntegerField(null=True, blank=True)
    smoke_output = models.TextField(blank=True, help_text="the first lines it printed")
    smoke_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["build", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("artifact-download", args=[self.build_id, self.pk])

    @property
    def smoke_lines(self) -> list[str]:
        """The first lines of the smoke-run's output, as it printed them."""
        return self.smoke_output.splitlines()


class Image(models.Model):
    """An image of the catalogue of an engine host, as its worker last saw it: held by the
    engine, or (origin "registry") in a trusted registry, ready to be pulled.
    """

    class Origin(models.TextChoices):
        BOOTSTRAPPED = "bootstrapped", "bootstrapped here"
        PULLED = "pulled", "pulled"
        BUILT = "built", "built from a Dockerfile"
        LOCAL = "local", "found on the engine"
        REGISTRY = "registry", "in a registry, not pulled"

    engine_host = models.ForeignKey(EngineHost, on_delete=models.CASCADE, related_name="images")
    reference = models.CharField(max_length=300)
    registry = models.CharField(max_length=200, blank=True)
    image_id = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=300, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    targets = models.JSONField(default=list, blank=True)
    toolchain = models.CharField(max_length=20, blank=True, help_text="the channel, e.g. 1.96")
    rustc_version = models.CharField(max_length=100, blank=True)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.LOCAL)
    created = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["engine_host", "reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["engine_host", "reference"], name="one_image_per_reference"
            )
        ]

    def __str__(self) -> str:
        return self.reference


class CacheVolume(models.Model):
    """A cache volume on an engine host (CARGO_HOME, a target dir or a compiler cache), as last
    measured; a compiler cache's row also counts what it has served the builds recorded here
    (the row goes with the volume, and a new volume of that name starts from nothing).
    """

    engine_host = models.ForeignKey(EngineHost, on_delete=models.CASCADE, related_name="volumes")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=30)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL)
    target = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    in_use = models.BooleanField(default=False)
    last_used = models.DateTimeField(null=True, blank=True)
    compiler_hits = models.PositiveBigIntegerField(default=0)
    compiler_misses = models.PositiveBigIntegerField(default=0)
    compiler_builds = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["engine_host", "name"]
        constraints = [
            models.UniqueConstraint(fields=["engine_host", "name"], name="one_volume_per_name")
        ]

    def __str__(self) -> str:
        return self.name


class TrustedRegistry(models.Model):
    """A registry host images may come from (matched exactly, port included), which of its
    images, when they are pulled, and a private one's login. The password is write-only: no
    page, log or API shows it.
    """

    PullPolicy = models.TextChoices(
        "PullPolicy",
        [(_constant_name(policy), (policy, policy)) for policy in registries.PULL_POLICIES],
    )

    host = models.CharField(max_length=255, unique=True)
    note = models.CharField(max_length=200, blank=True)
    allowed_images = models.TextField(
        default="*",
        help_text="globs of the images allowed, one per line, as the registry's own path: "
        "xcargo/*, cross-rs/*:main",
    )
    pull_policy = models.CharField(
        max_length=20, choices=PullPolicy.choices, default=registries.IF_NOT_PRESENT
    )
    username = models.CharField(max_length=200, blank=True)
    password = models.CharField(max_length=500, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host"]
        verbose_name_plural = "trusted registries"

    def __str__(self) -> str:
        return self.host

    def as_registry(self) -> registries.Registry:
        """As the build engine takes it."""
        globs = tuple(line.strip() for line in self.allowed_images.splitlines() if line.strip())
        return registries.Registry(
            self.host,
            allowed_images=globs,
            pull_policy=self.pull_policy,
            credentials=(
                registries.Credentials(self.username, self.password) if self.username else None
            ),
        )


class CacheQuota(models.Model):
    """How much cache may hold: for one project, for one engine host, or for everything when
    both are empty. Above `warn_bytes` builds and the dashboard say so; above `max_bytes` the
    periodic eviction removes least-recently-used volumes until it is under again.
    """

    project = models.OneToOneField(Project, null=True, blank=True, on_delete=models.CASCADE)
    engine_host = models.OneToOneField(
        EngineHost, null=True, blank=True, on_delete=models.CASCADE, related_name="quota"
    )
    warn_bytes = models.BigIntegerField(default=caches.WARN_BYTES)
    max_bytes = models.BigIntegerField(default=caches.CLEAN_BYTES)

    class Meta:
        constraints = [
            # One global quota too: no project or host is stored as 0, which no id is.
            models.UniqueConstraint(
                Coalesce("project", 0), Coalesce("engine_host", 0), name="one_quota_per_scope"
            ),
            models.CheckConstraint(
                name="quota_warn_below_max", condition=Q(warn_bytes__lte=models.F("max_bytes"))
            ),
            models.CheckConstraint(
                name="quota_of_a_project_or_a_host",
                condition=Q(project__isnull=True) | Q(engine_host__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        if self.project_id:
            return f"quota for project {self.project}"
        if self.engine_host_id:
            return f"quota for engine host {self.engine_host}"
        return "quota for all projects"


class CacheLease(models.Model):
    """A volume held by a build (or by the eviction removing it) until `expires_at`: eviction
    never removes a held volume, and a build never starts on one being removed. Each side
    writes its lease first and then looks for the other's, backing off when it finds one, so
    the two never both go ahead. A worker that dies leaves its leases to expire.
    """

    engine_host = models.ForeignKey(EngineHost, on_delete=models.CASCADE, related_name="leases")
    volume = models.CharField(max_length=255)
    build = models.ForeignKey(
        "Build", null=True, blank=True, on_delete=models.CASCADE, related_name="leases"
    )
    holder = models.CharField(max_length=100)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["engine_host", "volume", "holder"], name="one_lease_per_holder"
            )
        ]

    def __str__(self) -> str:
        return f"{self.volume} held by {self.holder}"


class CacheEviction(models.Model):
    """A volume the quota's eviction removed, and why: what the caches page and the admin
    show after the volume itself is gone.
    """

    engine_host = models.ForeignKey(EngineHost, on_delete=models.CASCADE, related_name="evictions")
    volume = models.CharField(max_length=255)
    kind = models.CharField(max_length=30)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL)
    target = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    removed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-removed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.volume} removed {self.removed_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A user's API token. Only its sha256 is stored; the token is shown once, when made."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="the token's first characters")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

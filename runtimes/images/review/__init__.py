"""The review of a project's own Dockerfile, before xcargo builds an image from it.

A project's Dockerfile is code that runs on the build server, so a person approves it first.
The review gives that person two things, each on its line: every image the build would pull
(so each can be held against the trusted registries), and the risky things it does: downloads
run by a shell, `rm -rf /`, ADD from a URL, base images that are not pinned, instructions that
Docker does not have. An approval binds to `digest`, so a changed file or build argument needs
a new one.

dockerfile-parse reads the instructions, their lines and their continuations. What it does not
know is filled in here with as little as can be: heredocs (`RUN <<EOF`), whose bodies it takes
for instructions; BuildKit's `# syntax=` directive, which it skips; unset variables and
`${VAR:-default}` in FROM, which it empties or mangles without a word. Shell commands (RUN,
its heredocs, CMD, ENTRYPOINT, HEALTHCHECK) are read with bashlex, and by a token-level scanner
wherever bashlex gives up (it knows no `[[ ]]`, `case` or arithmetic) or would be slow, so that
no command goes unread.

Nothing is ever run, and hostile input cannot stall a review: bashlex reads a bounded number
of characters, nesting is followed only so deep, and what no person could review anyway is
refused with a DockerfileError: more than 100,000 lines, an instruction over 32 KiB, more than
256 KiB of commands, and the long runs of continued lines on which dockerfile-parse is
quadratic.

One job per module: `reviewing` (review_dockerfile: the steps in order, and the digest),
`result` (what a review returns and raises: images, findings and their kinds), `dockerfile`
(reading the file: instructions, continuations, heredocs, size limits), `context_sources`
(what COPY and ADD take from the build context), `used_images` (FROM,
COPY --from, RUN --mount, `# syntax` and the findings about them), `instruction_rules` (the
findings of each instruction), and for shell commands `shell_model` (commands, pipelines,
scripts), `shell_reader` (bashlex within the budgets), `shell_scanner` (the token-level
fallback) and `shell_rules` (downloads run by a shell, removing the root).
"""

from runtimes.images.review.result import (
    ADD_URL,
    COPY_FROM,
    FINDING_KINDS,
    FROM,
    LATEST,
    NOT_UNDERSTOOD,
    PIPE_TO_SHELL,
    REMOVE_ROOT,
    RUN_MOUNT,
    SYNTAX,
    UNPINNED,
    DockerfileError,
    DockerfileReview,
    Finding,
    UsedImage,
)
from runtimes.images.review.reviewing import review_dockerfile

__all__ = [
    "ADD_URL",
    "COPY_FROM",
    "FINDING_KINDS",
    "FROM",
    "LATEST",
    "NOT_UNDERSTOOD",
    "PIPE_TO_SHELL",
    "REMOVE_ROOT",
    "RUN_MOUNT",
    "SYNTAX",
    "UNPINNED",
    "DockerfileError",
    "DockerfileReview",
    "Finding",
    "UsedImage",
    "review_dockerfile",
]

# The two entry points of the README. Both set up what they need first (scripts/setup.sh).
SHELL := /bin/bash
VENV := .venv/bin
EXAMPLE := tests/fixtures/hello-cross
TARGET := aarch64-unknown-linux-gnu

.PHONY: run example test lint bench

# Main job: the server (web, build worker, periodic tasks) on SQLite, local Redis and Docker.
run:
	scripts/serve.sh

# The CLI alone: make the aarch64 image, cross-build the example crate, run it under qemu.
example:
	scripts/setup.sh run
	$(VENV)/xcargo images bootstrap --target $(TARGET)
	cd $(EXAMPLE) && $(CURDIR)/$(VENV)/xcargo build --target $(TARGET) --release
	qemu-aarch64 -L /usr/aarch64-linux-gnu $(EXAMPLE)/target/$(TARGET)/release/hello-cross

# Tests: Docker, Podman's socket, Redis and PostgreSQL up, toolchain images made (on Docker
# the newest toolchain of each target, on Podman that of the targets its tests build, and on
# both Debian's oldest for aarch64), then the whole suite on PostgreSQL (var/test.env names it).
PODMAN := XCARGO_ENGINE_URL=unix:///run/podman/podman.sock
test:
	scripts/setup.sh test
	$(VENV)/xcargo images bootstrap
	$(VENV)/xcargo images bootstrap --toolchain 1.85 --target $(TARGET)
	$(PODMAN) $(VENV)/xcargo images bootstrap --target $(TARGET) \
		--target armv7-unknown-linux-gnueabihf --target x86_64-unknown-linux-gnu
	$(PODMAN) $(VENV)/xcargo images bootstrap --toolchain 1.85 --target $(TARGET)
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	set -a && . ./var/test.env && set +a && $(VENV)/pytest

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

bench:
	$(VENV)/python bench/cache_bench.py
	$(VENV)/python bench/warm_bench.py
	$(VENV)/python bench/isolation_bench.py
	$(VENV)/python bench/live_page_bench.py
	$(VENV)/python bench/server_bench.py
	$(VENV)/python bench/identical_bench.py
	$(VENV)/python bench/pages_bench.py
	$(VENV)/python bench/toolchain_bench.py

# The two entry points of the README. Both set up what they need first (scripts/setup.sh).
SHELL := /bin/bash
VENV := .venv/bin
EXAMPLE := tests/fixtures/hello-cross
TARGET := aarch64-unknown-linux-gnu

.PHONY: run test lint bench

# Main job: make the aarch64 toolchain image, cross-build the example crate, run it under qemu.
run:
	scripts/setup.sh run
	$(VENV)/xcargo images bootstrap --target $(TARGET)
	cd $(EXAMPLE) && $(CURDIR)/$(VENV)/xcargo build --target $(TARGET) --release
	qemu-aarch64 -L /usr/aarch64-linux-gnu $(EXAMPLE)/target/$(TARGET)/release/hello-cross

# Tests: Docker and Podman's socket up, toolchain images made, then the whole suite.
test:
	scripts/setup.sh test
	$(VENV)/xcargo images bootstrap
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/pytest

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

bench:
	$(VENV)/python bench/cache_bench.py

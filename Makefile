# The front door. `make` installs what is missing and builds into build/;
# `make check` also builds an ASan+UBSan tree and runs every test in both;
# `make demo` runs a real example cell and shows its events.
MESON ?= meson
NINJA ?= ninja
PY ?= /usr/bin/python3
WERROR := $(if $(CI),--werror,)

.PHONY: all setup build asan fuzz-build check demo bench clean

all: build

setup:
	@bash scripts/setup.sh

build/build.ninja: | setup
	@$(MESON) setup build $(WERROR) >/dev/null

build: setup build/build.ninja
	@$(NINJA) -C build >/dev/null || $(NINJA) -C build

build-asan/build.ninja: | setup
	@$(MESON) setup build-asan $(WERROR) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

asan: setup build-asan/build.ninja
	@$(NINJA) -C build-asan >/dev/null || $(NINJA) -C build-asan

# libFuzzer targets (clang): build-fuzz/tests/fuzz-<name>.
build-fuzz/build.ninja: | setup
	@CC=clang $(MESON) setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link >/dev/null

fuzz-build: setup build-fuzz/build.ninja
	@$(NINJA) -C build-fuzz >/dev/null || $(NINJA) -C build-fuzz

check: build asan
	@$(PY) scripts/run-tests.py build build-asan

demo: build
	@bash scripts/demo.sh

bench: build
	@bash scripts/setup.sh bench
	@bash bench/run-all.sh

clean:
	rm -rf build build-asan build-fuzz

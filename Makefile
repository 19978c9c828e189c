# The two commands a newcomer needs: `make serve` and `make test`.
# Every target installs missing Debian packages first (scripts/install-deps.sh).

BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all deps build serve test bench bench-quality clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD).cmake.log 2>&1 || \
	  (cat $(BUILD).cmake.log; exit 1)
	@cmake --build $(BUILD) -j$(JOBS)

# Starts the server with the embedded defaults (127.0.0.1:8080, ./vidmill-data);
# VIDMILL_* environment variables override them (e.g. VIDMILL_LISTEN=0.0.0.0:9000).
serve: build
	./$(BUILD)/vidmill serve

# Unit and integration tests, on SQLite and then on a throw-away PostgreSQL.
test: build
	@bash scripts/run-tests.sh $(BUILD)

bench: build
	@bash scripts/install-deps.sh --bench
	@bash bench/run-all.sh $(BUILD)

# Vidmill's own filters against the stock ones on held-out photographs
# (bench/quality/README.md); add --full via QUALITY_ARGS for every photo.
bench-quality: build
	@bash scripts/install-deps.sh --bench
	@bash bench/quality/run.sh $(BUILD) $(QUALITY_ARGS)

clean:
	rm -rf $(BUILD) $(BUILD).cmake.log

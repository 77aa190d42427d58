# Herald: short verbs over CMake. `make run` and `make test` install what is missing first.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PY := /usr/bin/python3
# Integration tests run in parallel processes (pytest-xdist); most of their time is spent waiting.
TEST_WORKERS ?= 3

# Debian packages the build, the tests and the benchmarks need (burrow, a lag checker that reads
# __consumer_offsets, with the ZooKeeper it requires for itself: test_consumer_offsets_topic.py).
DEB_PACKAGES := build-essential cmake pkg-config clang clang-format libclang-rt-14-dev \
	libuv1-dev libsqlite3-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev libssl-dev \
	libjansson-dev libpcre2-dev libhttp-parser-dev libwslay-dev librdkafka-dev libcmocka-dev \
	kcat libavro-dev libcurl4-openssl-dev \
	python3 python3-pytest python3-pytest-xdist python3-confluent-kafka python3-kafka python3-requests \
	python3-websockets python3-prometheus-client python3-jsonschema json-schema-test-suite \
	chromium fonts-dejavu-core curl wrk python3-venv openjdk-17-jdk-headless maven \
	burrow zookeeper
# Extra Debian packages only `make bench` needs: the peer brokers, their C clients, gnuplot and
# wrk (the HTTP load generator; also in DEB_PACKAGES, as the tests check the bench's wrk script).
BENCH_PACKAGES := nats-server libnats-dev redis-server libhiredis-dev gnuplot-nox wrk \
	rabbitmq-server librabbitmq-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps bench-deps build asan run test unit unit-asan unit-tsan integration fuzz \
	fuzz-smoke bench bench-http bench-registry bench-queues bench-obs format format-check \
	headers docs-check clean js-deps sr-venv \
	compat-deps compat-java compat-py compat-go compat-kafka test-kafka bench-franz

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing="$$missing nodejs npm"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

# npm ci again whenever package-lock.json is newer than the install (npm keeps its own copy of
# the lock in node_modules/.package-lock.json) or a package is missing.
js-deps: deps
	@cd tests/integration/js && \
	if [ ! -d node_modules/kafkajs ] || [ ! -d node_modules/playwright-core ] || \
		[ ! -d node_modules/@asyncapi/parser ] || [ ! -d node_modules/@asyncapi/avro-schema-parser ] || \
		[ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund --loglevel=error; fi

# Current Kafka clients from their own registries, for the compatibility tests: Apache Kafka's
# Java client (tests/java, Maven Central), confluent-kafka (PyPI) and franz-go (tests/go, the Go
# module proxy). Everything downloaded is cached under $(COMPAT), so later runs need no network.
COMPAT := $(BUILD)/compat
JAVA_SOURCES := tests/java/pom.xml $(shell find tests/java/src -name '*.java' 2>/dev/null)

compat-deps: compat-java compat-py compat-go compat-kafka

# The PyPI client lives in a virtualenv of Debian's python3; pip's cache stays in $(COMPAT).
compat-py: $(COMPAT)/venv/.installed

$(COMPAT)/venv/.installed: tests/python/requirements.txt | deps
	rm -rf $(COMPAT)/venv
	$(PY) -m venv $(COMPAT)/venv
	PIP_CACHE_DIR=$(CURDIR)/$(COMPAT)/pip $(COMPAT)/venv/bin/pip install -q \
		--disable-pip-version-check -r tests/python/requirements.txt
	@touch $@

compat-java: $(COMPAT)/java/herald-java-compat.jar

$(COMPAT)/java/herald-java-compat.jar: $(JAVA_SOURCES) | deps
	mvn -B -q -Dstyle.color=never -f tests/java/pom.xml -Dmaven.repo.local=$(CURDIR)/$(COMPAT)/m2 \
		-Dherald.out=$(CURDIR)/$(COMPAT)/java package
	@touch $@

# franz-go from the Go module proxy (versions pinned by tests/go/go.sum); the module and build
# caches stay in $(COMPAT). Go itself is the machine's toolchain (GOTOOLCHAIN=local).
GO_ENV := GOMODCACHE=$(CURDIR)/$(COMPAT)/gomod GOCACHE=$(CURDIR)/$(COMPAT)/gocache \
	GOTOOLCHAIN=local GOFLAGS=-modcacherw

compat-go: $(COMPAT)/go/herald-franz

$(COMPAT)/go/herald-franz: tests/go/go.mod tests/go/go.sum tests/go/main.go
	@command -v go >/dev/null || { echo "go is needed for the franz-go tests"; exit 1; }
	cd tests/go && $(GO_ENV) go build -o $(CURDIR)/$@ .

# The franz-go producer of bench/run.sh's *-franz scenarios (bench/franz), with the same module
# and build caches as compat-go.
bench-franz: $(BUILD)/franz_bench

$(BUILD)/franz_bench: bench/franz/go.mod bench/franz/go.sum bench/franz/main.go
	@command -v go >/dev/null || { echo "go is needed for the franz-go bench producer"; exit 1; }
	cd bench/franz && $(GO_ENV) go build -o $(CURDIR)/$@ .

# Apache Kafka itself (tests/kafka: the kafka_2.13 broker and kafka-tools with their runtime
# dependencies), for the tests that run the same cases against a real Kafka broker in KRaft mode
# and Kafka's command-line tools against Herald.
compat-kafka: $(COMPAT)/kafka/.done

$(COMPAT)/kafka/.done: tests/kafka/pom.xml | deps
	rm -rf $(COMPAT)/kafka
	mvn -B -q -Dstyle.color=never -f tests/kafka/pom.xml -Dmaven.repo.local=$(CURDIR)/$(COMPAT)/m2 \
		-Dherald.out=$(CURDIR)/$(COMPAT)/kafka package
	@touch $@

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/Makefile
	cmake -S . -B $(BUILD) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHERALD_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	./$(BUILD)/herald serve

# The loop thread and the flusher thread share partition state, and validation threads read the
# schema registry while the loop thread changes it: check them under TSan.
TSAN_BUILD ?= build-tsan
unit-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHERALD_TSAN=ON >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target unit_log_test_flusher unit_log_test_journal unit_log_test_journal_cost unit_broker_test_broker unit_broker_test_group \
		unit_broker_test_group_consumer unit_broker_test_records unit_broker_test_offsets_format \
		unit_registry_test_threads
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R 'flusher|journal|broker|registry_test_threads'

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

# Integration tests drive the sanitized binary with real clients.
# A current confluent-kafka with its Avro and JSON Schema serializers (Debian's is too old and
# lacks fastavro), for the schema registry's client tests: a venv under the build dir, pip
# downloads cached there too.
SR_VENV := $(CURDIR)/$(BUILD)/sr-venv
sr-venv: $(SR_VENV)/.done
$(SR_VENV)/.done:
	$(PY) -m venv $(SR_VENV)
	$(SR_VENV)/bin/pip install -q --cache-dir $(CURDIR)/$(BUILD)/pip-cache \
		'confluent-kafka[avro,json,schemaregistry]>=2.3' requests
	touch $@

integration: asan js-deps sr-venv compat-deps bench-franz
	HERALD_BIN=$(CURDIR)/$(ASAN_BUILD)/herald HERALD_SR_PYTHON=$(SR_VENV)/bin/python \
		HERALD_COMPAT_DIR=$(CURDIR)/$(COMPAT) \
		$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup tests/integration

# Only the application-level cases against the real Apache Kafka broker (no herald involved).
test-kafka: compat-deps
	HERALD_COMPAT_DIR=$(CURDIR)/$(COMPAT) $(PY) -m pytest -q -m kafka tests/integration

fuzz-build: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHERALD_FUZZ=ON \
		-DHERALD_TESTS=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# A short run of every fuzz target over its corpus (part of `make test`).
FUZZ_SMOKE_SECONDS ?= 6
fuzz-smoke: fuzz-build
	@for f in $(FUZZ_BUILD)/fuzz/fuzz_*; do \
		name=$${f##*/fuzz_}; mkdir -p tests/fuzz/corpus/$$name; \
		dict=""; [ -f tests/fuzz/$$name.dict ] && dict="-dict=tests/fuzz/$$name.dict"; \
		echo "fuzz $$name ($(FUZZ_SMOKE_SECONDS) s)"; mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
		$$f -max_total_time=$(FUZZ_SMOKE_SECONDS) -max_len=65536 $$dict $(FUZZ_BUILD)/corpus/$$name tests/fuzz/corpus/$$name \
			-artifact_prefix=$(FUZZ_BUILD)/ >$(FUZZ_BUILD)/$$name.log 2>&1 \
			|| { tail -40 $(FUZZ_BUILD)/$$name.log; exit 1; }; \
	done

# Longer fuzzing: FUZZ_SECONDS per target (default 300). New inputs collect in
# $(FUZZ_BUILD)/corpus/; a crash input belongs in tests/fuzz/corpus/ with its fix.
FUZZ_SECONDS ?= 300
fuzz: fuzz-build
	@for f in $(FUZZ_BUILD)/fuzz/fuzz_*; do \
		name=$${f##*/fuzz_}; mkdir -p tests/fuzz/corpus/$$name; \
		dict=""; [ -f tests/fuzz/$$name.dict ] && dict="-dict=tests/fuzz/$$name.dict"; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $$dict $(FUZZ_BUILD)/corpus/$$name \
			tests/fuzz/corpus/$$name \
			-artifact_prefix=$(FUZZ_BUILD)/ || exit 1; \
	done

# Every header must compile on its own.
headers:
	@for h in $$(find src -name '*.h'); do \
		echo "#include \"$${h#src/}\"" | cc -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror \
			-fsyntax-only -Isrc -x c - || { echo "header $$h does not compile alone"; exit 1; }; \
	done

# docs/config.md is generated from the settings table; it must match the binary.
docs-check: build
	@./$(BUILD)/herald config-doc | diff -q - <(sed -n '/^| setting/,$$p' docs/config.md) >/dev/null \
		|| { echo "docs/config.md is stale: regenerate the table with ./build/herald config-doc"; exit 1; }

format:
	clang-format -i $$(find src tests bench -name '*.[ch]')

format-check:
	@clang-format --dry-run --Werror $$(find src tests bench -name '*.[ch]')

test: deps format-check headers docs-check unit unit-asan unit-tsan integration fuzz-smoke
	@echo "all tests passed"

bench-deps:
	@missing=$$(for p in $(BENCH_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

# Runs every scenario against Herald, NATS JetStream, Redis Streams and Apache Kafka (the jars
# compat-kafka fetched for the tests, fsyncing per write and with its defaults), then the HTTP API's
# (bench/http.sh), then validation on produce (bench/registry.sh) and the work queues
# (bench/queues.sh), and rewrites docs/benchmarks.md and docs/bench/*.png. BENCH_QUICK=1 for a
# short smoke run.
bench: bench-deps build compat-kafka bench-franz
	BUILD=$(CURDIR)/$(BUILD) bench/run.sh
	BUILD=$(CURDIR)/$(BUILD) bench/http.sh
	BUILD=$(CURDIR)/$(BUILD) bench/registry.sh
	BUILD=$(CURDIR)/$(BUILD) bench/queues.sh
	BUILD=$(CURDIR)/$(BUILD) bench/obs.sh

# Only the work-queue benchmark: receive+ack with 1, 4 and 16 workers against Herald
# subscriptions, RabbitMQ quorum queues and NATS JetStream work queues.
bench-queues: bench-deps build
	BUILD=$(CURDIR)/$(BUILD) bench/queues.sh

# Only the HTTP API's benchmarks: HTTP against Kafka produce, stream latency, memory of streams.
bench-http: bench-deps build
	BUILD=$(CURDIR)/$(BUILD) bench/http.sh

# Only validation on produce: validated against unvalidated produce of the same JSON Schema and
# Avro records (the schema registry's), in the same run.
bench-registry: build
	BUILD=$(CURDIR)/$(BUILD) bench/registry.sh

# Only the observability overhead: durable produce with the catalog and scrapes on against off,
# and /metrics scrape time with 1,000 partitions and 100 groups.
bench-obs: build
	BUILD=$(CURDIR)/$(BUILD) bench/obs.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)

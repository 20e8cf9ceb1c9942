# Fechatter. `make run` starts the server (local profile), `make test` runs
# every check CI runs.

GO      ?= go
MODULE  := github.com/fechatter/fechatter
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS := -s -w -X $(MODULE)/bootstrap.version=$(VERSION) -X $(MODULE)/bootstrap.commit=$(COMMIT)
COMPOSE_FILE := docker/docker-compose.yml
COMPOSE_HA_FILE := docker/docker-compose.ha.yml

# The Compose CLI: the `docker compose` plugin, else docker-compose, else none.
COMPOSE := $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; \
	elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)

.PHONY: help run test fuzz deploy-test build lint migrate bench pgbench compose-config clean release release-test image chaos fault

help:
	@echo "make run             run the server (local profile: Postgres on 127.0.0.1:5432, NATS and search embedded)"
	@echo "make test            go vet, the race-enabled test suite, and the compose file check"
	@echo "make fuzz            the Go fuzz targets of the body, query and frame decoders, FUZZTIME (10s) each"
	@echo "make build           build bin/fechatter ($(VERSION), $(COMMIT))"
	@echo "make lint            gofmt, go vet and staticcheck ($(STATICCHECK_VERSION))"
	@echo "make migrate         apply database migrations (local profile)"
	@echo "make bench           hot-path go benchmarks, then fechatter bench seed and fanout (20 s each) on a spawned server"
	@echo "make pgbench         the raw limit of the send's writes: pgbench, one and ten sends per commit"
	@echo "make compose-config  validate $(COMPOSE_FILE)"
	@echo "make deploy-test     the deployment checks (deploy/: Helm chart, Compose, alerts, dashboard, release, backup)"
	@echo "make release         dist/: static binaries for linux/amd64 and linux/arm64, CycloneDX SBOMs, SHA256SUMS, and the image (docker buildx)"
	@echo "make release-test    build the release into a temporary directory and verify it (architectures, version, checksums, SBOMs)"
	@echo "make chaos           the fault suite, a few minutes (FAULTS=all or a comma list): load, one fault per scenario, every chat read back"
	@echo "make fault           the same (another name)"
	@echo "make image           the container image for linux/amd64 and linux/arm64 (docker buildx; IMAGE_PUSH=1 pushes)"

run:
	$(GO) run . serve

# Fuzz targets run for FUZZTIME each (their seed corpora also run in the
# plain test run above them).
FUZZTIME ?= 10s
FUZZ_TARGETS := ./adapters/textcheck:FuzzJSON ./adapters/http:FuzzDecodeBody \
	./adapters/ws:FuzzDecodeFrame ./adapters/ws:FuzzDecodeFrameRefusesNUL

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -p 2 -timeout 10m -vet=off ./...
	$(GO) test -count=1 -run '^TestSignUpFloodKeepsMemoryBounded$$' ./bootstrap/
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory chaos FAULTS=nats-freeze,server-kill FAULT_FLAGS="$(FAULT_SHORT)"
	$(MAKE) --no-print-directory deploy-test
	$(MAKE) --no-print-directory compose-config

fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; done

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/fechatter .

# staticcheck is pinned and run with go run (not a go.mod dependency): the
# first run downloads and builds it.
STATICCHECK_VERSION ?= v0.8.2

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt -l reports:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

migrate:
	$(GO) run . migrate up

# bench: the hot paths under go test -bench, then the load generator
# against a server it starts and stops itself (test profile, database
# fechatter_bench dropped and recreated, send limit raised): seed and
# fanout, 20 s each. Needs Postgres on 127.0.0.1:5432 (--spawn-database).
BENCH_PKGS := ./application/command/ ./application/query/ ./ports/ ./adapters/ws/
BENCH_URL  ?= http://127.0.0.1:18089
BENCH_RATE ?= 100

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1s $(BENCH_PKGS)
	bin/fechatter bench --spawn --url $(BENCH_URL) --workload seed --duration 20s
	bin/fechatter bench --spawn --url $(BENCH_URL) --workload fanout --rate $(BENCH_RATE) --chat-size 10 --duration 20s

# pgbench: the statements of a send (adapters/postgres/sender.go) run by
# pgbench, one per transaction and ten per transaction, with the Postgres
# CPU per message: the raw limit Fechatter's sustained rate is compared to.
PGBENCH_CLIENTS ?= 32
PGBENCH_SECONDS ?= 20

pgbench:
	adapters/postgres/pgbench/run.sh $(PGBENCH_CLIENTS) $(PGBENCH_SECONDS)

# deploy-test: the deployment checks, a Go module of their own (deploy/go.mod)
# so that Helm, the Kubernetes API types, compose-go and Prometheus stay out
# of the server's go.mod: helm lint/template of the chart with strict
# decoding into the Kubernetes types, the Compose files, alert rules and
# dashboard queries. The first run compiles those libraries (minutes).
deploy-test:
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m -vet=off ./...

# chaos (or fault): client/fault's suite against a nats-server, a private
# Postgres cluster (initdb) and a fake Meilisearch it starts itself, with
# two server instances (FAULT_INSTANCES): 200 users in chats of 10 at 100
# msg/s over REST with idempotency keys, recovering as bench --retry does,
# one fault per scenario (nats-stop, nats-freeze, postgres-restart,
# server-kill, server-graceful, search-down, client-stall), every chat read
# back as bench --verify does; prints the table (FAULT_REPORT=file writes
# it too). Bounded: 5 s of load before each fault, 10 s faults, 10 s after
# the recovery (CHAOS_LOAD), the whole run cut at CHAOS_TIMEOUT. make test
# runs a short version (FAULT_SHORT: 20 users, 20 msg/s, 3 s faults after
# 5 s).
FAULTS ?= all
FAULT_FLAGS ?=
CHAOS_LOAD ?= FAULT_WARMUP=5s FAULT_HOLD=10s FAULT_AFTER=10s
CHAOS_TIMEOUT ?= 10m
FAULT_SHORT := FAULT_USERS=20 FAULT_RATE=20 FAULT_WARMUP=5s FAULT_HOLD=3s FAULT_AFTER=5s

chaos:
	$(CHAOS_LOAD) $(FAULT_FLAGS) FECHATTER_FAULT=$(FAULTS) $(GO) test -count=1 -v -timeout $(CHAOS_TIMEOUT) -run '^TestFaults$$' ./client/fault/

fault: chaos

# release: deploy/release.sh builds $(DIST)/fechatter_$(VERSION)_linux_{amd64,arm64}
# (CGO off, -trimpath, version and commit stamped), a CycloneDX SBOM of each
# (cyclonedx-gomod at a pinned version, installed into bin/tools when
# missing), SHA256SUMS, and the two-architecture image as an OCI archive
# when docker buildx and an engine are there (otherwise it prints the
# command). SBOM=buildinfo writes SPDX from `go version -m` instead.
DIST  ?= dist
IMAGE ?= fechatter

release:
	IMAGE=$(IMAGE) deploy/release.sh $(DIST) $(VERSION) $(COMMIT)

image:
	SKIP_BINARIES=1 IMAGE=$(IMAGE) deploy/release.sh $(DIST) $(VERSION) $(COMMIT)

# release-test: the release (both architectures, CycloneDX SBOMs) built into
# a temporary directory and checked by deploy/release_test.go. make test
# runs the same test with SBOM=buildinfo (no tool to install).
release-test:
	cd deploy && FECHATTER_RELEASE_SBOM=cyclonedx $(GO) test -count=1 -timeout 15m -run '^TestRelease$$' -v .

compose-config:
ifeq ($(COMPOSE),)
	@echo "no Compose CLI (docker compose or docker-compose): CLI check of $(COMPOSE_FILE) and $(COMPOSE_HA_FILE) skipped (make deploy-test loads both with compose-go)"
else
	$(COMPOSE) -f $(COMPOSE_FILE) config -q
	@echo "$(COMPOSE_FILE): valid ($(COMPOSE))"
	$(COMPOSE) -f $(COMPOSE_HA_FILE) --env-file docker/.env.example config -q
	@echo "$(COMPOSE_HA_FILE): valid ($(COMPOSE))"
endif

clean:
	rm -rf bin/ dist/

# patchwire — see README.md.
GO ?= go
BIN := bin/patchwire
DATA ?= ./patchwire-data

.PHONY: run build test test-race fuzz bench bench-cluster vet fmt tools clean

build:
	$(GO) build -o $(BIN) ./cmd/patchwire

run: build
	$(BIN) serve --data $(DATA)

# The store's whole suite runs again on each other backend (PATCHWIRE_TEST_STORE, store/helpers_test.go):
# objects in S3 (versitygw), and the catalog in PostgreSQL with objects in S3.
STORE_BACKENDS ?= badger+s3 postgres+s3
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 9m ./...
	@for b in $(STORE_BACKENDS); do \
		echo "== store suite on $$b"; PATCHWIRE_TEST_STORE=$$b $(GO) test -count=1 -timeout 5m ./store/ || exit 1; \
	done

test-race:
	$(GO) test -race -count=1 ./...

# Each fuzz target a short while; longer runs: make fuzz FUZZTIME=10m
FUZZTIME ?= 20s
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./... 2>/dev/null | grep '^Fuzz'); do \
		pkg=$$(grep -rl "func $$t(" --include='*_test.go' . | head -1 | xargs dirname); \
		echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# Debian tools the tests and benchmarks compare against, and the browser the console tests drive.
tools:
	@command -v zstd >/dev/null && command -v bsdiff >/dev/null && command -v xdelta3 >/dev/null || \
		(apt-get update && apt-get install -y zstd bsdiff xdelta3)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update && apt-get install -y chromium chromium-driver)

# The default benchmark suite (patchwire bench suite, see README "Benchmarks"): bytes per update on
# three npm series against zip, Capgo-style partial, zstd and bsdiff, and a short load run against
# nginx; writes bench/results/latest.{md,json,svg}. Needs the network for npm the first time
# (tarballs are kept in bench/cache/). Go micro-benchmarks: $(GO) test -run '^$$' -bench . -benchmem ./...
BENCH_FLAGS ?= --duration 10s
bench: tools build
	@command -v nginx >/dev/null || (apt-get update && apt-get install -y nginx-light)
	@command -v npm >/dev/null || (apt-get update && apt-get install -y npm)
	@command -v h2load >/dev/null || (apt-get update && apt-get install -y nghttp2-client)
	$(BIN) bench suite --out bench/results $(BENCH_FLAGS)

# Two nodes behind nginx on this machine (bench/cluster.sh, README "Running more than one node"):
# PostgreSQL, versitygw, two `patchwire serve` nodes and nginx in a temp dir; `patchwire bench load`
# through nginx balancing one node, then two, at --catalog-recheck 0 and 1s; writes
# bench/results/cluster.md. Not part of `make test` or .ci/run. Shorter: make bench-cluster CLUSTER_FLAGS='--duration 3s'
CLUSTER_FLAGS ?=
bench-cluster: build
	@command -v nginx >/dev/null || (apt-get update && apt-get install -y nginx-light)
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y postgresql)
	@command -v versitygw >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/versitygw" ] || \
		$(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0
	bench/cluster.sh --bin $(BIN) $(CLUSTER_FLAGS)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

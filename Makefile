# The Makefile is the CI contract: .ci/run calls these targets.
GO        ?= go
BIN       := $(CURDIR)/.bin
PROTOC    ?= protoc
# protoc comes from Debian bookworm's protobuf-compiler (3.21.12); the Go
# plugins are pinned as tools in go.mod and built from the module cache.
PROTO_SRC := $(wildcard proto/*.proto)

.PHONY: all build up test lint bench bench-cluster bench-recovery bench-erasure proto proto-check fuzz clean

all: build

build:
	$(GO) build ./...
	$(GO) build -o $(BIN)/radosctl ./cmd/radosctl
	$(GO) build -o $(BIN)/loligo ./cmd/loligo

# up is the README's first command: a whole cluster (one monitor on an
# embedded etcd, 3 OSDs, a pool "data") in one process, in ./loligo-data.
# Ctrl-C stops it; running it again resumes with the data.
UP_DIR  ?= $(CURDIR)/loligo-data
UP_OSDS ?= 3
up: build
	$(BIN)/loligo up --dir $(UP_DIR) --osds $(UP_OSDS)

# test is the README's test command: lint, then every test with the race
# detector.
test: lint
	$(GO) test -race -count=1 ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -count=1 -run 'TestImportDirections|TestPackageDocs' ./internal/lint/

bench:
	cd crush && $(GO) test -run '^$$' -bench . -benchtime 3x ./
	$(GO) test -run '^$$' -bench MapChanges -benchtime 2000x ./mon/
	$(GO) test -run '^$$' -bench 'Apply' -benchtime 100x ./osd/store/
	$(GO) test -run '^$$' -bench 'Loopback' -benchtime 2000x ./internal/transport/

# bench-cluster runs the rados-bench suite (4 MiB writes, seq and rand
# reads, 4 KiB writes) on a cluster of separate processes, sampling each
# daemon's CPU and RSS: deploy/bench/bench.sh.
bench-cluster: build
	deploy/bench/bench.sh

# bench-recovery times healing on 4 OSD processes: osd out -> active+clean
# for 1 GiB of 4 MiB objects, recovery rate against the disk's, and client
# write throughput during recovery (deploy/bench/recovery.sh).
bench-recovery: build
	bash deploy/bench/recovery.sh

# bench-erasure compares a k=4 m=2 erasure-coded pool with a size-3
# replicated one on 6 OSD processes (radosctl bench 4 MiB write and seq)
# and times the rebuild of one OSD's shards (deploy/bench/erasure.sh).
bench-erasure: build
	bash deploy/bench/erasure.sh

$(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc: go.mod go.sum
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc

proto: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
	PATH=$(BIN):$$PATH $(PROTOC) -I proto \
		--go_out=. --go_opt=module=github.com/loligo/loligo \
		--go-grpc_out=. --go-grpc_opt=module=github.com/loligo/loligo \
		$(PROTO_SRC)

# proto-check fails if the committed generated code is not what `make
# proto` produces.
proto-check: proto
	@git diff --exit-code -- proto/ || (echo "generated protobuf code is stale: run 'make proto' and commit" && exit 1)
	@test -z "$$(git status --porcelain -- proto/)" || (git status --porcelain -- proto/; echo "untracked generated files: run 'make proto' and commit" && exit 1)

# fuzz runs each fuzzer for FUZZTIME (default 60s).
FUZZTIME ?= 60s
FUZZ := $(GO) test -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
fuzz:
	$(FUZZ) -fuzz '^FuzzCompile$$' ./crush
	$(FUZZ) -fuzz '^FuzzParseTestArgs$$' ./crush
	$(FUZZ) -fuzz '^FuzzFromProto$$' ./clustermap
	$(FUZZ) -fuzz '^FuzzParse$$' ./internal/config
	$(FUZZ) -fuzz '^FuzzValidEntity$$' ./internal/pki
	$(FUZZ) -fuzz '^FuzzDecodeKey$$' ./osd/store
	$(FUZZ) -fuzz '^FuzzKeyRoundTrip$$' ./osd/store
	$(FUZZ) -fuzz '^FuzzDecodeChunk$$' ./osd/store
	$(FUZZ) -fuzz '^FuzzParseSize$$' ./cmd/radosctl
	$(FUZZ) -fuzz '^FuzzParsePGID$$' ./cmd/radosctl
	$(FUZZ) -fuzz '^FuzzParseBytes$$' ./osd
	$(FUZZ) -fuzz '^FuzzReportRoundTrip$$' ./mon

clean:
	rm -rf $(BIN)

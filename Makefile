GO      ?= go
BIN     := bin/gcupsert
PKGS    := ./...

.PHONY: all build test vet demo demo-datatables demo-externalcontacts e2e bench clean

all: vet test build

build:
	$(GO) build -o $(BIN) ./cmd/gcupsert

vet:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every test that needs no JVM: pure logic, then kfake + emulator in-process.
test:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

# One process: embedded broker, Genesys emulator, 10,000 events, summary.
# DEMO_ARGS passes flags, e.g. DEMO_ARGS="--target datatables --hold 60s".
demo:
	$(GO) run ./cmd/gcupsert demo $(DEMO_ARGS)

# The same against the Data Tables target, under the 300-requests-a-minute
# token budget: 4,000 events, import jobs for backlogs, rows for the rest.
demo-datatables:
	$(GO) run ./cmd/gcupsert demo --target datatables $(DEMO_ARGS)

# The same with External Contacts: a CRM's accounts and contacts as Debezium
# change events on two topics, into organizations and contacts with custom
# fields and links.
demo-externalcontacts:
	$(GO) run ./cmd/gcupsert demo --target externalcontacts $(DEMO_ARGS)

# gcupsert processes against a real Apache Kafka broker (started from Maven
# Central jars: Java 17 and Maven; kcat for one scenario), fault scenarios and
# the integration suite; prints a table of the scenarios. GCUPSERT_TEST_BROKERS
# names a running broker to use instead.
e2e:
	scripts/kafka/kafka.sh install
	$(GO) test -tags e2e -count=1 -p 1 -timeout 30m -v ./test/e2e/

# Both performance regimes (worker cost; API-bound with the token budget)
# and the sequential baseline, then the real-* rows on a real Apache Kafka
# broker (scripts/kafka/kafka.sh: Java 17 and Maven; skipped without Java),
# each against its goal; prints one table and writes bench-results.json.
# About a quarter of an hour; BENCH_ARGS passes flags, e.g.
# BENCH_ARGS="--only inproc --cpuprofile cpu.prof" or BENCH_ARGS="--only real".
bench: build
	$(GO) run ./cmd/gcupsert-bench --bin $(BIN) $(BENCH_ARGS)

clean:
	rm -rf bin

# pgparquet: `make demo` shows an export on a throwaway PostgreSQL; `make test` runs what CI runs.
GO       ?= go
PYTHON   ?= python3
VENV     := .venv
BIN      := bin/pgparquet
export PGPARQUET_PYTHON := $(CURDIR)/$(VENV)/bin/python

.PHONY: build test demo bench bench-memory lint venv fuzz cuda clean

build:
	$(GO) build -o $(BIN) ./cmd/pgparquet

# The Python venv holds the independent Parquet readers (pyarrow, DuckDB) the tests compare with.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

# Everything CI runs: formatting, vet, all tests against throwaway PostgreSQL clusters, and a
# short fuzz run of the binary parser over its committed corpus.
test: venv
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -run '^$$' -fuzz FuzzCPUDecode -fuzztime 20s ./gpuparse

# A throwaway PostgreSQL, a ~1M-row lineorder-shaped table, an export, the files and a few rows.
demo: build
	$(GO) run ./internal/demo -bin $(BIN) -out demo-out -rows 1000000

bench: build bench-memory

# Peak RSS of exports of a table and of one 4x larger: memory must not grow with table size.
bench-memory: build
	$(GO) run ./bench/memory -bin $(BIN) -rows 500000 -factor 4

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCPUDecode -fuzztime 5m ./gpuparse

lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2026.2.2 ./...

# The CUDA decoder (issue 4) is built on a GPU host with nvcc; this tree has no CUDA sources yet.
cuda:
	@ls gpuparse/*.cu >/dev/null 2>&1 || { echo "no CUDA sources in gpuparse/ yet"; exit 1; }
	nvcc -arch=sm_90 -shared -Xcompiler -fPIC -o bin/libpgparquet_cuda.so gpuparse/*.cu

clean:
	rm -rf bin demo-out

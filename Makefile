# pgparquet: `make demo` shows an export on a throwaway PostgreSQL; `make test` runs what CI runs.
GO       ?= go
PYTHON   ?= python3
VENV     := .venv
BIN      := bin/pgparquet
export PGPARQUET_PYTHON := $(CURDIR)/$(VENV)/bin/python
# go-nvml's cgo bindings declare functions NVIDIA deprecated: keep builds quiet about them.
export CGO_CFLAGS := -O2 -g -Wno-deprecated-declarations

.PHONY: build test test-gpu test-readers demo bench bench-memory lint venv readers-venv fuzz cuda clean

build:
	$(GO) build -o $(BIN) ./cmd/pgparquet

# The Python venv holds the independent Parquet readers (pyarrow, DuckDB) the tests compare with.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@


# versitygw, the S3 gateway the object storage tests run on loopback (internal/s3test), built
# once into .cache/bin.
VERSITYGW := .cache/bin/versitygw
.PHONY: versitygw
versitygw: $(VERSITYGW)
$(VERSITYGW):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0

# Apache Iceberg's REST catalog test server (org.apache.iceberg.rest.RESTCatalogServer), which the
# REST catalog tests run on loopback (lakehouse/resttest): its jars from Maven Central, copied once
# into .cache/iceberg-rest/<first 12 hex digits of the sha256 of lakehouse/resttest/pom.xml, which
# lists them>. Needs Java and mvn.
ICEBERG_REST := .cache/iceberg-rest/$(shell sha256sum lakehouse/resttest/pom.xml | cut -c1-12)
.PHONY: iceberg-rest
iceberg-rest: $(ICEBERG_REST)
$(ICEBERG_REST):
	rm -rf $@.tmp
	mvn -q -B -f lakehouse/resttest/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/$@.tmp
	rm -rf $@ && mv $@.tmp $@

# Everything CI runs: formatting, vet, a short fuzz run of the binary parsers over their
# committed corpus, all tests against throwaway PostgreSQL 15 clusters, then the version matrix
# (test-matrix: PostgreSQL 13, 14, 16, 17 and 18; incremental on 14 and 18).
# The fuzz runs count executions: a -fuzztime duration races Go 1.26's fuzz coordinator at the
# deadline (golang/go#75804), failing with "context deadline exceeded" and no crasher.
test: venv versitygw iceberg-rest
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	# Without cgo (no CUDA library, the Go zstd encoder instead of libzstd) it still builds,
	# and its zstd pages are frames arrow-go reads back.
	CGO_ENABLED=0 $(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -count=1 -run '^(TestCPUZstd|TestCodecsRegistered|TestEncodeLargeFramesParts)$$' ./device
	$(GO) test -run '^$$' -fuzz '^FuzzCPUDecode$$' -fuzztime 20000x ./gpuparse
	$(GO) test -run '^$$' -fuzz '^FuzzCPUDecodeTree$$' -fuzztime 10000x ./gpuparse
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFields$$' -fuzztime 5000x ./gpuparse
	$(GO) test -run '^$$' -fuzz '^FuzzFlatList$$' -fuzztime 5000x ./gpuparse
	$(GO) test -run '^$$' -fuzz '^FuzzSplit$$' -fuzztime 20000x ./copyout
	$(GO) test -run '^$$' -fuzz '^FuzzListLevels$$' -fuzztime 2000x ./pqfile
	$(GO) test -count=1 -timeout 15m ./...
	# Without a GPU, exports write through the GPU writer's file path with its CPU twins (the
	# tests above); arrow-go's FileWriter writes them with PGPARQUET_PAGE_WRITER=off: export
	# tests of flat and nested tables through it.
	PGPARQUET_PAGE_WRITER=off $(GO) test -count=1 -run '^(TestExportSmoke|TestExportTypes|TestDictionaryEncodedStrings|TestHugeValuesDropStatistics|TestExportFailuresLeaveNothing|TestExportInterruptedLeavesNothing|TestCodec|TestExportToS3|TestExportRelationKinds)$$' ./export
	# And in sidecars killed, frozen past their lease and cut off by PostgreSQL restarts: every
	# succeeded request's files hold its rows exactly once.
	PGPARQUET_PAGE_WRITER=off $(GO) test -count=1 -run '^TestSidecarChaos$$' ./cmd/pgparquet
	$(MAKE) --no-print-directory test-matrix

# Readers beyond pyarrow and DuckDB, in a venv of their own (pyspark is large): Spark 4 reads
# every column of the types test exported with --compat spark, to the values pyarrow reads (about
# a minute here, most of it Spark starting). Needs Java 17 or later.
READERS_VENV := .venv-readers
readers-venv: $(READERS_VENV)/.installed
$(READERS_VENV)/.installed: requirements-readers.txt
	$(PYTHON) -m venv $(READERS_VENV)
	$(READERS_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-readers.txt
	touch $@
test-readers: venv readers-venv
	@command -v java >/dev/null || { echo "test-readers: Spark needs Java 17 or later on the PATH"; exit 1; }
	PGPARQUET_REQUIRE_SPARK=1 PGPARQUET_SPARK_PYTHON=$(CURDIR)/$(READERS_VENV)/bin/python \
		$(GO) test -count=1 -v -run '^TestSparkReadsTypes$$' ./export

# The version matrix: `make test` runs on PostgreSQL 15; this runs the export, types, values,
# consistency, control-table and sidecar smoke tests on 13, 14, 16, 17 and 18 (server binaries
# from Maven Central, internal/pgtest/fetch-versions.sh).
PG_VERSIONS := 13.22.0 14.19.0 16.10.0 17.6.0 18.0.0
MATRIX_TESTS := ^(TestExportSmoke|TestExportTypes|TestExportValues|TestSnapshotConsistency|TestSessionSettingsDoNotChangeValues|TestMigrateConcurrentAndIdempotent|TestRequestSecurity|TestOptionsCheckedAtInsert|TestInvokerViews|TestServe|TestLeastPrivilegeSidecar)$$
.PHONY: pg-versions test-matrix
pg-versions:
	bash internal/pgtest/fetch-versions.sh .pgversions $(PG_VERSIONS)
test-matrix: venv pg-versions
	for v in 13 14 16 17 18; do PGTEST_BINDIR=$(CURDIR)/.pgversions/$$v/bin $(GO) test -count=1 -run '$(MATRIX_TESTS)' ./export ./sql/control ./sidecar || exit 1; done
	for v in 14 18; do PGTEST_BINDIR=$(CURDIR)/.pgversions/$$v/bin $(GO) test -count=1 ./incremental || exit 1; \
		PGTEST_BINDIR=$(CURDIR)/.pgversions/$$v/bin $(GO) test -count=1 -run '^TestIncrementalFromSQL$$$$' ./sidecar || exit 1; done

# The sidecar chaos test at full size: 4 sidecars, ~250 requests over tables of millions of rows,
# kill -9, SIGSTOP past the lease and a PostgreSQL restart while they run (several minutes).
# `make test` runs its short form.
.PHONY: chaos
chaos:
	PGPARQUET_CHAOS=long $(GO) test -count=1 -timeout 30m -run '^TestSidecarChaos$$' -v ./cmd/pgparquet

# A throwaway PostgreSQL, a ~1M-row lineorder-shaped table, an export, the files and a few rows.
demo: build
	$(GO) run ./internal/demo -bin $(BIN) -out demo-out -rows 1000000

# The benchmark: bounded memory, then the comparison (source limit, pgparquet CPU/GPU, peers)
# on a throwaway PostgreSQL; the comparison's Markdown table is printed last and its JSON, .md
# and PNG land in bench/results/. BENCH_ARGS are passed to bench/run.py (see bench/README.md).
.PHONY: bench-compare bench-tools bench-venv bench-pg2parquet bench-gpuhost-kit bench-gpu
BENCH_ARGS ?= --gb 0.4 --wide-gb 0.25 --parallel 1,2 --repeat 2
bench: build bench-memory bench-compare
	@if command -v nvcc >/dev/null; then $(MAKE) bench-gpu; else echo "no nvcc: the GPU decoder benchmark (make bench-gpu) not run"; fi

bench-compare: build bench-tools bench-venv bench-pg2parquet
	bin/bench-cluster -shared-buffers 2GB -- bench/work/venv/bin/python bench/run.py $(BENCH_ARGS)

# Go helpers of the benchmark, prebuilt so that a host without Go runs them.
bench-tools:
	$(GO) build -o bin/bench-load ./bench/load
	$(GO) build -o bin/bench-sourcelimit ./bench/sourcelimit
	$(GO) build -o bin/bench-cluster ./bench/cluster

bench-venv: bench/work/venv/.installed
bench/work/venv/.installed: bench/requirements.txt
	$(PYTHON) -m venv bench/work/venv
	bench/work/venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
	touch $@

# pg2parquet from crates.io, built once and cached; without cargo the harness reports it as not run.
bench-pg2parquet:
	@if [ -x bench/work/cargo/bin/pg2parquet ]; then :; elif command -v cargo >/dev/null; then \
		cargo install pg2parquet --version 0.2.2 --locked --root bench/work/cargo || echo "pg2parquet did not build: it will be reported as not run"; \
	else echo "no cargo: pg2parquet will be reported as not run"; fi

# What a GPU host without Go, PostgreSQL or a registry needs (bench/README.md says how to carry it).
bench-gpuhost-kit: build bench-tools bench-pg2parquet
	bash bench/gpuhost-kit.sh

# Peak RSS of exports of a table and of one 4x larger: memory must not grow with table size.
bench-memory: build
	$(GO) run ./bench/memory -bin $(BIN) -rows 500000 -factor 4

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCPUDecode$$' -fuzztime 3m ./gpuparse
	$(GO) test -run '^$$' -fuzz '^FuzzCPUDecodeTree$$' -fuzztime 2m ./gpuparse
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFields$$' -fuzztime 1m ./gpuparse
	$(GO) test -run '^$$' -fuzz '^FuzzFlatList$$' -fuzztime 1m ./gpuparse
	$(GO) test -run '^$$' -fuzz '^FuzzSplit$$' -fuzztime 1m ./copyout
	$(GO) test -run '^$$' -fuzz '^FuzzListLevels$$' -fuzztime 1m ./pqfile

lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The CUDA decoder, built on a host with nvcc (CUDA 12+): machine code for Hopper (sm_90) plus
# PTX the driver compiles for other GPUs. The binary loads it at run time (dlopen) from
# $PGPARQUET_CUDA_LIB, beside itself, ../lib, or the loader path: one binary serves every host.
CUDA_LIB := bin/libpgparquet_cuda.so
cuda: $(CUDA_LIB)
# GPU compression (device/cuda/nvcomp.cu) needs nvCOMP's headers: NVCOMP_HOME holds include/
# (default: the nvidia-libnvcomp-cu13 wheel installed for python3). The library itself is
# loaded at run time, as this one is.
NVCOMP_HOME ?= $(shell python3 -c "import importlib.util as u; print(u.find_spec('nvidia.libnvcomp').submodule_search_locations[0])" 2>/dev/null)
$(CUDA_LIB): device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu device/cuda/pgpq_abi.h device/cuda/fuse.h device/cuda/callstats.h device/cuda/faults.h
	@mkdir -p bin
	@test -f "$(NVCOMP_HOME)/include/nvcomp/zstd.h" || { echo "nvCOMP headers not found: pip install nvidia-libnvcomp-cu13, or set NVCOMP_HOME"; exit 1; }
	nvcc -O3 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
		-shared -Xcompiler -fPIC -I $(NVCOMP_HOME)/include -o $@ device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu

# On a GPU host: the CPU-vs-GPU differential test on fresh random data (bit for bit), the
# throughput figures, one compute-sanitizer pass, and the sidecar chaos test with every
# succeeded export decoded on the GPU (PostgreSQL binaries as for make test).
test-gpu: cuda
	PGPARQUET_CUDA_LIB=$(CURDIR)/$(CUDA_LIB) PGPARQUET_REQUIRE_GPU=1 $(GO) test -count=1 -v -run 'TestGPU' ./device
	$(GO) test -c -o bin/device.test ./device
	cd device && PGPARQUET_CUDA_LIB=$(CURDIR)/$(CUDA_LIB) PGPARQUET_REQUIRE_GPU=1 \
		compute-sanitizer --tool memcheck --leak-check full ../bin/device.test -test.run 'TestGPUMatchesCPU|TestGPUFusedMatchesCPU|TestGPUListsMatchCPU|TestGPUNumericTextMatchesCPU|TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques'
	PGPARQUET_CUDA_LIB=$(CURDIR)/$(CUDA_LIB) PGPARQUET_CHAOS_DECODER=gpu $(GO) test -count=1 -v -run 'TestSidecarChaos$$' ./cmd/pgparquet

# On a GPU host: the decoder alone on lineorder-shaped chunks (kernels only, with transfers from
# pinned and from Go memory, and the CPU decoder on 1 and all cores, same bytes, same host).
bench-gpu: cuda
	@mkdir -p bench/results
	PGPARQUET_CUDA_LIB=$(CURDIR)/$(CUDA_LIB) PGPARQUET_REQUIRE_GPU=1 $(GO) test -count=1 -v -run 'TestGPUThroughput' ./device \
		| tee bench/results/gpu-decoder-$$(hostname)-$$(date -u +%F).txt

clean:
	rm -rf bin demo-out

# Debian packages for building and testing: gcc, pkg-config and
# libpcsclite-dev for piv-go (cgo); pcscd and vsmartcard-vpcd for the
# virtual card; opensc, yubico-piv-tool, openssl and jq for cross-checks;
# for the linux/arm64 release (make dist), the cross compiler with its C
# library and the arm64 PC/SC library (multiarch: .ci/deps adds the arm64
# architecture to dpkg), and qemu-user to run the arm64 binary in tests;
# openssh-server and openssh-client for the signing station tests, which
# reach the card through an SSH-forwarded pcscd socket.
DEB_PACKAGES := gcc pkg-config libpcsclite-dev pcscd vsmartcard-vpcd opensc yubico-piv-tool openssl jq \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross libpcsclite-dev:arm64 qemu-user \
	openssh-server openssh-client

# piv-go talks to pcscd through libpcsclite with cgo.
export CGO_ENABLED := 1

.PHONY: deps build test bench fuzz notation plugin virtual-piv demo clean

# Installs DEB_PACKAGES with apt-get (as root) unless all are installed.
deps:
	.ci/deps $(DEB_PACKAGES)

# VERSION is the plugin version notation sees (SemVer).
VERSION ?= 0.2.0

build:
	go build ./...

# The plugin binary, named as notation requires.
plugin:
	go build -trimpath -o bin/notation-piv -ldflags "-X main.version=$(VERSION)" ./cmd/notation-piv

# The virtual PIV card as a command.
virtual-piv:
	go build -o bin/virtual-piv ./vsmartcard/cmd/virtual-piv

# The main job on the virtual card: set up a key, sign an artifact in an OCI
# layout with notation and the plugin, verify it. Needs root for pcscd.
demo: deps plugin virtual-piv notation
	go build -o bin/test-tsa ./fixtures/timestamptest/cmd/test-tsa
	.ci/demo

# Packages are tested one at a time (-p 1): pcscd has a single socket and
# the vpcd driver two card slots, shared by every test package.
test: deps
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt -l: these files need gofmt -w:" >&2; echo "$$unformatted" >&2; exit 1; \
	fi
	go vet ./...
	go test -p 1 -count=1 ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(CI_FUZZTIME)

# BENCHRUNS is how many runs each benchmark's medians are taken over.
BENCHRUNS ?= 30

# Prints the performance figures (medians) of the plugin on the virtual
# card: start-up, APDUs and bytes per signature, where the time goes, peak
# RSS, and notation sign with the card against a local key file; a
# signing station: one signature through an SSH tunnel against the same
# on the station, and the signatures per second of one card for 1, 4 and 8
# runners (BenchmarkTunnel*); then what inspecting and verifying hostile
# envelopes costs (BenchmarkHostile in envelope/inspect): time, bytes
# allocated and peak RSS.
bench: deps
	go test -p 1 -count=1 -run '^$$' -bench . -benchtime $(BENCHRUNS)x ./cmd/notation-piv ./envelope/inspect

# CI_FUZZTIME bounds each fuzz target in make test, after the tests: a count
# of inputs rather than a duration, which a fuzz worker can overrun.
CI_FUZZTIME ?= 10000x

# FUZZTIME is how long each fuzz target runs under make fuzz.
FUZZTIME ?= 30s

# Runs every go test -fuzz target for FUZZTIME (their seed corpora also run
# as plain tests in make test).
fuzz:
	go test ./vsmartcard/card -run '^$$' -fuzz '^FuzzProcess$$' -fuzztime $(FUZZTIME)
	go test ./piv/internal/apdu -run '^$$' -fuzz '^FuzzExchange$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	go test ./piv/internal/apdu -run '^$$' -fuzz '^FuzzParseObjects$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	go test -short ./piv -run '^$$' -fuzz '^FuzzCardAnswers$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	go test ./envelope/jws -run '^$$' -fuzz '^FuzzHeaders$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	go test ./envelope/cose -run '^$$' -fuzz '^FuzzHeaders$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	go test ./envelope/jws -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	go test ./envelope/cose -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	go test ./envelope/inspect -run '^$$' -fuzz '^FuzzInspect$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	for target in FuzzRequest FuzzGetMetadata FuzzDescribeKey FuzzGenerateSignature FuzzGenerateEnvelope; do \
		go test ./internal/contract -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s || exit 1; \
	done

# The notation CLI the end-to-end tests drive: v1.3.2, pinned by the tools
# module in .ci/tools/notation, built from the Go module proxy.
NOTATION_LDFLAGS := -w \
	-X github.com/notaryproject/notation/internal/version.GitCommit=001cc919603c1dc16c6aad387c94b4209cb9c901 \
	-X github.com/notaryproject/notation/internal/version.BuildMetadata=

notation: bin/notation

bin/notation: .ci/tools/notation/go.mod .ci/tools/notation/go.sum
	cd .ci/tools/notation && go build -o $(CURDIR)/bin/notation -ldflags "$(NOTATION_LDFLAGS)" github.com/notaryproject/notation/cmd/notation

# make dist: reproducible release archives in DIST_DIR for DIST_PLATFORMS
# (.tar.gz for Linux, .zip for Windows, each holding the binary and
# LICENSE), checksums.txt, and checksums.txt.jws, a signature over it made
# with the PIV card by the notation-piv just built, with release-root.pem,
# the certificate users verify it against (see .ci/dist and README.md,
# "Releases"). The card: DIST_SIGN_SERIAL or DIST_SIGN_READER, the key:
# DIST_SIGN_SLOT, its CA chain: DIST_CA_CERTS (issuer first, root last);
# DIST_TSA_URL and DIST_TSA_ROOT_CERT timestamp the signature.
# DIST_VIRTUAL_CARD=1 signs with a throwaway virtual card (tests, CI);
# DIST_SIGN=0 builds and sums without signing, to reproduce a release.
# SOURCE_DATE_EPOCH, the mtime in the archives, defaults to the last
# commit's time.
DIST_DIR ?= dist
DIST_PLATFORMS ?= linux/amd64 linux/arm64 windows/amd64 windows/arm64
DIST_SIGN ?= 1
DIST_SIGN_SERIAL ?=
DIST_SIGN_READER ?=
DIST_SIGN_SLOT ?= 9c
DIST_CA_CERTS ?=
DIST_TSA_URL ?=
DIST_TSA_ROOT_CERT ?=
DIST_VIRTUAL_CARD ?= 0

.PHONY: dist
dist: deps
	VERSION='$(VERSION)' DIST_DIR='$(DIST_DIR)' DIST_PLATFORMS='$(DIST_PLATFORMS)' DIST_SIGN='$(DIST_SIGN)' \
	DIST_SIGN_SERIAL='$(DIST_SIGN_SERIAL)' DIST_SIGN_READER='$(DIST_SIGN_READER)' DIST_SIGN_SLOT='$(DIST_SIGN_SLOT)' \
	DIST_CA_CERTS='$(DIST_CA_CERTS)' DIST_TSA_URL='$(DIST_TSA_URL)' DIST_TSA_ROOT_CERT='$(DIST_TSA_ROOT_CERT)' \
	DIST_VIRTUAL_CARD='$(DIST_VIRTUAL_CARD)' .ci/dist

# Removes binaries and test binaries left in package directories, and
# cached test results.
clean:
	rm -rf bin
	go clean ./...
	go clean -testcache

# Debian packages for building and testing: gcc, pkg-config and
# libpcsclite-dev for piv-go (cgo); pcscd and vsmartcard-vpcd for the
# virtual card; opensc, yubico-piv-tool, openssl and jq for cross-checks.
DEB_PACKAGES := gcc pkg-config libpcsclite-dev pcscd vsmartcard-vpcd opensc yubico-piv-tool openssl jq

# piv-go talks to pcscd through libpcsclite with cgo.
export CGO_ENABLED := 1

.PHONY: deps build test clean

# Installs DEB_PACKAGES with apt-get (as root) unless all are installed.
deps:
	.ci/deps $(DEB_PACKAGES)

build:
	go build ./...

# Packages are tested one at a time (-p 1): pcscd has a single socket and
# the vpcd driver two card slots, shared by every test package.
test: deps
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt -l: these files need gofmt -w:" >&2; echo "$$unformatted" >&2; exit 1; \
	fi
	go vet ./...
	go test -p 1 -count=1 ./...

# Removes binaries and test binaries left in package directories, and
# cached test results.
clean:
	go clean ./...
	go clean -testcache

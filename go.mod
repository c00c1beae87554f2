module github.com/notation-piv/notation-piv

go 1.25.0

toolchain go1.26.8

require github.com/go-piv/piv-go/v2 v2.6.0

require (
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	github.com/notaryproject/notation-core-go v1.3.0 // indirect
	golang.org/x/crypto v0.50.0 // indirect
)

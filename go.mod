module github.com/notation-piv/notation-piv

go 1.25.0

toolchain go1.26.8

require github.com/go-piv/piv-go/v2 v2.6.0 // indirect

module github.com/notation-piv/notation-piv

go 1.25.0

toolchain go1.26.8

require (
	github.com/fxamacker/cbor/v2 v2.8.0
	github.com/go-jose/go-jose/v4 v4.1.8
	github.com/go-ldap/ldap/v3 v3.4.10
	github.com/go-piv/piv-go/v2 v2.6.0
	github.com/notaryproject/notation-core-go v1.3.0
	github.com/notaryproject/notation-plugin-framework-go v1.0.0
	github.com/veraison/go-cose v1.3.0
	golang.org/x/sys v0.43.0
	golang.org/x/term v0.42.0
)

require (
	github.com/Azure/go-ntlmssp v0.0.0-20221128193559-754e69321358 // indirect
	github.com/go-asn1-ber/asn1-ber v1.5.7 // indirect
	github.com/google/uuid v1.6.0 // indirect
)

require (
	github.com/creack/pty v1.1.24
	github.com/digitorus/pkcs7 v0.0.0-20230713084857-e76b763bdc49 // indirect
	github.com/digitorus/timestamp v0.0.0-20250524132541-c45532741eea
	github.com/ebfe/scard v0.0.0-20230420082256-7db3f9b7c8a7
	github.com/golang-jwt/jwt/v4 v4.5.2 // indirect
	github.com/notaryproject/tspclient-go v1.0.0
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/crypto v0.50.0 // indirect
)

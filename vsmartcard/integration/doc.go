// Package integration drives the virtual PIV card through a real pcscd and
// Debian's vsmartcard-vpcd driver, with piv-go and with the PIV tools used
// with real YubiKeys: yubico-piv-tool, OpenSC's pkcs11-tool and openssl.
// Cards of the generic and trussed profiles, provisioned with imported keys,
// go through OpenSC and piv-go too, to show what a real middleware and a
// YubiKey library make of them.
//
// It holds tests only. They need pcscd and the vpcd driver; without them the
// tests are skipped with a printed reason, except under CI=true, where they
// fail (make test installs both).
package integration

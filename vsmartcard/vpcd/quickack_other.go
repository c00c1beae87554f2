//go:build !linux

package vpcd

import "syscall"

// quickAck does nothing: TCP_QUICKACK exists on Linux only.
func quickAck(syscall.RawConn) error { return nil }

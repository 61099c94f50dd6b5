//go:build !linux

package main

import "syscall"

// childAttr: only Linux can tie the server's life to loadgen's (and only
// Linux has the /proc figures loadgen reads).
func childAttr() *syscall.SysProcAttr { return nil }

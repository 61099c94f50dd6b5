package main

// maxHeaderBytes caps a request's header block (Go's default is 1 MB). It
// leaves room for a few login cookies of ~4 KB each (idp/cookies.go).
const maxHeaderBytes = 64 << 10

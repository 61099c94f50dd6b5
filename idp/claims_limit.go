package idp

import (
	"bytes"
	"errors"
)

// maxClaimBytes bounds one claim's template output: a template that loops
// over a large list or number (`{{range 100000000}}…`) fails with an error
// instead of filling memory and every token (found by FuzzClaimsMapping).
const maxClaimBytes = 64 << 10

var errClaimTooLong = errors.New("template output exceeds 64 KiB")

// cappedBuffer is a bytes.Buffer that refuses to grow beyond maxClaimBytes.
type cappedBuffer struct{ b *bytes.Buffer }

func (c cappedBuffer) Write(p []byte) (int, error) {
	if c.b.Len()+len(p) > maxClaimBytes {
		return 0, errClaimTooLong
	}
	return c.b.Write(p)
}

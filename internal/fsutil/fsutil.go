// Package fsutil has file helpers that edgectl and edgelet share.
package fsutil

import (
	"io"
	"os"
)

// CopyFile copies src to dst (mode 0600 when it is made), replacing what
// dst held.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

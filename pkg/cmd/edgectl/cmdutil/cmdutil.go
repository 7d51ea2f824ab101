// Package cmdutil holds what every edgectl command shares: IO streams, the
// logger, and output formatting.
package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/edgectl/edgectl/internal/log"
)

// Streams are the command's standard streams.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Deps is what commands receive from the root.
type Deps struct {
	Streams Streams
	// Logger is created after flags are parsed (-v, -q).
	Logger func() *log.Logger
}

// PrintJSON writes v as indented JSON to w.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// CheckOutput validates an -o value.
func CheckOutput(o string) error {
	if o != "" && o != "json" && o != "table" {
		return fmt.Errorf("-o %q: must be table or json", o)
	}
	return nil
}

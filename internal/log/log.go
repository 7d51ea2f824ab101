// Package log is edgectl's logger: user-facing messages on stderr, filtered
// by verbosity (-v N), silenced by -q.
package log

import (
	"fmt"
	"io"
	"sync"
)

// Logger writes levelled messages.
type Logger struct {
	mu        sync.Mutex
	w         io.Writer
	verbosity int
	quiet     bool
}

// New returns a logger writing to w.
func New(w io.Writer, verbosity int, quiet bool) *Logger {
	return &Logger{w: w, verbosity: verbosity, quiet: quiet}
}

// Discard is a logger that writes nothing (library default).
func Discard() *Logger { return New(io.Discard, 0, true) }

// Writer is where messages go (io.Discard when quiet).
func (l *Logger) Writer() io.Writer {
	if l == nil || l.quiet {
		return io.Discard
	}
	return l.w
}

// V reports whether messages of level v are shown.
func (l *Logger) V(v int) bool { return l != nil && !l.quiet && v <= l.verbosity }

// Infof prints at level 0.
func (l *Logger) Infof(format string, args ...any) { l.Vf(0, format, args...) }

// Vf prints at level v.
func (l *Logger) Vf(v int, format string, args ...any) {
	if !l.V(v) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

// Warnf prints a warning, even when quiet.
func (l *Logger) Warnf(format string, args ...any) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "WARNING: "+format+"\n", args...)
}

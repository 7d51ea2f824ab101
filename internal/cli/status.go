// Package cli holds terminal helpers: the step list that create and delete
// print (✓ done, ✗ failed), with a spinner only on a terminal.
package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Status prints one line per step.
type Status struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	current string
	started time.Time
	stop    chan struct{}
	done    chan struct{}
}

// NewStatus writes steps to w; the spinner runs only when w is a terminal.
func NewStatus(w io.Writer) *Status {
	s := &Status{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.tty = true
	}
	return s
}

// Start ends the current step as a success and starts msg.
func (s *Status) Start(msg string) {
	s.End(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.started = msg, time.Now()
	if !s.tty {
		fmt.Fprintf(s.w, " • %s ...\n", msg)
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.spin(msg, s.stop, s.done)
}

func (s *Status) spin(msg string, stop, done chan struct{}) {
	defer close(done)
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		fmt.Fprintf(s.w, "\r %s %s ", frames[i%len(frames)], msg)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// End finishes the current step; a no-op when none is running.
func (s *Status) End(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == "" {
		return
	}
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
		fmt.Fprint(s.w, "\r")
	}
	mark, color, reset := "✓", "", ""
	if !ok {
		mark = "✗"
	}
	if s.tty {
		color, reset = "\x1b[32m", "\x1b[0m"
		if !ok {
			color = "\x1b[31m"
		}
	}
	fmt.Fprintf(s.w, " %s%s%s %s (%s)%s\n", color, mark, reset, s.current, time.Since(s.started).Round(100*time.Millisecond), clearEOL(s.tty))
	s.current = ""
}

func clearEOL(tty bool) string {
	if tty {
		return "\x1b[K"
	}
	return ""
}

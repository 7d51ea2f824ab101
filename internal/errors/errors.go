// Package errors gives edgectl's failures a kind, and each kind a documented
// exit code, so scripts can tell "already exists" from "engine down".
package errors

import (
	"errors"
	"fmt"
)

// Kind classifies a failure.
type Kind int

// Kinds and their exit codes (docs/exit-codes.md).
const (
	KindGeneric       Kind = 1
	KindInvalidConfig Kind = 2
	KindExists        Kind = 3
	KindNotFound      Kind = 4
	KindEngine        Kind = 5
	KindImageMissing  Kind = 6
	KindPortInUse     Kind = 7
	KindTimeout       Kind = 8
	// The stages of `edgectl ci chart`, each with its own code.
	KindChartLint      Kind = 10
	KindChartInstall   Kind = 11
	KindChartWait      Kind = 12
	KindChartTest      Kind = 13
	KindChartUpgrade   Kind = 14
	KindChartUninstall Kind = 15
	KindInterrupted    Kind = 130
)

// Error is an error of a kind, with the next step for the user.
type Error struct {
	Kind Kind
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k.
func New(k Kind, hint string, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...), Hint: hint}
}

// Wrap gives err the kind k.
func Wrap(k Kind, hint string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err, Hint: hint}
}

// ExitCode is the process exit code for err.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return int(e.Kind)
	}
	return int(KindGeneric)
}

// Hint returns the next step attached to err, if any.
func Hint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

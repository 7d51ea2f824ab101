package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/edgectl/edgectl/internal/runtime"
)

// exitMarker ends stderr of every exec with the command's exit status. The
// Engine API has no call that waits for an exec to end: its exit code is set
// by an event handler that races with the end of the output stream, and
// reading it then means polling inspect. The node's shell reports the status
// in the stream itself, which ends only when the shell has.
const exitMarker = "\nedgectl-exit-status="

// Exec runs cmd in the container and waits for it to exit.
func (p *Provider) Exec(ctx context.Context, name string, cmd []string, stdin io.Reader) (runtime.ExecResult, error) {
	wrapped := append([]string{"sh", "-c", `"$@"; printf '` + strings.ReplaceAll(exitMarker, "\n", "\\n") + `%d\n' $? >&2`, "sh"}, cmd...)
	return p.exec(ctx, name, wrapped, stdin)
}

// ExecDirect runs cmd with no shell around it, for images that have none;
// the exit code comes from the engine.
func (p *Provider) ExecDirect(ctx context.Context, name string, cmd []string) (runtime.ExecResult, error) {
	return p.exec(ctx, name, cmd, nil)
}

func (p *Provider) exec(ctx context.Context, name string, wrapped []string, stdin io.Reader) (runtime.ExecResult, error) {
	var res runtime.ExecResult
	created, err := p.cli.ContainerExecCreate(ctx, name, container.ExecOptions{
		Cmd: wrapped, AttachStdout: true, AttachStderr: true, AttachStdin: stdin != nil,
	})
	if err != nil {
		return res, fmt.Errorf("exec in %s: %w", name, err)
	}
	att, err := p.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return res, fmt.Errorf("exec in %s: %w", name, err)
	}
	defer att.Close()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, stdin)
			_ = att.CloseWrite()
		}()
	}
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader)
		done <- err
	}()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case err := <-done:
		if err != nil && !errors.Is(err, io.EOF) {
			return res, err
		}
	}
	res.Stdout = stdout.String()
	var ok bool
	if res.Stderr, res.ExitCode, ok = splitExitStatus(stderr.String()); !ok {
		// The shell did not report (killed, or no shell in the image):
		// the output has ended, so ask the engine once.
		insp, err := p.cli.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return res, err
		}
		res.ExitCode = insp.ExitCode
	}
	return res, nil
}

// splitExitStatus takes the exit status the wrapper shell printed off the
// end of stderr.
func splitExitStatus(stderr string) (rest string, code int, ok bool) {
	i := strings.LastIndex(stderr, exitMarker[1:])
	if i < 0 {
		return stderr, 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(stderr[i+len(exitMarker)-1:]))
	if err != nil {
		return stderr, 0, false
	}
	rest = strings.TrimSuffix(stderr[:i], "\n")
	return rest, code, true
}

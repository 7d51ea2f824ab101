package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// run runs cmd in a node and returns its stdout. A command that cannot run,
// or exits non-zero, is an error that names it, the node and the last line
// of what it printed.
func (p *Provider) run(ctx context.Context, node string, stdin io.Reader, cmd ...string) (string, error) {
	res, err := p.rt.Exec(ctx, node, cmd, stdin)
	if err != nil {
		return "", fmt.Errorf("%s in %s: %w", cmd[0], node, err)
	}
	if res.ExitCode != 0 {
		return "", fmt.Errorf("%s in %s: exit %d: %s", strings.Join(cmd[:min(len(cmd), 3)], " "), node, res.ExitCode,
			lastNonEmpty(res.Stderr+"\n"+res.Stdout))
	}
	return res.Stdout, nil
}

// lastNonEmpty is the last line of s that is not blank.
func lastNonEmpty(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

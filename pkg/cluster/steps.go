package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/edgectl/edgectl/internal/cli"
)

// step is one action of a create or a node add. It reports progress under
// its title and, when it or a later step fails, undoes its own part.
type step struct {
	title string
	do    func(ctx context.Context) error
	undo  func(ctx context.Context) error
}

// runSteps runs steps in order. On a failure it undoes the failed step and
// every earlier one, newest first, unless retain; the undo runs even when ctx
// was cancelled (SIGINT), with a bounded context of its own.
func (p *Provider) runSteps(ctx context.Context, steps []step, retain bool, retainHint string) error {
	status := cli.NewStatus(p.logger.Writer())
	for i, s := range steps {
		status.Start(s.title)
		err := s.do(ctx)
		if err == nil {
			continue
		}
		status.End(false)
		if retain {
			p.logger.Warnf("%s (--retain)", retainHint)
			return err
		}
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		status.Start("Removing what was created")
		var errs []error
		for j := i; j >= 0; j-- {
			if steps[j].undo != nil {
				errs = append(errs, steps[j].undo(cleanup))
			}
		}
		uerr := errors.Join(errs...)
		status.End(uerr == nil)
		if uerr != nil {
			p.logger.Warnf("cleanup after the failure: %v", uerr)
		}
		return err
	}
	status.End(true)
	return nil
}

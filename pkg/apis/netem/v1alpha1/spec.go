// Package v1alpha1 holds the network impairment spec that edgectl sends and
// edgelet applies (pkg/edgelet/netem): delay, jitter, loss and rate, as JSON
// with durations as text.
package v1alpha1

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Spec is an impairment of a node's egress link.
type Spec struct {
	Delay  time.Duration
	Jitter time.Duration
	// Loss is the share of packets dropped, in percent.
	Loss float64
	// Rate is a tc rate ("1mbit", "500kbit").
	Rate string
	// Peers limit the impairment to packets to these IPs; empty means all.
	Peers     []string
	Interface string
	Since     time.Time
}

// specJSON is Spec with durations as text ("200ms").
type specJSON struct {
	Delay     string    `json:"delay,omitempty"`
	Jitter    string    `json:"jitter,omitempty"`
	Loss      float64   `json:"loss,omitempty"`
	Rate      string    `json:"rate,omitempty"`
	Peers     []string  `json:"peers,omitempty"`
	Interface string    `json:"interface,omitempty"`
	Since     time.Time `json:"since,omitzero"`
}

// MarshalJSON writes durations as text.
func (s Spec) MarshalJSON() ([]byte, error) {
	j := specJSON{Loss: s.Loss, Rate: s.Rate, Peers: s.Peers, Interface: s.Interface, Since: s.Since}
	if s.Delay > 0 {
		j.Delay = s.Delay.String()
	}
	if s.Jitter > 0 {
		j.Jitter = s.Jitter.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Spec) UnmarshalJSON(data []byte) error {
	var j specJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*s = Spec{Loss: j.Loss, Rate: j.Rate, Peers: j.Peers, Interface: j.Interface, Since: j.Since}
	for _, d := range []struct {
		text string
		to   *time.Duration
	}{{j.Delay, &s.Delay}, {j.Jitter, &s.Jitter}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil {
			return err
		}
		*d.to = v
	}
	return nil
}

// Validate reports every problem of a spec at once.
func (s Spec) Validate() error {
	var errs []error
	if s.Delay < 0 || s.Jitter < 0 {
		errs = append(errs, errors.New("delay and jitter must not be negative"))
	}
	if s.Jitter > 0 && s.Delay == 0 {
		errs = append(errs, errors.New("jitter needs a delay"))
	}
	if s.Loss < 0 || s.Loss > 100 {
		errs = append(errs, fmt.Errorf("loss %g%%: must be between 0 and 100", s.Loss))
	}
	if s.Rate != "" {
		if _, err := RateBits(s.Rate); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Delay == 0 && s.Loss == 0 && s.Rate == "" {
		errs = append(errs, errors.New("nothing to apply: give a delay, a loss or a rate"))
	}
	return errors.Join(errs...)
}

// RateBits parses a tc rate: a number with bit, kbit, mbit or gbit.
func RateBits(r string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(strings.ToLower(r), u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil || n <= 0 {
				break
			}
			return uint64(n * float64(u.mult)), nil
		}
	}
	return 0, fmt.Errorf("rate %q: want a number and a unit: 500kbit, 10mbit, 1gbit", r)
}

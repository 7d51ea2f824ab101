package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateListsEveryProblem(t *testing.T) {
	err := Spec{Jitter: time.Millisecond, Loss: 150, Rate: "fast"}.Validate()
	for _, want := range []string{"jitter needs a delay", "loss 150%", `rate "fast"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := (Spec{Delay: 200 * time.Millisecond, Loss: 5, Rate: "1mbit"}).Validate(); err != nil {
		t.Errorf("valid spec refused: %v", err)
	}
}

func TestRateBits(t *testing.T) {
	for in, want := range map[string]uint64{"500kbit": 500e3, "1mbit": 1e6, "1.5Mbit": 1.5e6, "2gbit": 2e9} {
		if got, err := RateBits(in); err != nil || got != want {
			t.Errorf("RateBits(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "mbit", "-1mbit", "1mb"} {
		if _, err := RateBits(bad); err == nil {
			t.Errorf("RateBits(%q) accepted", bad)
		}
	}
}

func TestSpecJSONRoundTrip(t *testing.T) {
	s := Spec{Delay: 200 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 2.5, Peers: []string{"10.0.0.1"}}
	data, err := json.Marshal(s)
	if err != nil || !strings.Contains(string(data), `"delay":"200ms"`) {
		t.Fatalf("marshal: %s %v", data, err)
	}
	var back Spec
	if err := json.Unmarshal(data, &back); err != nil || back.Delay != s.Delay || back.Jitter != s.Jitter || back.Loss != s.Loss {
		t.Errorf("round trip: %+v %v", back, err)
	}
	if data, _ := json.Marshal(Spec{}); string(data) != "{}" {
		t.Errorf("healthy spec is %s, want {}", data)
	}
}

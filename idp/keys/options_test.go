package keys

import (
	"strings"
	"testing"
	"time"
)

func TestOptionsProblems(t *testing.T) {
	if p := (Options{RotationPeriod: DefaultRotationPeriod, PublishAhead: DefaultPublishAhead}).Problems(nil); len(p) != 0 {
		t.Errorf("defaults break the rules: %v", p)
	}
	tests := []struct {
		o    Options
		want []string
	}{
		{Options{RotationPeriod: 30 * time.Minute, PublishAhead: 10 * time.Minute}, []string{"RotationPeriod: must be at least 1h (got 30m)"}},
		{Options{RotationPeriod: 2 * time.Hour, PublishAhead: 3 * time.Hour}, []string{"PublishAhead: must be shorter than RotationPeriod (3h >= 2h)"}},
		{Options{}, []string{"RotationPeriod: must be positive (got 0s)", "PublishAhead: must be positive (got 0s)"}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range tt.o.Problems(nil) {
			got = append(got, p.Error())
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%+v: problems %q, want %q", tt.o, got, tt.want)
		}
	}
}

package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
)

func TestStatsSeries(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	rec := recorder(t, s)
	start := c.Now().Truncate(time.Hour) // 12:00
	// Hour 0: two devices on builtin, one checks twice (two flushes).
	rec(Activity{Devices: []DeviceReport{report(devA, "builtin", "production"), report(devB, "builtin", "production")}})
	rec(Activity{Devices: []DeviceReport{report(devA, "builtin", "production")}})
	// Hour 2: devA moves to 1.0.1 and installs it; devB fails to.
	c.Advance(2 * time.Hour)
	rec(Activity{Devices: []DeviceReport{report(devA, "1.0.1", "production")},
		Events: []Event{event(devA, "set", "1.0.1"), event(devB, "download_fail", "1.0.1"), event(devB, "update_fail", "1.0.1")}})
	c.Advance(time.Hour) // now hour 3

	got, err := s.StatsSeries(ctx, "com.example.app", SeriesQuery{Bucket: api.BucketHour, From: start, To: start.Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Times) != 5 || got.Times[0] != start.Unix() || got.Times[4] != start.Add(4*time.Hour).Unix() {
		t.Fatalf("times = %v", got.Times)
	}
	byVersion := map[string]api.Series{}
	for _, sr := range got.Series {
		byVersion[sr.Version] = sr
	}
	if len(got.Series) != 2 || got.Series[0].Version != "1.0.1" {
		t.Fatalf("series = %+v; want 1.0.1 then builtin", got.Series)
	}
	tests := []struct {
		name      string
		got, want []int64
	}{
		{"builtin devices", byVersion["builtin"].Devices, []int64{2, 2, 1, 1, 0}},
		{"1.0.1 devices", byVersion["1.0.1"].Devices, []int64{0, 0, 1, 1, 0}},
		{"builtin checks", byVersion["builtin"].Checks, []int64{3, 0, 0, 0, 0}},
		{"1.0.1 checks", byVersion["1.0.1"].Checks, []int64{0, 0, 1, 0, 0}},
		{"1.0.1 installs", byVersion["1.0.1"].Installs, []int64{0, 0, 1, 0, 0}},
		{"1.0.1 failures", byVersion["1.0.1"].Failures, []int64{0, 0, 1, 0, 0}},
		{"1.0.1 rollbacks", byVersion["1.0.1"].Rollbacks, []int64{0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}

	// A day bucket sums the counts and ends with the gauge.
	day, err := s.StatsSeries(ctx, "com.example.app", SeriesQuery{Bucket: api.BucketDay, From: start, To: start})
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range day.Series {
		if sr.Version == "builtin" && (sr.Devices[0] != 1 || sr.Checks[0] != 3) {
			t.Errorf("day builtin = %+v; want devices 1, checks 3", sr)
		}
	}
	// Filters: another channel has nothing; a later window carries gauges.
	other, err := s.StatsSeries(ctx, "com.example.app", SeriesQuery{Bucket: api.BucketHour, From: start, To: start.Add(3 * time.Hour), Channel: "beta"})
	if err != nil || len(other.Series) != 0 {
		t.Errorf("beta series = %+v, %v; want none", other.Series, err)
	}
	later, err := s.StatsSeries(ctx, "com.example.app", SeriesQuery{Bucket: api.BucketHour, From: start.Add(3 * time.Hour), To: start.Add(3 * time.Hour), Bundle: "1.0.1"})
	if err != nil || len(later.Series) != 1 || later.Series[0].Devices[0] != 1 {
		t.Errorf("later 1.0.1 series = %+v, %v; want 1 device carried forward", later.Series, err)
	}
}

func TestStatsSeriesInvalid(t *testing.T) {
	s, c := newTestStore(t)
	now := c.Now()
	tests := []struct {
		name string
		q    SeriesQuery
	}{
		{"unknown bucket", SeriesQuery{Bucket: "week", From: now, To: now}},
		{"to before from", SeriesQuery{Bucket: api.BucketHour, From: now, To: now.Add(-2 * time.Hour)}},
		{"too many buckets", SeriesQuery{Bucket: api.BucketHour, From: now.Add(-MaxSeriesBuckets * time.Hour), To: now}},
	}
	for _, tt := range tests {
		if _, err := s.StatsSeries(context.Background(), "com.example.app", tt.q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v; want ErrInvalid", tt.name, err)
		}
	}
}

func TestPruneSeries(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	start := c.Now().Truncate(time.Hour)
	for i := 0; i < 3; i++ { // three hours of checks from devA on builtin
		if err := s.RecordActivity(ctx, Activity{Devices: []DeviceReport{report(devA, "builtin", "production")}}); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Hour)
	}
	c.Advance(SeriesRetention)
	n, err := s.pruneSeries(ctx)
	if err != nil || n != 2 {
		t.Fatalf("pruneSeries = %d, %v; want 2 (the newest bucket holds the gauge)", n, err)
	}
	got, err := s.StatsSeries(ctx, "com.example.app", SeriesQuery{Bucket: api.BucketDay, From: c.Now(), To: c.Now()})
	if err != nil || len(got.Series) != 1 || got.Series[0].Devices[0] != 1 {
		t.Errorf("series after prune = %+v, %v; want builtin's gauge carried forward", got.Series, err)
	}
	_ = start
}

func TestSearchDevices(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	a := report(devA, "builtin", "production")
	a.CustomID = "Alice@example.com"
	if err := s.RecordActivity(ctx, Activity{Devices: []DeviceReport{a}}); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if err := s.RecordActivity(ctx, Activity{Devices: []DeviceReport{report(devB, "builtin", "production")}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q     string
		limit int
		want  []string
	}{
		{"", 50, []string{devB, devA}}, // newest first
		{"", 1, []string{devB}},
		{"0F67", 50, []string{devA}},   // id prefix, any case
		{"alice@", 50, []string{devA}}, // custom id substring, any case
		{"59a", 50, nil},               // not a prefix of an id
		{"nobody", 50, nil},
	}
	for _, tt := range tests {
		got, err := s.SearchDevices(ctx, "com.example.app", tt.q, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range got {
			ids = append(ids, d.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
			t.Errorf("SearchDevices(%q, %d) = %v; want %v", tt.q, tt.limit, ids, tt.want)
		}
	}
}

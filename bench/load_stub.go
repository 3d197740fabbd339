package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// LoadReport is the result of the load benchmark.
type LoadReport struct {
	Note string `json:"note,omitempty"`
}

// LoadOptions configure RunLoad.
type LoadOptions struct {
	Server        string        // external server URL; "" starts one in this process
	Devices       int           // simulated devices
	Duration      time.Duration // length of each phase
	DownloadShare float64       // share of checks followed by a download
	NoNginx       bool          // skip the nginx ceiling
	Logf          func(string, ...any)
}

// RunLoad runs the load benchmark.
func RunLoad(ctx context.Context, opt LoadOptions) (*LoadReport, error) {
	return nil, errors.New("bench: load is not implemented yet")
}

// Markdown writes the load tables.
func (l *LoadReport) Markdown(w io.Writer) { fmt.Fprintf(w, "## Load\n\n%s\n", l.Note) }

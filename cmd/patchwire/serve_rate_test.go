package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServeDeviceRateFlags: rate-limit flags that are not numbers of
// requests are refused with a message naming the flag, before anything
// starts (issue 14 item 9).
func TestServeDeviceRateFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--device-rate", "-1"}, nil, "--device-rate -1"},
		{[]string{"--device-rate-per-device", "NaN"}, nil, "--device-rate-per-device NaN"},
		{[]string{"--device-burst", "-5"}, nil, "--device-burst -5"},
		{nil, map[string]string{"PATCHWIRE_DEVICE_BURST_PER_DEVICE": "-2"}, "--device-burst-per-device -2"},
		{[]string{"--device-rate", "fast"}, nil, "device-rate"},
	} {
		var out, errOut bytes.Buffer
		e := &cliEnv{stdout: &out, stderr: &errOut, getenv: func(k string) string { return tc.env[k] }}
		args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)
		err := run(context.Background(), e, args)
		if err == nil || !strings.Contains(err.Error()+errOut.String(), tc.want) {
			t.Errorf("%v %v: %v %s, want %q", tc.args, tc.env, err, errOut.String(), tc.want)
		}
	}
}

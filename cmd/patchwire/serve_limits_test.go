package main

import (
	"io"
	"testing"
	"time"

	"github.com/patchwire/patchwire/server"
)

// TestConnLimitFlags: the connection limit flags of `serve` reach
// server.Limits, and 0 turns a limit off rather than meaning "default".
func TestConnLimitFlags(t *testing.T) {
	def := server.DefaultLimits()
	for _, tc := range []struct {
		name string
		args []string
		want func(l server.Limits) bool
	}{
		{"defaults", nil, func(l server.Limits) bool {
			return l.MinBodyRate == def.MinBodyRate && l.MinBodyRateWindow == def.MinBodyRateWindow &&
				l.MaxQUICConns == def.MaxQUICConns && l.MaxQUICConnsPerIP == def.MaxQUICConnsPerIP &&
				l.UnusedConnTimeout == def.UnusedConnTimeout && l.ReadTimeout == def.ReadTimeout
		}},
		{"set", []string{"--min-body-rate", "1024", "--min-body-rate-window", "5s", "--max-quic-conns", "7", "--max-quic-conns-per-ip", "2", "--unused-conn-timeout", "3s", "--read-timeout", "2m"},
			func(l server.Limits) bool {
				return l.MinBodyRate == 1024 && l.MinBodyRateWindow == 5*time.Second && l.MaxQUICConns == 7 &&
					l.MaxQUICConnsPerIP == 2 && l.UnusedConnTimeout == 3*time.Second && l.ReadTimeout == 2*time.Minute
			}},
		{"off", []string{"--min-body-rate", "0", "--max-quic-conns", "0", "--max-quic-conns-per-ip", "0", "--unused-conn-timeout", "0"},
			func(l server.Limits) bool {
				return l.MinBodyRate < 0 && l.MaxQUICConns < 0 && l.MaxQUICConnsPerIP < 0 && l.UnusedConnTimeout < 0
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlags("serve", io.Discard)
			var lim server.Limits
			finish := connLimitFlags(fs, &lim)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			finish()
			if !tc.want(lim) {
				t.Errorf("%v gave %+v", tc.args, lim)
			}
		})
	}
}

package main

import (
	"flag"

	"github.com/patchwire/patchwire/server"
)

// connLimitFlags registers the connection and request-timing limits of
// `patchwire serve` on fs (README, "Limits"). Call the returned function
// after parsing: it turns the flags' 0 ("off") into the server's negative.
func connLimitFlags(fs *flag.FlagSet, lim *server.Limits) (finish func()) {
	def := server.DefaultLimits()
	fs.DurationVar(&lim.ReadHeaderTimeout, "read-header-timeout", def.ReadHeaderTimeout, "longest wait for a request's headers (and the TLS handshake)")
	fs.DurationVar(&lim.ReadTimeout, "read-timeout", def.ReadTimeout, "longest wait from a request's start until its body starts being read (the whole body with --min-body-rate 0)")
	fs.DurationVar(&lim.WriteTimeout, "write-timeout", def.WriteTimeout, "longest time to send one response")
	fs.DurationVar(&lim.IdleTimeout, "idle-timeout", def.IdleTimeout, "how long an idle keep-alive or HTTP/3 connection stays open")
	fs.Int64Var(&lim.MinBodyRate, "min-body-rate", def.MinBodyRate, "slowest request body, bytes/s averaged over --min-body-rate-window (0: off)")
	fs.DurationVar(&lim.MinBodyRateWindow, "min-body-rate-window", def.MinBodyRateWindow, "window of --min-body-rate; a body that arrives within one window is never cut")
	fs.IntVar(&lim.MaxQUICConns, "max-quic-conns", def.MaxQUICConns, "most open HTTP/3 connections in all (0: no cap)")
	fs.IntVar(&lim.MaxQUICConnsPerIP, "max-quic-conns-per-ip", def.MaxQUICConnsPerIP, "most open HTTP/3 connections from one IP address (0: no cap)")
	fs.DurationVar(&lim.UnusedConnTimeout, "unused-conn-timeout", def.UnusedConnTimeout, "a connection (TCP or HTTP/3) that sends no request this long after it opens is closed (0: off)")
	return func() {
		off(&lim.MinBodyRate)
		off(&lim.MaxQUICConns)
		off(&lim.MaxQUICConnsPerIP)
		off(&lim.UnusedConnTimeout)
	}
}

// off maps a flag's 0 onto the negative value that turns a limit off (a
// zero Limits field means "the default").
func off[T ~int | ~int64](v *T) {
	if *v == 0 {
		*v = -1
	}
}

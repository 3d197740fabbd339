package device

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"time"
)

// PluginVersion is what the device reports as plugin_version in stats.
const PluginVersion = "0.1.0"

// statsTimeout bounds one stats delivery: stats never hold a device up.
const statsTimeout = 3 * time.Second

// StatEvent is one event in the body of a Capgo-compatible stats POST
// (the plugin's format: capgo-protocol.md §6). The body is a JSON array of
// these.
type StatEvent struct {
	Platform       string            `json:"platform"`
	DeviceID       string            `json:"device_id"`
	AppID          string            `json:"app_id"`
	CustomID       string            `json:"custom_id"`
	VersionBuild   string            `json:"version_build"`
	VersionCode    string            `json:"version_code"`
	VersionOS      string            `json:"version_os"`
	VersionName    string            `json:"version_name"`
	OldVersionName string            `json:"old_version_name"`
	PluginVersion  string            `json:"plugin_version"`
	IsEmulator     bool              `json:"is_emulator"`
	IsProd         bool              `json:"is_prod"`
	Action         string            `json:"action"`
	DefaultChannel string            `json:"defaultChannel"`
	Timestamp      int64             `json:"timestamp"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// queueStat appends an event to DIR/stats.json (at most maxStats, oldest
// dropped). Without a known app there is nothing to report against.
func (st *state) queueStat(cfg Config, action, version, old string, meta map[string]string) {
	id := st.id
	if id.App == "" || cfg.NoStats {
		return
	}
	var q []StatEvent
	_ = st.readJSON(statsFile, &q)
	q = append(q, StatEvent{
		Platform: id.Platform, DeviceID: st.deviceID(cfg), AppID: id.App,
		VersionBuild: id.NativeVersion, VersionCode: id.NativeVersion, VersionOS: runtime.GOOS,
		VersionName: version, OldVersionName: old, PluginVersion: PluginVersion,
		IsEmulator: id.IsEmulator, IsProd: !id.IsDev, Action: action, DefaultChannel: id.Channel,
		Timestamp: st.now().UnixMilli(), Metadata: meta,
	})
	if n := len(q) - maxStats; n > 0 {
		q = q[n:]
	}
	if err := st.writeJSON(statsFile, q); err != nil {
		cfg.Logger.Warn("queue stats event", "action", action, "err", err)
	}
}

// flushStats sends the queued events as one JSON array, best effort: a
// 2xx or a refusal (4xx other than 408 and 429) empties the queue, as the
// plugin does; anything else keeps it for the next time.
func (st *state) flushStats(ctx context.Context, cfg Config, hc *http.Client) {
	url := st.id.StatsURL
	if url == "" || cfg.NoStats {
		return
	}
	var q []StatEvent
	if err := st.readJSON(statsFile, &q); err != nil || len(q) == 0 {
		return
	}
	body, err := json.Marshal(q)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "CapacitorUpdater/"+PluginVersion+" ("+st.id.App+") "+st.id.Platform+"/"+runtime.GOOS)
	resp, err := hc.Do(req)
	if err != nil {
		cfg.Logger.Info("stats not delivered; kept for later", "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		cfg.Logger.Info("stats not delivered; kept for later", "status", resp.Status)
		return
	case c >= 300:
		cfg.Logger.Info("stats refused; dropped", "status", resp.Status)
	}
	if err := st.root.Remove(statsFile); err != nil {
		cfg.Logger.Warn("clear stats queue", "err", err)
	}
}

package device

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// Outcomes of an update (Result.Outcome).
const (
	OutcomeUpdated  = "updated"   // a new bundle was installed and is now current (pending ready)
	OutcomeNoUpdate = "no_update" // the server says keep the current bundle
	OutcomeFailed   = "failed"    // the check or the install failed; the current bundle is untouched
)

// Result is what one Update did. It is also kept as the state directory's
// last_update.
type Result struct {
	At       time.Time     `json:"at"`
	Outcome  string        `json:"outcome"`
	Error    string        `json:"error,omitempty"`
	From     Bundle        `json:"from"`
	To       *Bundle       `json:"to,omitempty"`
	Channel  string        `json:"channel,omitempty"`
	Sequence uint64        `json:"sequence,omitempty"`
	NoUpdate *api.NoUpdate `json:"no_update,omitempty"`
	// RolledBack is the bundle the start check rolled back, if any.
	RolledBack *Bundle `json:"rolled_back,omitempty"`
	// Protocol of the last response, "HTTP/3.0" or "HTTP/2.0".
	Protocol string `json:"protocol,omitempty"`
	// DownloadedBytes counts every response body byte received: the check
	// answer, objects and patches, including tries that were cut.
	DownloadedBytes int64 `json:"downloaded_bytes"`
	// AnswerBytes is the signed check answer's body, of DownloadedBytes.
	AnswerBytes int64 `json:"answer_bytes,omitempty"`
	// StepBytes is the step object's size, of DownloadedBytes.
	StepBytes int64 `json:"step_bytes,omitempty"`
	// PlannedBytes is what the step said the download would be: its own
	// size plus the raw sizes of the objects it names.
	PlannedBytes int64 `json:"planned_bytes,omitempty"`
	// ReleaseKey is the id of the release key whose statement the
	// installed target verified with ("" when release keys are not used).
	ReleaseKey string `json:"release_key,omitempty"`
	// ResumedBytes were already on disk from a cut try and not fetched again.
	ResumedBytes int64         `json:"resumed_bytes,omitempty"`
	Files        int           `json:"files,omitempty"`     // files of the target bundle
	Reused       int           `json:"reused,omitempty"`    // target files built from bytes the device had
	Fetched      int           `json:"fetched,omitempty"`   // objects downloaded whole
	Patched      int           `json:"patched,omitempty"`   // target files rebuilt by patches
	Fallbacks    int           `json:"fallbacks,omitempty"` // files fetched whole because the step was unusable
	Duration     time.Duration `json:"duration_ns"`
}

// updater is one Update in progress.
type updater struct {
	st      *state
	cfg     Config
	net     *netClient
	base    *url.URL
	log     *slog.Logger
	resumed atomic.Int64
	fetched atomic.Int64
	planned bool // a verified update was being installed
}

// Update runs one update on the state directory dir: the start check
// (rolling back a bundle that never reported ready), then a signed check
// with the server and, when the answer has a plan, the download, verify,
// assembly and atomic switch. On any failure the current bundle stays as
// it is and partial downloads are kept for the next try. The Result is
// returned (and recorded as last_update) in every case.
func Update(ctx context.Context, dir string, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	res := Result{At: cfg.Now(), Outcome: OutcomeFailed}
	if err := cfg.validate(); err != nil {
		return res, err
	}
	st, err := openState(dir, cfg.Now, false)
	if err != nil {
		return res, err
	}
	defer st.close()
	if st.ptr == nil {
		return res, ErrNotSeeded
	}
	base, _ := url.Parse(cfg.Server + "/")
	u := &updater{st: st, cfg: cfg, net: newNetClient(cfg), base: base, log: cfg.Logger}
	defer u.net.close()
	st.remember(cfg)

	start := time.Now()
	res.RolledBack = st.startCheck(cfg)
	res.From = st.ptr.Current
	err = u.run(ctx, &res)
	res.Duration = time.Since(start)
	res.DownloadedBytes = u.net.received.Load()
	res.ResumedBytes = u.resumed.Load()
	res.Protocol = u.net.protocol()
	if err != nil {
		res.Outcome, res.Error = OutcomeFailed, err.Error()
		st.hist.add(Event{At: res.At, Kind: "failed", From: res.From.Version, Detail: err.Error()})
		if u.planned && !errors.Is(err, context.Canceled) {
			st.queueStat(cfg, "download_fail", res.From.Version, "", map[string]string{"error": truncate(err.Error(), 2000)})
		}
	}
	st.hist.LastUpdate = &res
	if werr := st.writeJSON(historyFile, st.hist); werr != nil && err == nil {
		err = werr
	}
	st.flushStats(ctx, cfg, u.net.client)
	return res, err
}

// run is the check and, when there is a plan, the install.
func (u *updater) run(ctx context.Context, res *Result) error {
	st, cfg := u.st, u.cfg
	if ids := cfg.keyIDs(); !slices.Equal(ids, st.tr.Keys) {
		if len(st.tr.Keys) > 0 {
			st.hist.add(Event{At: cfg.Now(), Kind: "keys_changed", Detail: "trusted keys changed; sequence floors reset"})
		}
		st.tr = trust{Keys: ids, Release: st.tr.Release}
		if err := st.writeJSON(trustFile, st.tr); err != nil {
			return err
		}
	}
	if st.tr.syncReleaseRoots(cfg) {
		if err := st.writeJSON(trustFile, st.tr); err != nil {
			return err
		}
	}
	from, err := st.loadManifest(st.ptr.Current.Manifest, cfg.Limits)
	if err != nil {
		return err
	}
	now := cfg.Now()
	ans, err := u.check(ctx, now, res)
	if err != nil {
		return err
	}
	res.Channel, res.Sequence = ans.Channel, ans.Sequence
	if ans.NoUpdate != nil {
		res.Outcome, res.NoUpdate = OutcomeNoUpdate, ans.NoUpdate
		st.hist.add(Event{At: now, Kind: "no_update", From: res.From.Version, Detail: ans.NoUpdate.Code})
		if st.tr.raise(ans.App, ans.Channel, ans.Sequence) {
			return st.writeJSON(trustFile, st.tr)
		}
		return nil
	}
	up := ans.Update
	if st.hist.failed(up.Target.Manifest) {
		return fmt.Errorf("%w: %s (manifest %s)", ErrPreviouslyFailed, up.Target.Version, up.Target.Manifest)
	}
	if up.Target.Version == BuiltinVersion {
		return u.toBuiltin(ans, res)
	}
	if up.Target.Manifest == st.ptr.Current.Manifest && up.Target.Version == st.ptr.Current.Version {
		res.Outcome = OutcomeNoUpdate
		if st.tr.raise(ans.App, ans.Channel, ans.Sequence) {
			return st.writeJSON(trustFile, st.tr)
		}
		return nil
	}
	if up.Step == nil {
		return fmt.Errorf("%w: an update to %s without a step", ErrBadPlan, up.Target.Version)
	}
	if err := u.verifyRelease(ctx, up, res); err != nil {
		return err
	}
	u.planned = true
	target, fellBack := u.resumeTarget(ctx, from, up), false
	if target == nil {
		target, err = u.stepTarget(ctx, from, up, res)
		if errors.Is(err, errStepUnusable) {
			u.log.Warn("step unusable, fetching the target manifest and whole files", "err", err)
			fellBack = true
			target, err = u.targetManifest(ctx, up.Target)
		}
		if err != nil {
			return err
		}
	}
	res.Files = target.Len()
	to, err := u.install(ctx, from, target, up.Target.Version, res)
	if fellBack {
		res.Fallbacks = res.Fetched
	}
	if err != nil {
		return err
	}
	return u.switchTo(ans, to, true, res)
}

// switchTo makes to the current bundle: first the answer's sequence is
// durably recorded (a crash after the switch must not let older answers
// back in), then the pointer is replaced atomically. A pending bundle is
// rolled back at the next start unless Ready is called.
func (u *updater) switchTo(ans *api.CheckAnswer, to Bundle, pending bool, res *Result) error {
	st, cfg := u.st, u.cfg
	st.tr.raise(ans.App, ans.Channel, ans.Sequence)
	if err := st.writeJSON(trustFile, st.tr); err != nil {
		return err
	}
	prev := st.ptr.Current
	ptr := pointer{Current: to, SwitchedAt: cfg.Now()}
	if pending {
		ptr.Previous, ptr.Pending = &prev, true
	}
	if err := st.writeJSON(pointerFile, ptr); err != nil {
		return err
	}
	st.ptr = &ptr
	st.gc()
	st.clearTmp()
	res.Outcome, res.To = OutcomeUpdated, &to
	st.hist.add(Event{At: cfg.Now(), Kind: "update", From: prev.Version, To: to.Version,
		Detail: fmt.Sprintf("sequence %d on %s", ans.Sequence, ans.Channel)})
	st.queueStat(cfg, "set", to.Version, prev.Version, nil)
	return nil
}

// toBuiltin follows an update back to the bundle shipped with the app:
// target version "builtin", zero manifest digest, no step. The built-in bundle
// is always good, so the switch is not pending.
func (u *updater) toBuiltin(ans *api.CheckAnswer, res *Result) error {
	up := ans.Update
	if !up.Target.Manifest.IsZero() || up.Step != nil {
		return fmt.Errorf("%w: an update back to the built-in bundle carries a step", ErrBadPlan)
	}
	b, err := u.st.builtin()
	if err != nil {
		return fmt.Errorf("device: built-in bundle: %w", err)
	}
	if u.st.ptr.Current.Dir == b.Dir {
		res.Outcome = OutcomeNoUpdate
		if u.st.tr.raise(ans.App, ans.Channel, ans.Sequence) {
			return u.st.writeJSON(trustFile, u.st.tr)
		}
		return nil
	}
	if _, err := u.st.loadManifest(b.Manifest, u.cfg.Limits); err != nil {
		return err
	}
	return u.switchTo(ans, b, false, res)
}

// check posts the check request and returns the verified, bound answer.
func (u *updater) check(ctx context.Context, now time.Time, res *Result) (*api.CheckAnswer, error) {
	st, cfg := u.st, u.cfg
	cur := st.ptr.Current
	creq := api.CheckRequest{
		App: cfg.App, DeviceID: st.deviceID(cfg), Platform: cfg.Platform, NativeVersion: cfg.NativeVersion,
		Channel: cfg.Channel, Current: api.CurrentBundle{Version: cur.Version, Manifest: cur.Manifest},
		Codecs: cfg.Codecs, IsEmulator: cfg.IsEmulator, IsDev: cfg.IsDev,
	}
	body, err := json.Marshal(creq)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.CheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.base.JoinPath(api.PathCheck).String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", api.CheckContentType+", application/json")
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := u.net.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxCheckBytes+1))
	if err != nil {
		return nil, fmt.Errorf("check: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e api.Error
		if json.Unmarshal(b, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("check: server answered %s: %s: %s", resp.Status, e.Code, e.Message)
		}
		return nil, fmt.Errorf("check: server answered %s", resp.Status)
	}
	if len(b) > MaxCheckBytes {
		return nil, fmt.Errorf("check: %w: answer over %d bytes", ErrTooLarge, MaxCheckBytes)
	}
	res.AnswerBytes = int64(len(b))
	// The subject is the request as sent: a fleet answer is signed for
	// its base (api.Base), a device answer for its device id.
	sub := creq.Subject()
	bind := Binding{App: cfg.App, Channel: cfg.Channel, Platform: cfg.Platform, DeviceID: sub.DeviceID, Now: now, Floors: st.tr.floor}
	verify := func() (*api.CheckAnswer, error) {
		ans, err := VerifyCheck(b, u.serverKeys(), sub)
		if err == nil {
			err = bind.Check(ans)
		}
		return ans, err
	}
	ans, err := verify()
	// A server key the device does not know yet, or a floor a restored
	// server is below: a release-key-signed rotation may be what is new.
	if u.releaseMode() && (errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrRollback)) {
		changed, serr := u.syncRotations(ctx)
		if changed {
			ans, err = verify()
		}
		if err != nil && serr != nil {
			err = fmt.Errorf("%w; %w", err, serr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	return ans, nil
}

// install obtains every file of target, assembles it beside the current
// bundle and returns it; nothing is switched yet. Files come from the
// current bundle (same path or same bytes elsewhere), the files the step
// rebuilt (staged), objects staged by an earlier try, or a whole download
// from /o/{sha256}.
func (u *updater) install(ctx context.Context, from, target *manifest.Manifest, version string, res *Result) (Bundle, error) {
	st := u.st
	dirName, err := st.bundleDirFor(version, target.Digest())
	if err != nil {
		return Bundle{}, err
	}
	if lim := u.cfg.Limits.MaxBundleBytes; lim > 0 && target.TotalSize() > lim {
		return Bundle{}, fmt.Errorf("%w: target bundle of %d bytes", ErrTooLarge, target.TotalSize())
	}
	sources := map[manifest.Digest]string{}
	need := map[manifest.Digest]manifest.Entry{}
	curDir := bundlePath(st.ptr.Current.Dir)
	byDigest := make(map[manifest.Digest]manifest.Entry, from.Len())
	for _, e := range from.Entries() {
		if _, ok := byDigest[e.Digest]; !ok {
			byDigest[e.Digest] = e
		}
	}
	for _, e := range target.Entries() {
		if _, ok := sources[e.Digest]; ok {
			continue
		}
		if _, ok := need[e.Digest]; ok {
			continue
		}
		if src, ok := u.localSource(from, byDigest, curDir, e); ok {
			sources[e.Digest] = src
			continue
		}
		need[e.Digest] = e
	}
	for _, e := range target.Entries() {
		if src, ok := sources[e.Digest]; ok && src != stagedPath(e.Digest) {
			res.Reused++
		}
	}
	if err := u.fetchAll(ctx, sortedEntries(need)); err != nil {
		return Bundle{}, err
	}
	res.Fetched = int(u.fetched.Load())
	for d := range need {
		sources[d] = stagedPath(d)
	}
	if err := st.assemble(target, sources, dirName); err != nil {
		return Bundle{}, err
	}
	if err := st.saveManifest(target); err != nil {
		return Bundle{}, err
	}
	return Bundle{Version: version, Manifest: target.Digest(), Dir: dirName}, nil
}

// localSource finds e's bytes on the device: the same path of the current
// bundle, another path with the same digest, or a staged object.
func (u *updater) localSource(from *manifest.Manifest, byDigest map[manifest.Digest]manifest.Entry, curDir string, e manifest.Entry) (string, bool) {
	var cands []string
	if old, ok := from.Lookup(e.Path); ok && old.Digest == e.Digest && old.Size == e.Size {
		cands = append(cands, curDir+"/"+e.Path)
	}
	if old, ok := byDigest[e.Digest]; ok && old.Size == e.Size && old.Path != e.Path {
		cands = append(cands, curDir+"/"+old.Path)
	}
	cands = append(cands, stagedPath(e.Digest))
	for _, c := range cands {
		if ok, _ := u.st.verifyFile(c, e.Digest, e.Size); ok {
			return c, true
		}
	}
	return "", false
}

// fetchAll downloads the entries whole from /o/{sha256}, Concurrency at a
// time, staging each once verified. The first failure cancels the rest and
// is returned.
func (u *updater) fetchAll(ctx context.Context, es []manifest.Entry) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, u.cfg.Concurrency)
	for _, e := range es {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := u.fetch(ctx, object{Digest: e.Digest, Size: e.Size, URLs: []string{u.originURL(e.Digest)}, What: e.Path})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				u.fetched.Add(1)
			} else if firstErr == nil {
				firstErr = err
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// originURL is the server's /o/{sha256} URL of an object.
func (u *updater) originURL(d manifest.Digest) string {
	return u.base.JoinPath("o", d.String()).String()
}

// sortedEntries returns the map's entries in path order.
func sortedEntries(m map[manifest.Digest]manifest.Entry) []manifest.Entry {
	es := make([]manifest.Entry, 0, len(m))
	for _, e := range m {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b manifest.Entry) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return es
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

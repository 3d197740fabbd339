package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/step"
)

// emptyManifest is the manifest with no files, api.EmptyManifest: where a
// step starts when the server did not know the device's bundle.
var emptyManifest = &manifest.Manifest{}

// errStepUnusable wraps why a step could not be used: the update then
// falls back to the target manifest and whole objects.
var errStepUnusable = errors.New("step unusable")

// stepTarget downloads the update's step (verified against its signed
// digest and size), applies it to the current bundle from, and returns the
// target manifest it rebuilds, which must be the signed one. The files the
// bundle patch rebuilt are staged (stagedPath) for install to find. A
// transient download failure is returned as is (the update is retried
// later); anything else wrong with the step is errStepUnusable.
func (u *updater) stepTarget(ctx context.Context, from *manifest.Manifest, up *api.Update, res *Result) (*manifest.Manifest, error) {
	ref, lim := up.Step, u.cfg.Limits
	if ref.Size <= 0 || lim.MaxBundleBytes > 0 && ref.Size > 2*lim.MaxBundleBytes {
		return nil, fmt.Errorf("%w: step of %d bytes", errStepUnusable, ref.Size)
	}
	o := object{Digest: ref.Digest, Size: ref.Size, URLs: []string{u.originURL(ref.Digest)}, What: "step " + ref.Digest.String()[:12]}
	if err := u.fetch(ctx, o); err != nil {
		if isSourceError(err) {
			return nil, fmt.Errorf("%w: %v", errStepUnusable, err)
		}
		return nil, err
	}
	defer u.st.root.Remove(stagedPath(ref.Digest))
	b, err := u.st.readVerified(stagedPath(ref.Digest), ref.Digest, ref.Size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errStepUnusable, err)
	}
	base := from
	ok, err := step.StartsFrom(b, from.Digest())
	if err == nil && !ok {
		base = emptyManifest
		ok, err = step.StartsFrom(b, base.Digest())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errStepUnusable, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: it does not start from the manifest the device runs (%s)", errStepUnusable, from.Digest())
	}
	slim := step.DefaultLimits()
	slim.Manifest = lim
	s, err := step.Decode(base, b, slim)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errStepUnusable, err)
	}
	if n := s.PatchedSizes(); lim.MaxBundleBytes > 0 && sum(n) > lim.MaxBundleBytes {
		return nil, fmt.Errorf("%w: it rebuilds more than %d bytes", errStepUnusable, lim.MaxBundleBytes)
	}
	curDir := bundlePath(u.st.ptr.Current.Dir)
	target, files, err := s.Rebuild(base, func(e manifest.Entry) ([]byte, error) {
		return u.st.readVerified(curDir+"/"+e.Path, e.Digest, e.Size)
	}, lim)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errStepUnusable, err)
	}
	if err := matchesTarget(target, up.Target); err != nil {
		return nil, fmt.Errorf("%w: %v", errStepUnusable, err)
	}
	for d, data := range files {
		if err := u.st.writeFile(stagedPath(d), data); err != nil {
			return nil, err
		}
	}
	res.Patched += len(s.PatchedSizes())
	res.StepBytes, res.PlannedBytes = ref.Size, ref.Size+s.DeliverBytes()
	u.log.Debug("step", "step", s.String(), "bytes", ref.Size)
	return target, nil
}

// matchesTarget checks a rebuilt manifest against the signed target.
func matchesTarget(m *manifest.Manifest, t api.TargetBundle) error {
	if got := m.Digest(); got != t.Manifest {
		return fmt.Errorf("it rebuilds manifest %s, the signed target is %s", got, t.Manifest)
	}
	if m.Len() != t.Files || m.TotalSize() != t.Size {
		return fmt.Errorf("it rebuilds %d files of %d bytes, the signed target has %d files of %d bytes", m.Len(), m.TotalSize(), t.Files, t.Size)
	}
	return nil
}

func sum(ns []int64) int64 {
	var n int64
	for _, x := range ns {
		n += x
	}
	return n
}

// targetManifest is the fallback: GET /m/{sha256} of the signed target,
// verified against its digest, file count and size.
func (u *updater) targetManifest(ctx context.Context, t api.TargetBundle) (*manifest.Manifest, error) {
	lim := u.cfg.Limits
	max := int64(1 << 30)
	if lim.MaxFiles > 0 && lim.MaxPathBytes > 0 {
		max = int64(len("patchwire-manifest/1\n")) + int64(lim.MaxFiles)*int64(lim.MaxPathBytes+64+22)
	}
	url := u.base.JoinPath("m", t.Manifest.String()).String()
	ctx, cancel := context.WithTimeout(ctx, u.cfg.CheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := u.net.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("target manifest: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: target manifest: server answered %s", ErrBadPlan, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("target manifest: %w", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: target manifest over %d bytes", ErrTooLarge, max)
	}
	if manifest.Sum(b) != t.Manifest {
		return nil, fmt.Errorf("%w: target manifest from %s", ErrDigest, url)
	}
	m, err := manifest.Decode(b, lim)
	if err != nil {
		return nil, fmt.Errorf("%w: target manifest: %v", ErrBadPlan, err)
	}
	if err := matchesTarget(m, t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPlan, err)
	}
	return m, nil
}

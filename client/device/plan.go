package device

import (
	"fmt"
	"net/url"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
)

// emptyManifest is the manifest with no files, api.EmptyManifest.
var emptyManifest = &manifest.Manifest{}

// TargetManifest rebuilds the manifest a plan arrives at from the manifest
// the device runs (from) and the plan: from's files minus Removed, with
// every file the plan writes (copies, fetches, file patches, bundle patch
// entries) added or replaced. A plan whose From is api.EmptyManifest (the
// server did not know the device's bundle) starts from no files instead.
// It refuses (ErrBadPlan) a plan that starts elsewhere, names a path
// twice, removes a path the start lacks, or whose result differs from the
// signed Target (digest, file count, size).
func TargetManifest(from *manifest.Manifest, p *api.Plan, lim manifest.Limits) (*manifest.Manifest, error) {
	if p.From != from.Digest() {
		if p.From.String() != api.EmptyManifest {
			return nil, fmt.Errorf("%w: plan starts from manifest %s, the device runs %s", ErrBadPlan, p.From, from.Digest())
		}
		from = emptyManifest
	}
	var writes []manifest.Entry
	for _, c := range p.Copies {
		writes = append(writes, c.Entry)
	}
	for _, f := range p.Fetches {
		writes = append(writes, f.Entry)
	}
	for _, f := range p.FilePatches {
		writes = append(writes, f.Entry)
	}
	if bp := p.BundlePatch; bp != nil {
		writes = append(writes, bp.Entries...)
	}
	if lim.MaxFiles > 0 && (len(writes) > lim.MaxFiles || len(p.Removed) > lim.MaxFiles) {
		return nil, fmt.Errorf("%w: plan names more than %d files", ErrBadPlan, lim.MaxFiles)
	}
	var d manifest.Diff
	removed := make(map[string]bool, len(p.Removed))
	for _, path := range p.Removed {
		e, ok := from.Lookup(path)
		if !ok || removed[path] {
			return nil, fmt.Errorf("%w: removes %q, which the current bundle lacks", ErrBadPlan, path)
		}
		removed[path] = true
		d.Removed = append(d.Removed, e)
	}
	seen := make(map[string]bool, len(writes))
	for _, e := range writes {
		if seen[e.Path] {
			return nil, fmt.Errorf("%w: writes %q twice", ErrBadPlan, e.Path)
		}
		seen[e.Path] = true
		if old, ok := from.Lookup(e.Path); ok && !removed[e.Path] {
			d.Changed = append(d.Changed, manifest.Changed{Old: old, New: e})
		} else {
			d.Added = append(d.Added, e)
		}
	}
	target, err := d.Apply(from, lim)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPlan, err)
	}
	if got := target.Digest(); got != p.Target.Manifest {
		return nil, fmt.Errorf("%w: it rebuilds manifest %s, the signed target is %s", ErrBadPlan, got, p.Target.Manifest)
	}
	if target.Len() != p.Target.Files || target.TotalSize() != p.Target.Size {
		return nil, fmt.Errorf("%w: it rebuilds %d files of %d bytes, the signed target has %d files of %d bytes",
			ErrBadPlan, target.Len(), target.TotalSize(), p.Target.Files, p.Target.Size)
	}
	return target, nil
}

// job is one thing to download and turn into verified objects.
type job struct {
	fetch *fetchJob
	patch *patchJob
}

type fetchJob struct {
	entry manifest.Entry
	urls  []string
}

// patchJob rebuilds entries from base files of the current bundle and a
// patch: one entry for a file patch, several for a bundle patch.
type patchJob struct {
	codec   delta.Codec
	patch   object
	bases   []manifest.Entry // current bundle's files, concatenated as "old"
	entries []manifest.Entry // outputs, in order
	needed  []manifest.Entry // the outputs the device lacks (staged; fetched whole if the patch fails)
}

// planJobs turns a plan into the downloads needed to obtain every target
// digest in need (those the device does not already hold). A patch the
// device cannot use (unknown codec, bad URL, base missing) is replaced by
// fetches of its entries. Every entry also gets the origin's /o/{sha256}
// URL, used when the plan's source fails.
func (u *updater) planJobs(from *manifest.Manifest, p *api.Plan, need map[manifest.Digest]manifest.Entry) ([]job, error) {
	var jobs []job
	planned := map[manifest.Digest]bool{}
	fetch := func(e manifest.Entry, src string) {
		if _, ok := need[e.Digest]; !ok || planned[e.Digest] {
			return
		}
		planned[e.Digest] = true
		var urls []string
		if s, err := u.resolveURL(src); err == nil && src != "" {
			urls = append(urls, s)
		}
		if o := u.originURL(e.Digest); len(urls) == 0 || urls[0] != o {
			urls = append(urls, o)
		}
		jobs = append(jobs, job{fetch: &fetchJob{entry: e, urls: urls}})
	}
	patch := func(po api.PatchObject, baseNames []string, entries []manifest.Entry) {
		var out []manifest.Entry
		for _, e := range entries {
			if _, ok := need[e.Digest]; ok && !planned[e.Digest] {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return
		}
		pj, err := u.patchJob(from, po, baseNames, entries)
		if err != nil {
			u.log.Warn("patch unusable, fetching files whole", "err", err)
			u.fallbacks.Add(int64(len(out)))
			for _, e := range out {
				fetch(e, "")
			}
			return
		}
		for _, e := range out {
			planned[e.Digest] = true
		}
		pj.needed = out
		jobs = append(jobs, job{patch: pj})
	}
	if bp := p.BundlePatch; bp != nil {
		if dict, err := manifest.DictionaryOrder(from, bp.Bases); err != nil {
			u.log.Warn("bundle patch names a base the bundle lacks, fetching files whole", "err", err)
			u.fallbacks.Add(int64(len(bp.Entries)))
			for _, e := range bp.Entries {
				fetch(e, "")
			}
		} else {
			names := make([]string, len(dict))
			for i, e := range dict {
				names[i] = e.Path
			}
			patch(bp.Patch, names, bp.Entries)
		}
	}
	for _, fp := range p.FilePatches {
		patch(fp.Patch, []string{fp.Base}, []manifest.Entry{fp.Entry})
	}
	for _, f := range p.Fetches {
		fetch(f.Entry, f.URL)
	}
	// Whatever is still missing (a copy whose source is not what the plan
	// says, say) comes whole from the origin.
	for _, e := range sortedEntries(need) {
		fetch(e, "")
	}
	return jobs, nil
}

// patchJob validates one patch of the plan.
func (u *updater) patchJob(from *manifest.Manifest, po api.PatchObject, baseNames []string, entries []manifest.Entry) (*patchJob, error) {
	codec, ok := delta.Lookup(po.Codec)
	if !ok {
		return nil, fmt.Errorf("unknown codec %q", po.Codec)
	}
	lim := u.cfg.Limits
	if po.Size <= 0 || (lim.MaxBundleBytes > 0 && po.Size > lim.MaxBundleBytes) {
		return nil, fmt.Errorf("patch size %d out of range", po.Size)
	}
	src, err := u.resolveURL(po.URL)
	if err != nil {
		return nil, err
	}
	var bases []manifest.Entry
	var oldSize, outSize int64
	for _, name := range baseNames {
		e, ok := from.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("patch base %q is not in the current bundle", name)
		}
		bases = append(bases, e)
		oldSize += e.Size
	}
	if len(bases) == 0 {
		return nil, fmt.Errorf("patch has no base")
	}
	for _, e := range entries {
		outSize += e.Size
	}
	if lim.MaxBundleBytes > 0 && (oldSize > lim.MaxBundleBytes || outSize > lim.MaxBundleBytes) {
		return nil, fmt.Errorf("patch input or output over %d bytes", lim.MaxBundleBytes)
	}
	return &patchJob{
		codec:   codec,
		patch:   object{Digest: po.Digest, Size: po.Size, URLs: []string{src}, What: "patch " + po.Digest.String()[:12]},
		bases:   bases,
		entries: entries,
	}, nil
}

// resolveURL makes a plan URL absolute against the server; only http and
// https are followed.
func (u *updater) resolveURL(s string) (string, error) {
	ref, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %v", s, err)
	}
	abs := u.base.ResolveReference(ref)
	if abs.Scheme != "https" && abs.Scheme != "http" || abs.Host == "" {
		return "", fmt.Errorf("URL %q: want http(s)", s)
	}
	return abs.String(), nil
}

// originURL is the server's /o/{sha256} URL of an object.
func (u *updater) originURL(d manifest.Digest) string {
	return u.base.JoinPath("o", d.String()).String()
}

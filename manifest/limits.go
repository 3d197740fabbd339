package manifest

// Limits bound what one bundle may hold. Every ingestion path and every
// decoder checks them before doing per-entry work.
type Limits struct {
	MaxFiles       int   // entries in one bundle
	MaxBundleBytes int64 // sum of file sizes, counted on bytes actually read or inflated
	MaxFileBytes   int64 // one file
	MaxPathBytes   int   // one path, in bytes
	MaxPathDepth   int   // components in one path
	MaxRatio       int64 // inflated:compressed ratio a zip entry may reach once past RatioFloor bytes
	RatioFloor     int64 // bytes an entry may inflate to before MaxRatio applies
}

// DefaultLimits are sane for web bundles: 10,000 files, 512 MiB in all,
// 256 MiB a file, 1024-byte paths 32 deep, 200:1 past 1 MiB.
func DefaultLimits() Limits {
	return Limits{
		MaxFiles:       10_000,
		MaxBundleBytes: 512 << 20,
		MaxFileBytes:   256 << 20,
		MaxPathBytes:   1024,
		MaxPathDepth:   32,
		MaxRatio:       200,
		RatioFloor:     1 << 20,
	}
}

// MaxComponentBytes bounds one path component, as most file systems do.
const MaxComponentBytes = 255

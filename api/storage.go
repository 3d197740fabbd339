package api

// Error codes of a store that cannot take writes (issue 14 item 1).
const (
	// CodeInsufficientStorage (507): the write would leave less free disk
	// space than the server's reserve; nothing was written. Free space
	// (delete bundles, let the GC reclaim them) and retry.
	CodeInsufficientStorage = "insufficient_storage"
	// CodeReadOnly (503): the store was opened read-only; reads work,
	// writes do not until the server restarts writable.
	CodeReadOnly = "read_only"
)

// PathStoreBackup (GET, admin scope) streams a consistent backup of the
// whole store (Badger's backup stream) while the server keeps serving;
// `patchwire store restore` loads it into an empty data directory.
const PathStoreBackup = "/api/v1/store/backup"

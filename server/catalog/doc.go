// Package catalog is the server's in-memory, versioned view of the store's
// catalog: every app's channels and bundles, decoded once and mapped onto
// the resolver's inputs (indexed, so one decision costs the same with 10
// bundles or 2,000), and each app's device-channel records (overrides,
// self-assignments). Both device protocols (server/capgo and the native
// check in server/native) decide over it, and later the console and other
// nodes read it; it is its own package so that they can without an import
// cycle.
//
// It is versioned by the store's generations (store.CatalogGeneration,
// store.Generations), counters in memory that move after
// every committed write a decision must see and before that write
// returns: while they stand still, a check touches no Badger transaction;
// once they move, the next check reads the app again, so every change is
// visible to the next check.
package catalog

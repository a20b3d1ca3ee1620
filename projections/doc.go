// Package projections builds read models by folding GANTRY_EVENTS with
// aggregates.Apply: the current-state View (in memory, and materialised in
// the KV bucket gantry-state with the sequence each value reflects),
// point-in-time views (At), and the query API the CLI and dashboard use
// (gantry.query.<verb>).
//
// A View holds each object as JSON, not as a typed object: folding needs no
// decoding, and memory stays close to the objects' own size. Workers that
// need typed objects decode the few they look at.
package projections

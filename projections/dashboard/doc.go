// Package dashboard is Gantry's web dashboard, for people who would rather
// look than read. `gantry up` serves it (--dashboard, 127.0.0.1:8081 by
// default). It only reads: the in-process current-state View and the event
// store. It sends no command and writes nothing.
//
// Pages (HTML, html/template; CSS and JS are embedded, so it works offline):
//
//	/                                   every kind with its count, the latest events (live)
//	/kinds/{kind}                       a table like `gantry get`
//	/objects/{kind}/{name}              a cluster-scoped object: YAML and history
//	/objects/{kind}/{namespace}/{name}  a namespaced object: YAML and history
//
// The same data as JSON under /api/ (/api/overview, /api/kinds/{kind},
// /api/objects/…, /api/events) and the live event feed as Server-Sent
// Events on /api/events/stream (woken by View.OnChange, read from the
// store, resumable with Last-Event-ID).
//
// Every page and API takes ?namespace= (a filter) and ?at= (a stream
// sequence or an RFC 3339 time): with at, the answer is the cluster as it
// was then, rebuilt by folding the stream up to that sequence, and the page
// says so in a banner.
//
// Secret values never leave the server: a Secret shows its keys and the
// byte count of each value, in the object and in every event of its history.
package dashboard

// Package service is the command service: it answers gantry.cmd.<kind>.<verb>
// (queue group gantry-commands, so it runs as several replicas), checks each
// command CloudEvent against its JSON Schema, loads the object's state,
// calls aggregates.Decide, and appends the event with the object's last
// sequence as the expected one. A conflict (another replica or writer got
// there first) reloads and decides again, a bounded number of times, unless
// the command named the resourceVersion it expected. A refusal is answered
// to the sender and recorded on GANTRY_REJECTED; nothing is half-applied.
//
// Commands on one object are decided one after another (they are routed to
// lanes by subject); commands on different objects run in parallel.
package service

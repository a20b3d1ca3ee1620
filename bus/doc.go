// Package bus is Gantry's only contact with NATS: the embedded server, the
// connection, the streams and KV buckets, subject naming and the CloudEvents
// envelope. No other package knows a subject string by hand, and JetStream
// errors become the domain errors declared here (ErrConflict, ErrNotFound).
//
// Streams and buckets:
//
//	GANTRY_EVENTS    gantry.evt.<kind>.<ns>.<name>   every accepted change, kept forever
//	GANTRY_REJECTED  gantry.rejected.<kind>.<verb>   every refused command, for audit
//	gantry-state     KV <kind>.<ns>.<name>           current objects (the projection)
//	gantry-node-pods KV <node>.<ns>.<name>           the pods bound to each node (a projection);
//	                                                 agents follow their node's keys with a KeyTail
//	gantry-leases    KV <node>                       node heartbeats, with a TTL
//	gantry-leaders   KV <role>                       who leads a control-plane role (Elect)
//
// Commands arrive on gantry.cmd.<kind>.<verb> (request/reply, queue group
// gantry-commands); queries on gantry.query.<verb>.
package bus

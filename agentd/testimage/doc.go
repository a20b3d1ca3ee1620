// Package testimage gives tests a container image without the internet: a
// busybox image built from Debian's busybox-static binary, served by an
// in-process OCI registry on 127.0.0.1. It is not a _test package so that
// tests in other packages (runtime, agent end-to-end) can share it.
package testimage

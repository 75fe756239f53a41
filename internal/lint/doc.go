// Package lint holds the project's rules that are checked as tests: the
// import directions of DESIGN.md section 2 (which package may import
// which, and that only mon imports etcd and only osd/store imports
// Pebble), a package doc for every package saying who may import it, and
// no grab-bag package names. `make lint` runs them.
//
// It has no code; nothing imports it.
package lint

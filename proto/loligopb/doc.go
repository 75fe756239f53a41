// Package loligopb holds the protobuf messages and gRPC services of
// Loligo, generated from the .proto files in proto/ by `make proto`
// (protoc 3.21.12 from Debian's protobuf-compiler, with protoc-gen-go and
// protoc-gen-go-grpc pinned as tools in go.mod). Do not edit the *.pb.go
// files; CI fails if they differ from what `make proto` produces.
//
// Invariants: field numbers are never reused; enumerations carry Ceph's
// numbers where Ceph defines them.
//
// Who may import it: any package of Loligo. It imports nothing of
// Loligo's.
package loligopb

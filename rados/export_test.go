package rados

import "google.golang.org/grpc"

// SetDialOptions adds gRPC dial options to a connection's OSD
// connections (interceptors in tests).
func SetDialOptions(o *Options, opts ...grpc.DialOption) {
	o.dialOptions = append(o.dialOptions, opts...)
}

"""The gRPC server and what a request goes through: admission, wire, jobs, worker."""

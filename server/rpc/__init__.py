"""The transport edge: gRPC servicers, codecs, the error->status table. The core below never imports grpc."""

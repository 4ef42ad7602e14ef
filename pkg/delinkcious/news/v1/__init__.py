"""Generated from proto/delinkcious/news/v1/news.proto by grpc_tools.protoc; do not edit."""

"""news-manager's gRPC API: the generated code of proto/delinkcious/news (under `v1`,
committed and checked against the .proto by a test) and its translation to the object
model."""

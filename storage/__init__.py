"""LMDB storage: one environment per process, a versioned checksummed msgpack codec, one writer."""

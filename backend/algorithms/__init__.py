"""The methods the filters are made of: feature nets, patches, solvers, nets, faces."""

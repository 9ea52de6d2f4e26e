"""Data at the ground of the package: charsets, image decoding, label lists, dataset readers and writers."""

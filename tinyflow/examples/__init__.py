"""TF1's `tensorflow.examples` paths, so tutorial programs run with only `tensorflow`
replaced by `tinyflow` in their imports."""

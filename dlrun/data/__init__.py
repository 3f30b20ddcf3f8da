"""Data: sources registry, preparation fitted on train only, and tf.data pipelines.

`sources`, `splits`, `prepare` and `tabular` are numpy-only; `pipeline` imports
TensorFlow and is imported only by the commands that train or evaluate.
"""

"""ML layer engine: point-in-time features, rolling-origin training, BTYD baselines, scoring.

Pure pandas/numpy/scipy/scikit-learn (no Dagster, sandbox or warehouse), so the `score` CLI
and the Dagster ml assets call the same code. Entry points: `score.score_orders` (train on
history up to an as-of date and score every customer), `score_file.score_file` (the CLI's
file-in, file-out wrapper) and `spec.load_specs` (the reviewed `models/*.yaml`).
"""

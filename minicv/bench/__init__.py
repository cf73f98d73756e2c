"""minicv.bench: benchmark suites runnable from the installed package (`minicv bench`)."""

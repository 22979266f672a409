# The leakage plugin is registered through the pytest11 entry point (pip install -e .);
# nothing else belongs here.

from conftest import assert_matches_fd  # noqa: F401  (re-export for test modules)

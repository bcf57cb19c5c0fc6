//! Nothing here: the scenarios live in `tests/`, the helpers in `tests/support/`.

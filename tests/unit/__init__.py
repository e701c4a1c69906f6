# A package, so tests/unit/conftest.py is imported as unit.conftest and does not
# shadow tests/conftest.py, which the tests import as ``conftest``.

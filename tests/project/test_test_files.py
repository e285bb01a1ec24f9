"""Test modules have unique basenames: pytest imports them by basename (rootdir import
mode, no packages), so two files of one name in different folders stop collection."""

import collections
import pathlib

TESTS = pathlib.Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_basename():
    names = collections.Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []

"""Progress on stderr: drawn only when asked (the CLI on a terminal), after a delay,
and cleared, so that what a command prints is the same with or without it."""

import io
import time

import pytest

from symdiff import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def fast(monkeypatch):
    """Progress drawn at once and often, and switched off again after the test."""
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.01)
    yield
    progress.disable()


def test_off_by_default_draws_nothing(fast, capsys):
    with progress.task("tracing f", total=3):
        for _ in range(3):
            progress.step()
            time.sleep(0.03)
    assert capsys.readouterr().err == ""


def test_a_long_task_draws_its_line_and_clears_it(fast):
    stream = Terminal()
    progress.enable(stream)
    with progress.task("verifying the gradient", total=4):
        for _ in range(4):
            time.sleep(0.05)
            progress.step()
    text = stream.getvalue()
    assert "\rsymdiff: verifying the gradient ... " in text
    assert "/4, " in text and " s" in text
    assert text.endswith("\r")  # the line is blanked at the end
    last = text.rstrip("\r").rsplit("\r", 1)[-1]
    assert last.strip() == ""


def test_a_short_task_draws_nothing(monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 1.0)
    stream = Terminal()
    progress.enable(stream)
    try:
        with progress.task("quick"):
            progress.step()
    finally:
        progress.disable()
    assert stream.getvalue() == ""


def test_nested_tasks_show_outer_and_inner(fast):
    stream = Terminal()
    progress.enable(stream)
    with progress.task("emit loss"):
        with progress.task("simplifying"):
            time.sleep(0.08)
        time.sleep(0.08)
    text = stream.getvalue()
    assert "symdiff: emit loss: simplifying ... " in text
    assert "\rsymdiff: emit loss ... " in text  # back to the outer task alone
    assert text.index("emit loss: simplifying") < text.rindex("\rsymdiff: emit loss ... ")

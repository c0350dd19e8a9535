"""compositor.progress.bar: the one tqdm bar the commands show."""
import io

from compositor.progress import bar


def test_quiet_is_no_bar():
    assert bar(10, desc="x", unit="it", quiet=True) is None


def test_bar_writes_to_its_file():
    out = io.StringIO()
    b = bar(4, desc="batch", unit="img", initial=1, file=out)
    b.update(3)
    b.close()
    text = out.getvalue()
    assert "batch" in text and "4/4" in text and "img" in text

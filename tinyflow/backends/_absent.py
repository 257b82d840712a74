"""What every absent backend module answers."""
import contextlib


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False


@contextlib.contextmanager
def flags(*args, **kwargs):
    """`with torch.backends.cudnn.flags(enabled=False): ...`: nothing to switch here."""
    yield

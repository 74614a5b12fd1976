"""Write a file or directory so that readers see the old version or the new one, never half of one."""

import contextlib
import os
import shutil
import uuid


@contextlib.contextmanager
def atomic_path(final_path):
    """Yield a temporary sibling of `final_path`; move it into place only if the body succeeds.

    The body writes a file or a directory at the yielded path. On success it
    replaces `final_path` (an existing file or directory of that name is
    swapped out and deleted afterwards); on any exception the temporary is
    removed and an existing `final_path` is left untouched.

    The temporary lives in the same folder (so the final rename stays on one
    file system) and keeps the file extension (so writers that check it, like
    `model.save("x.keras")`, still accept it).

    Args:
        final_path: where the file or directory should end up.

    Example:
    >>> with atomic_path("run/onnx/model.onnx") as temporary:
    ...     onnx.save_model(proto, temporary)
    """
    final_path = os.path.abspath(os.fspath(final_path))
    os.makedirs(os.path.dirname(final_path), exist_ok=True)
    temporary = _sibling(final_path, "tmp")
    try:
        yield temporary
        if not os.path.lexists(temporary):
            raise FileNotFoundError(
                f"Nothing was written at the temporary path {temporary}, so "
                f"{final_path} was left as it was. Write the file or directory "
                "to the path that `atomic_path` yields."
            )
        _move_into_place(temporary, final_path)
    except BaseException:
        _remove(temporary)
        raise


def _sibling(path, tag):
    """A unique hidden path beside `path` that ends with its whole name.

    Ending with the whole name keeps multi-part extensions such as
    `.weights.h5`, which Keras checks.
    """
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{tag}-{uuid.uuid4().hex[:8]}-{name}")


def _move_into_place(temporary, final_path):
    both_files = not os.path.isdir(temporary) and not os.path.isdir(final_path)
    if both_files or not os.path.lexists(final_path):
        os.replace(temporary, final_path)  # atomic on POSIX and Windows
        return
    # `os.replace` cannot overwrite a directory (or a file with a directory):
    # move the old one aside and only delete it once the new one is in place.
    old = _sibling(final_path, "old")
    os.replace(final_path, old)
    try:
        os.replace(temporary, final_path)
    except BaseException:
        os.replace(old, final_path)
        raise
    # The new version is already in place; a leftover hidden copy is harmless.
    _remove(old, ignore_errors=True)


def _remove(path, ignore_errors=False):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=ignore_errors)
    elif os.path.lexists(path):
        try:
            os.remove(path)
        except OSError:
            if not ignore_errors:
                raise

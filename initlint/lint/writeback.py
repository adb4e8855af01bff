"""Writing a fixed file back: only over the bytes the lint pass read, keeping what the file is.

``--fix`` and ``--add-noqa`` compute their edits from the text the lint pass read. If an editor, a
colleague or a pre-commit hook saved the file since, those edits would land in the wrong places and
delete or duplicate code that still parses, so the file is written only while its bytes are still
the ones read (checked again just before the write), else it is left alone and reported.

The file stays the same file, as ruff's in-place writes keep it: its mode, owner, group and hard
links. A file nobody may write (no write bit, or no permission for this user) is an error, never
rewritten, even where the folder would allow replacing it. A crash or kill never leaves half a file:

- a file with one link is replaced atomically: the new text goes to a temporary file beside it,
  which gets the file's mode, owner and group (``fchown``) and is flushed to disk (``fsync``) before
  it is renamed over the original; the folder is then flushed so the rename survives a power cut;
- a file with several hard links (or whose owner or group this user cannot give a new file) must
  keep its inode, so it is written in place; first its original bytes are copied, flushed, to
  ``.<name>.initlint-orig`` beside it, and removed once the new text is flushed. A write cut short
  leaves that copy, and the next run refuses to touch the file until the user has looked at it.
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
import tempfile
from pathlib import Path

__all__ = ["FileChanged", "write_back", "backup_of", "CHANGED"]

CHANGED = ("it changed while fixing (saved by another program after initlint read it), so its fixes were not "
           "applied; run initlint again")


class FileChanged(OSError):
    """The file's bytes are no longer those the lint pass read."""

    def __init__(self, path: Path) -> None:
        super().__init__(errno.EAGAIN, CHANGED, str(path))


def backup_of(target: Path) -> Path:
    """Where the original bytes of ``target`` wait while it is written in place."""
    return target.with_name(f".{target.name}.initlint-orig")


def write_back(path: Path, expected: bytes, new: bytes) -> None:
    """Replace the content of ``path`` (through a symlink: of the file it names) by ``new``, provided it
    is still ``expected``.

    Raises:
        FileChanged: the file's bytes are no longer ``expected``; nothing was written.
        OSError: the file may not be written (``strerror`` says why, as a sentence); nothing was written.
    """
    target = path.resolve()
    info = os.stat(target)
    if not _writable(target, info):
        raise PermissionError(errno.EACCES, f"it is read-only (mode {stat_module.filemode(info.st_mode)}); make it "
                              "writable (chmod u+w) to fix it, or leave it out", str(path))
    backup = backup_of(target)
    if backup.exists():
        raise FileExistsError(errno.EEXIST, f"an earlier fix of it was interrupted and its original bytes are in "
                              f"{backup}; compare the two, keep the right one and delete {backup.name}", str(path))
    if info.st_nlink > 1 or not _replace(target, info, expected, new):
        _write_in_place(target, expected, new, backup)


def _writable(target: Path, info: os.stat_result) -> bool:
    """Whether this user may write the file: its permission, and a write bit even for root (as
    editors ask before overwriting a read-only file)."""
    return os.access(target, os.W_OK) and bool(info.st_mode & 0o222)


def _replace(target: Path, info: os.stat_result, expected: bytes, new: bytes) -> bool:
    """Write a temporary file and rename it over ``target``; ``False`` (nothing done) when the new file
    could not be given the owner and group of the old one."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".initlint-tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            created = os.fstat(stream.fileno())
            if (created.st_uid, created.st_gid) != (info.st_uid, info.st_gid) and hasattr(os, "fchown"):
                try:
                    os.fchown(stream.fileno(), info.st_uid, info.st_gid)
                except PermissionError:
                    os.unlink(temporary)
                    return False
            os.chmod(temporary, stat_module.S_IMODE(info.st_mode))
            stream.write(new)
            stream.flush()
            os.fsync(stream.fileno())
        if target.read_bytes() != expected:
            raise FileChanged(target)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)
    return True


def _write_in_place(target: Path, expected: bytes, new: bytes, backup: Path) -> None:
    """Overwrite ``target`` through its own inode, its original kept in ``backup`` until the new bytes
    are on disk."""
    with open(target, "r+b") as stream:
        if stream.read() != expected:
            raise FileChanged(target)
        descriptor = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as saved:
                saved.write(expected)
                saved.flush()
                os.fsync(saved.fileno())
            _sync_folder(target.parent)
            stream.seek(0)
            stream.write(new)
            stream.truncate()
            stream.flush()
            os.fsync(stream.fileno())
        except Exception:
            stream.seek(0)  # an error (disk full) rather than a kill: put the original back at once
            stream.write(expected)
            stream.truncate()
            stream.flush()
            os.fsync(stream.fileno())
            backup.unlink(missing_ok=True)
            raise
    backup.unlink()
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename or a new file) to disk, where the platform allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # not every file system (or platform) syncs folders
    finally:
        os.close(descriptor)

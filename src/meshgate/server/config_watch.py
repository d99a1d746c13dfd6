"""What the config reloader watches: exactly the files a load reads, compared by content.

The list of files comes from the loader's own `files_to_load`, so a log, an editor swap file, `.git/` or a
non-config file never counts, and no directory the loader skips is ever listed. A poll lists the
directories a load reads and stats the config files; it re-reads a file only when its stat key changed
(device, inode, size, mtime, ctime — following symlinks, so a ConfigMap `..data` swap shows as a new
inode), and reports a change only when the bytes differ from what the last load read (a `touch` or a
rewrite with the same bytes is not a change) or the list of files differs (a file added, removed, renamed).

A named path that is not a regular file (`-c <(kubectl get ...)`, a pipe) is never re-read: reading it
again would consume it, and an empty read is not a new configuration; SIGHUP still reloads it.

A stat key is trusted only when the file's times are older than `RACY_WINDOW_NS` at the moment it was
taken: file times are coarse (one kernel tick, a second on some file systems), so two writes of the same
size within one tick look identical by stat alone; such a file is re-read at each poll until it settles.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import dataclass

from meshgate.config.load import FileRead, Selected, digest, files_to_load, read_selected

RACY_WINDOW_NS = 2_000_000_000  # coarser than any file system's timestamp granularity we expect
NOT_REGULAR = "not a regular file: not re-read"

StatKey = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Seen:
    """One file as last compared: its content digest and the stat key that lets a poll skip re-reading."""

    path: str
    digest: str
    key: StatKey | None  # None: missing, or too recent to trust — re-read at the next poll


def stat_key(selected: Selected) -> StatKey | None:
    st = selected.stat
    if st is None or selected.stat_ns - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_WINDOW_NS:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _regular(selected: Selected) -> bool:
    return selected.stat is None or stat.S_ISREG(selected.stat.st_mode)


def content(selected: Selected) -> str:
    """The digest a load would record for this file now (a pipe is not read: see the module docstring)."""
    return digest(read_selected(selected)) if _regular(selected) else NOT_REGULAR


def seen_by_load(read: Sequence[FileRead]) -> tuple[Seen, ...]:
    """What a load read, as the watcher compares it (the digests of the very bytes that were loaded)."""
    return tuple(
        Seen(r.selected.path, r.digest if _regular(r.selected) else NOT_REGULAR, stat_key(r.selected))
        for r in read
    )


def scan(paths: Sequence[str]) -> tuple[Seen, ...]:
    """Digest every file a load of `paths` would read now (when no load's record is at hand)."""
    return tuple(Seen(s.path, content(s), stat_key(s)) for s in files_to_load(paths))


class ConfigWatch:
    """Compares what a load of `paths` would read now with what the last load read."""

    def __init__(self, paths: Sequence[str], loaded: tuple[Seen, ...]) -> None:
        self.paths = tuple(paths)
        self.loaded = loaded
        self.polls = 0  # completed `changed()` calls
        self.rereads = 0  # files re-read because their stat key changed or was not trusted

    def adopt(self, loaded: tuple[Seen, ...]) -> None:
        """A load happened: from now on compare with what it read."""
        self.loaded = loaded

    def changed(self) -> bool:
        """One poll: True when a load now would read other files or other bytes than the last one did."""
        try:
            return self._changed()
        finally:
            self.polls += 1

    def _changed(self) -> bool:
        selected = files_to_load(self.paths)
        if [s.path for s in selected] != [seen.path for seen in self.loaded]:
            return True
        updated: list[Seen] = []
        for now, before in zip(selected, self.loaded, strict=True):
            key = stat_key(now)
            if key is not None and key == before.key:
                updated.append(before)
                continue
            if now.stat is not None and _regular(now):
                self.rereads += 1
            digest_now = content(now)
            if digest_now != before.digest:
                return True
            updated.append(Seen(now.path, digest_now, key))  # same bytes (a touch): remember the new key
        self.loaded = tuple(updated)
        return False
